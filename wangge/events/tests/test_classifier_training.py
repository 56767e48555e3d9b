"""Issue 18 C5: durable training progress, labels from people (corrections weigh more), live accuracy per
month, scheduled retraining from the shared sweep."""

import io
import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from wangge.accounts.services import user_create
from wangge.audit.models import AuditEntry
from wangge.clock.sweep import clock_sweep
from wangge.conftest import PASSWORD, assert_error
from wangge.core.roles import Role
from wangge.events.models import (
    Category,
    Channel,
    ClassifierSchedule,
    ClassifierTraining,
    ClassifierVersion,
    Event,
    Status,
    TimelineEntry,
)
from wangge.events.services import event_accept
from wangge.events.tests.core_helpers import report, staff
from wangge.events.tests.test_dedupe import make_event
from wangge.events.triage import classifier

TEXTS = {
    "0103": ["{p}烧烤店油烟很大，呛得开不了窗", "{p}餐馆排烟管对着住户，油烟熏人", "{p}饭店后厨排油烟太呛"],
    "0104": ["{p}有人跳广场舞，音响太吵", "{p}装修声音很大影响休息", "{p}喇叭叫卖噪音扰民"],
    "0702": ["{p}路灯不亮，一片漆黑", "{p}好几盏路灯坏了看不见", "{p}照明灯都不亮"],
}
PLACES = ["小区门口", "3栋楼下", "菜市场旁边", "学校对面", "幸福路口", "公园东门", "超市后面"]


@pytest.fixture(autouse=True)
def _fresh(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = str(tmp_path)
    classifier.classifier_reset()
    yield
    classifier.classifier_reset()


def history(per_class: int, *, seed: int = 1) -> int:
    """Closed cases of an older system (channel history: their category counts as confirmed)."""
    rng = random.Random(seed)
    closed = Status.objects.get(code="closed")
    cats = {c.code: c for c in Category.objects.filter(code__in=list(TEXTS))}
    rows = [
        Event(
            tracking_code=f"H{seed}{code}{i:04d}",
            title="",
            description=rng.choice(TEXTS[code]).format(p=rng.choice(PLACES)),
            channel=Channel.HISTORY,
            category=cats[code],
            status=closed,
        )
        for code in TEXTS
        for i in range(per_class)
    ]
    Event.objects.bulk_create(rows)
    return len(rows)


def run_worker(monkeypatch: Any) -> None:
    """The db_worker, in this process (it must not close the test's connection between tasks)."""
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)
    call_command("db_worker", "--batch", "--no-startup-delay", stdout=io.StringIO(), stderr=io.StringIO())


# --- labels -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_labels_are_categories_people_set_and_corrections_weigh_double(world):
    staff(world)
    corrected = report("楼下烧烤油烟很大，呛得受不了")
    assert corrected.suggested_category.code == "0103"
    event_accept(event_id=corrected.pk, actor=world.users.grid1, category_code="0104")
    confirmed = report("小区门口饭店油烟熏人，窗户都不敢开")
    event_accept(event_id=confirmed.pk, actor=world.users.grid1, category_code="0103")
    # The classifier's own category that nobody has looked at yet is not a label.
    unconfirmed = report("菜市场旁边烧烤摊油烟太呛")
    Event.objects.filter(pk=unconfirmed.pk).update(category=Category.objects.get(code="0103"))
    history(1)

    rows = {text: (code, weight) for text, code, weight in classifier.labelled_rows()}
    assert rows[classifier.event_text(corrected.title, corrected.description)] == ("0104", 2.0)
    assert rows[classifier.event_text(confirmed.title, confirmed.description)] == ("0103", 1.0)
    assert classifier.event_text(unconfirmed.title, unconfirmed.description) not in rows
    assert sorted(w for _, w in rows.values()) == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert classifier.label_count() == 5


@pytest.mark.django_db
def test_training_reads_corrections_with_their_weight(world):
    staff(world)
    history(8)
    fixed = report("楼下烧烤油烟很大，呛得受不了")
    event_accept(event_id=fixed.pk, actor=world.users.grid1, category_code="0104")
    version = classifier.classifier_train()
    assert version.report.corrections == 1 and version.report.labels == 25
    assert version.samples == 25


# --- durable progress -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_is_read_from_the_database_while_training_runs_elsewhere(world, api_for, monkeypatch):
    """The worker (another thread: another database connection) writes each step; the web side reads it
    while training is still going on, with an empty cache."""
    from django.core.cache import cache

    history(8)
    admin = api_for(world.users.admin)
    monkeypatch.setattr("wangge.core.tasks.task_enqueue", lambda *a, **kw: type("R", (), {"id": "t-1"})())
    training = classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)
    assert training.task_id == "t-1" and training.status == "queued"

    mid_fold, go_on = threading.Event(), threading.Event()
    real_fit = classifier.model_fit

    def slow_fit(*args: Any, **kwargs: Any) -> Any:
        mid_fold.set()
        assert go_on.wait(30)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(classifier, "model_fit", slow_fit)
    outcome: dict[str, Any] = {}

    def worker() -> None:
        from django.db import connection

        try:
            outcome["result"] = classifier.classifier_training_run(training_id=training.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert mid_fold.wait(30)
        cache.clear()
        body = admin.get("/api/v1/classifier/train/t-1/").json()
        assert body["status"] == "running" and body["status_label"] == "训练中"
        assert body["progress"] == {"step": "交叉验证", "done": 0, "total": 4}
        assert body["report"] is None and body["finished_at"] is None
    finally:
        go_on.set()
        thread.join(60)
    assert outcome["result"]["ok"]
    body = admin.get("/api/v1/classifier/train/t-1/").json()
    assert body["status"] == "done" and body["progress"] == {"step": "完成", "done": 4, "total": 4}
    assert body["version"] == ClassifierVersion.objects.get(active=True).pk
    assert body["report"]["samples"] == 24 and set(body["report"]["per_class_recall"]) == set(TEXTS)
    assert {"suggested_threshold", "target_precision", "curve", "cv_accuracy"} <= set(body["report"])


@pytest.mark.django_db
def test_worker_records_progress_and_report_through_the_queue(world, api_for, monkeypatch):
    history(6)
    admin = api_for(world.users.admin)
    resp = admin.post("/api/v1/classifier/train/", {"folds": 3}, format="json")
    assert resp.status_code == 202, resp.content
    task_id = resp.json()["task_id"]
    assert not task_id.startswith("local-")  # the queue's own id
    run_worker(monkeypatch)
    row = ClassifierTraining.objects.get(task_id=task_id)
    assert row.status == "done" and row.created_by == world.users.admin and row.finished_at
    assert row.version == ClassifierVersion.objects.get(active=True)
    assert row.report["cv_accuracy"] == row.version.cv_accuracy
    listed = admin.get("/api/v1/classifier/train/").json()
    assert [t["task_id"] for t in listed] == [task_id]


@pytest.mark.django_db
def test_failures_are_recorded_without_the_exception_text(world, api_for, monkeypatch):
    history(6)
    admin = api_for(world.users.admin)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("居民张三 13812345678 的投诉文本")

    monkeypatch.setattr(classifier, "model_fit", broken)
    task_id = admin.post("/api/v1/classifier/train/", {"folds": 3}, format="json").json()["task_id"]
    run_worker(monkeypatch)
    body = admin.get(f"/api/v1/classifier/train/{task_id}/").json()
    assert body["status"] == "failed" and body["error"]["code"] == "training_failed"
    assert "RuntimeError" in body["error"]["message"] and "13812345678" not in body["error"]["message"]
    assert AuditEntry.objects.filter(action="classifier.train_failed").count() == 1
    assert not ClassifierVersion.objects.exists()

    # A refusal at run time (the history went away after the request was checked): its Chinese reason.
    monkeypatch.undo()
    training = classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)
    Event.objects.all().delete()
    result = classifier.classifier_training_run(training_id=training.pk)
    training.refresh_from_db()
    assert not result["ok"] and training.status == "failed"
    assert training.error_code == "insufficient_training_data" and "太少" in training.error
    # Delivered twice: trains once.
    assert classifier.classifier_training_run(training_id=training.pk)["code"] == "already_started"


@pytest.mark.django_db
def test_stalled_training_is_recorded_as_interrupted(world):
    history(6)
    training = classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)
    ClassifierTraining.objects.filter(pk=training.pk).update(status="running", updated_at=timezone.now())
    assert classifier.classifier_trainings_expire() == 0
    later = timezone.now() + timedelta(hours=classifier.TRAINING_STALE_HOURS + 1)
    assert classifier.classifier_trainings_expire(now=later) == 1
    training.refresh_from_db()
    assert training.status == "failed" and training.error_code == "training_interrupted"


@pytest.mark.django_db
def test_training_records_are_for_district_admins_only(world, api_for):
    history(6)
    training = classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)
    url = f"/api/v1/classifier/train/{training.task_id}/"
    for user in (world.users.street1, world.users.community1, world.users.grid1):
        # Whether the id exists or not, the answer is the same refusal.
        assert_error(api_for(user).get(url), 403, "permission_denied")
        assert_error(api_for(user).get("/api/v1/classifier/train/nope/"), 403, "permission_denied")
        assert_error(api_for(user).get("/api/v1/classifier/train/"), 403, "permission_denied")
        assert_error(api_for(user).get("/api/v1/classifier/accuracy/"), 403, "permission_denied")
    assert_error(api_for(world.users.admin).get("/api/v1/classifier/train/nope/"), 404, "not_found")
    assert api_for(world.users.admin).get(url).status_code == 200


# --- live accuracy ----------------------------------------------------------------------------------


def _accepted(world: Any, grid: Any, col: int, category: str, suggested: str, at: Any) -> Event:
    e = make_event(
        world, "测试事件" + category + suggested, grid=grid, col=col, category=category, suggested=suggested
    )
    Event.objects.filter(pk=e.pk).update(created_at=at)
    TimelineEntry.objects.create(event=e, action="accept", actor=world.users.admin)
    return e


@pytest.mark.django_db
def test_live_accuracy_per_month_and_top_category_in_the_callers_territory(world, api_for):
    now = timezone.now()
    last_month = now - timedelta(days=35)
    _accepted(world, world.g111, 0, "0103", "0103", now)
    _accepted(world, world.g111, 0, "0104", "0103", now)  # corrected
    _accepted(world, world.g111, 0, "0702", "0702", now)
    _accepted(world, world.g111, 0, "0103", "0103", last_month)
    _accepted(world, world.g211, 3, "0103", "0104", now)  # street 2
    # Not counted: suggestion never confirmed by a person, and history imports.
    make_event(world, "未受理", grid=world.g111, category="0103", suggested="0104")
    history(2)

    body = api_for(world.users.admin).get("/api/v1/classifier/accuracy/").json()
    this = timezone.localtime(now).strftime("%Y-%m")
    prev = timezone.localtime(last_month).strftime("%Y-%m")
    by_month = {m["month"]: m for m in body}
    assert set(by_month) == {this, prev}
    assert (by_month[this]["total"], by_month[this]["agreed"], by_month[this]["accuracy"]) == (4, 2, 0.5)
    cats = {c["code"]: c for c in by_month[this]["categories"]}
    top_0103 = Category.objects.get(code="0103").parent
    top_0702 = Category.objects.get(code="0702").parent
    assert cats[top_0103.code]["name"] == top_0103.name
    assert (cats[top_0103.code]["total"], cats[top_0103.code]["agreed"]) == (3, 1)
    assert (cats[top_0702.code]["total"], cats[top_0702.code]["agreed"]) == (1, 1)
    assert by_month[prev]["accuracy"] == 1.0

    # A district admin bound to street 2 sees street 2's events only.
    other = user_create(
        username="admin2",
        password=PASSWORD,
        role=Role.DISTRICT_ADMIN,
        territory_id=world.s2.pk,
        display_name="admin2",
    )
    body = api_for(other).get("/api/v1/classifier/accuracy/").json()
    assert [(m["month"], m["total"], m["agreed"]) for m in body] == [(this, 1, 0)]
    assert_error(api_for(world.users.admin).get("/api/v1/classifier/accuracy/?months=0"), 400)


@pytest.mark.django_db
def test_admin_page_shows_trainings_and_live_accuracy(world, client):
    world.users.admin.is_staff = world.users.admin.is_superuser = True
    world.users.admin.save()
    history(6)
    training = classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)
    classifier.classifier_training_run(training_id=training.pk)
    _accepted(world, world.g111, 0, "0104", "0103", timezone.now())
    client.force_login(world.users.admin)
    page = client.get("/admin/events/classifierversion/").content.decode()
    assert "最近的训练" in page and "已完成" in page and "<progress" in page
    assert "分类建议的实际准确率" in page and "0%" in page
    detail = client.get(f"/admin/events/classifiertraining/{training.pk}/change/").content.decode()
    assert "召回率" in detail and "建议置信度阈值" in detail
    assert Category.objects.get(code="0104").name in detail


# --- scheduled retraining ---------------------------------------------------------------------------


def _schedule(**kw: Any) -> ClassifierSchedule:
    s = ClassifierSchedule.objects.get()
    for k, v in {"enabled": True, "every_days": 30, "min_new_labels": 10, "folds": 3, **kw}.items():
        setattr(s, k, v)
    s.save()
    return s


@pytest.mark.django_db
def test_schedule_is_seeded_off():
    s = ClassifierSchedule.objects.get()
    assert not s.enabled and s.every_days == 30 and s.min_new_labels == 100


@pytest.mark.django_db
def test_due_retraining_is_enqueued_once_by_the_sweep(world):
    history(6)
    _schedule()
    first = clock_sweep()
    assert first["classifier_trainings_enqueued"] == 1
    row = ClassifierTraining.objects.get()
    assert row.scheduled and row.status == "queued" and row.created_by is None
    assert row.params == {"min_samples_per_class": 5, "folds": 3, "target_precision": 0.97}
    assert clock_sweep()["classifier_trainings_enqueued"] == 0
    # Nor while it waits (still reporting) after the interval has passed.
    month_ago = timezone.now() - timedelta(days=31)
    ClassifierTraining.objects.update(created_at=month_ago)
    ClassifierSchedule.objects.update(last_enqueued_at=month_ago)
    assert clock_sweep()["classifier_trainings_enqueued"] == 0
    later = timezone.now() + timedelta(days=31)
    classifier.classifier_training_run(training_id=row.pk)
    assert clock_sweep(now=later)["classifier_trainings_enqueued"] == 0
    assert ClassifierTraining.objects.count() == 1
    # Enough new labels and the interval passed: one more.
    history(4, seed=2)
    assert clock_sweep(now=later)["classifier_trainings_enqueued"] == 1
    assert ClassifierTraining.objects.count() == 2


@pytest.mark.django_db
def test_not_due_enqueues_nothing(world):
    history(6)
    _schedule(enabled=False)
    assert clock_sweep()["classifier_trainings_enqueued"] == 0
    _schedule(min_new_labels=100)  # 18 labels only
    assert clock_sweep()["classifier_trainings_enqueued"] == 0
    _schedule()
    classifier.classifier_train_enqueue(actor=world.users.admin, folds=3)  # a manual training just now
    ClassifierTraining.objects.update(status="done")
    assert clock_sweep()["classifier_trainings_enqueued"] == 0
    assert ClassifierTraining.objects.filter(scheduled=True).count() == 0


@pytest.mark.django_db
def test_refused_scheduled_training_waits_for_the_next_interval(world):
    _schedule(min_new_labels=0)  # due, but there is nothing to learn from
    result = clock_sweep()
    assert result["classifier_trainings_enqueued"] == 0
    assert any("定期分类模型训练未开始" in n for n in result["notes"])
    assert "定期分类模型训练未开始" not in " ".join(clock_sweep().counts.get("notes", []))
