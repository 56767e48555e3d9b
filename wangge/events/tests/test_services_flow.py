"""Triage, rating (incl. merged duplicates), return visits, the reopen window, selectors, and the race of
two handlers (threads on PostgreSQL, the version argument everywhere)."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.core.errors import Conflict, InvalidInput, NotFound
from wangge.events import selectors, services
from wangge.events.common.reporter import reporter_token
from wangge.events.intake import batch
from wangge.events.models import Attachment, Event, ReturnVisit, StageDeadline, TimelineEntry
from wangge.events.services import (
    EventInput,
    event_accept,
    event_create,
    event_dispatch,
    event_feedback,
    event_intake,
    event_move,
    event_rate,
    event_reject,
    event_reopen,
    event_transition,
    event_verify,
)
from wangge.events.tests.core_helpers import G112, photo, report, staff
from wangge.territory.models import Building, Compound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def closed_event(world: Any, **kw: Any) -> Event:
    e = report(**kw)
    e = event_accept(event_id=e.pk, actor=world.users.grid1)
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")
    return event_verify(event_id=e.pk, actor=world.users.community1, passed=True, note="核实")


# --- triage -------------------------------------------------------------------------------------------


def test_triage_locates_by_address_and_queues_what_it_cannot_place(world: Any) -> None:
    compound = Compound.objects.create(
        code="C1", name="六合小区", community=world.c11, grid=world.g112, path=world.g112.code
    )
    Building.objects.create(
        code="B1",
        name="3栋",
        compound=compound,
        grid=world.g112,
        path=world.g112.code,
        address="六合路8号3栋",
    )
    e, _ = event_intake(data=EventInput(description="楼道堆放杂物堵住了", address="六合路8号3栋"))
    assert e.grid == world.g112 and e.building.code == "B1" and e.category.code == "0102"
    assert not e.needs_triage and e.triaged_at is not None
    data = TimelineEntry.objects.get(event=e, action="triage").data
    assert data["located_by"] == "address" and data["grid"] == world.g112.code
    # text that fits no category: suggestion empty, kept for a person
    vague, _ = event_intake(data=EventInput(description="你们来看看吧", lat=G112[0], lng=G112[1]))
    assert vague.category is None and vague.needs_triage
    queue = list(selectors.triage_queue(user=world.users.grid2))
    assert [q.pk for q in queue] == [vague.pk]
    assert list(selectors.triage_queue(user=world.users.grid1)) == []
    # a person decides: accepting needs a category
    with pytest.raises(InvalidInput):
        event_accept(event_id=vague.pk, actor=world.users.grid2)
    done = event_accept(event_id=vague.pk, actor=world.users.grid2, category_code="0101")
    assert done.category.code == "0101" and not done.needs_triage


def test_triage_raises_urgency_and_recomputes_the_running_clock(world: Any) -> None:
    e = report(text="三楼着火了，有浓烟")
    assert e.urgency == "critical"
    clock = StageDeadline.objects.get(event=e, finished_at__isnull=True)
    # critical: 10 calendar minutes to accept (seeded limit), on the row and in the history
    assert e.deadline - e.stage_started_at == timedelta(minutes=10)
    assert clock.deadline == e.deadline
    # urgency is never lowered by triage
    calm = report(text="路灯不亮", urgency="urgent")
    assert calm.urgency == "urgent"


def test_a_failing_triage_never_loses_the_report(world: Any, monkeypatch: Any) -> None:
    def boom(*a: Any, **kw: Any) -> Event:
        raise RuntimeError("locator down")

    # The in-memory triage fails, and so does the retry after the report is stored: the report stays.
    monkeypatch.setattr(batch, "_triage", boom)
    monkeypatch.setattr(batch, "event_triage", boom)  # the retry after the report is stored
    e, created = event_intake(data=EventInput(description="垃圾满了", lat=G112[0], lng=G112[1]))
    assert created and e.pk and e.needs_triage and e.status.code == "pending" and e.path == ""
    assert [t.action for t in e.timeline.all()] == ["report"]
    monkeypatch.undo()
    again = services.event_triage(event_id=e.pk)  # a retry places it
    assert again.path == world.g112.code


# --- closing, rating, return visits, reopen ---------------------------------------------------------


def test_reject_reason_is_public(world: Any) -> None:
    e = report()
    with pytest.raises(InvalidInput):
        event_reject(event_id=e.pk, actor=world.users.grid1, reason="")
    e = event_reject(event_id=e.pk, actor=world.users.grid1, reason="不属于本平台受理范围，请拨打13812345678")
    pub = selectors.event_public(tracking_code=e.tracking_code)
    assert pub["status"]["code"] == "rejected" and "不属于" in pub["reject_reason"]
    assert "13812345678" not in str(pub) and "138****5678" in pub["reject_reason"]


def test_rating_satisfied_and_reopen_window(world: Any, settings: Any) -> None:
    staff(world)
    e = closed_event(world)
    closed_at = e.closed_at
    rated = event_rate(
        tracking_code=e.tracking_code.lower(), reporter_token=reporter_token(e), rating="satisfied"
    )
    assert rated.status.code == "rated" and rated.rating == "satisfied" and rated.closed_at == closed_at
    assert not ReturnVisit.objects.exists()
    with pytest.raises(InvalidInput):
        event_reopen(event_id=e.pk, actor=world.users.community1, reason="")
    Event.objects.filter(pk=e.pk).update(closed_at=timezone.now() - timedelta(days=8))
    with pytest.raises(Conflict) as exc:
        event_reopen(event_id=e.pk, actor=world.users.community1, reason="居民再次反映")
    assert exc.value.code == "reopen_window_passed"
    settings.WANGGE_REOPEN_DAYS = 10
    e = event_reopen(event_id=e.pk, actor=world.users.community1, reason="居民再次反映")
    assert e.status.code == "handling" and e.closed_at is None and e.handler_user == world.users.grid1
    # a resident account cannot reopen (and does not even see it)
    with pytest.raises(NotFound):
        event_reopen(event_id=e.pk, actor=world.users.resident1, reason="x")


def test_unsatisfied_creates_a_return_visit_for_the_community(world: Any) -> None:
    staff(world)
    e = closed_event(world)
    event_rate(
        tracking_code=e.tracking_code,
        reporter_token=reporter_token(e),
        rating="unsatisfied",
        comment="没解决",
    )
    visit = ReturnVisit.objects.get(event=e)
    assert (
        visit.assigned_to == world.users.community1
        and visit.due > timezone.now()
        and "没解决" in visit.reason
    )
    with pytest.raises(Conflict):
        event_rate(tracking_code=e.tracking_code, reporter_token=reporter_token(e), rating="satisfied")
    done = services.return_visit_complete(visit_id=visit.pk, actor=world.users.community1, outcome="已解释")
    assert done.done_at and Event.objects.get(pk=e.pk).status.code == "rated"
    with pytest.raises(Conflict):
        services.return_visit_complete(visit_id=visit.pk, actor=world.users.community1, outcome="again")
    with pytest.raises(NotFound):
        services.return_visit_complete(visit_id=visit.pk, actor=world.users.community2, outcome="x")


def test_a_merged_duplicate_follows_its_master(world: Any) -> None:
    staff(world)
    master = report()
    dup = report(reporter_name="王五", reporter_phone="13700001111")
    Event.objects.filter(pk=dup.pk).update(master=master)  # (the merge service does this, with more)
    pub = selectors.event_public(tracking_code=dup.tracking_code)
    assert pub["merged"] and pub["status"]["code"] == "pending" and pub["tracking_code"] == dup.tracking_code
    with pytest.raises(Conflict):
        event_rate(tracking_code=dup.tracking_code, reporter_token=reporter_token(dup), rating="satisfied")
    closed_event_from(world, master)
    pub = selectors.event_public(tracking_code=dup.tracking_code)
    assert pub["status"]["code"] == "closed" and pub["can_rate"]
    assert [s["action"] for s in pub["timeline"]][-1] == "close"
    rated = event_rate(
        tracking_code=dup.tracking_code,
        reporter_token=reporter_token(dup),
        rating="unsatisfied",
        comment="还是脏",
    )
    assert rated.rating == "unsatisfied" and Event.objects.get(pk=master.pk).status.code == "closed"
    assert ReturnVisit.objects.get().event_id == master.pk
    # the master's own reporter can still rate
    assert (
        event_rate(
            tracking_code=master.tracking_code, reporter_token=reporter_token(master), rating="basically"
        ).status.code
        == "rated"
    )
    pub = selectors.event_public(tracking_code=dup.tracking_code)
    assert pub["rating"] == "unsatisfied" and not pub["can_rate"]


def closed_event_from(world: Any, e: Event) -> Event:
    e = event_accept(event_id=e.pk, actor=world.users.grid1)
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = event_move(event_id=e.pk, actor=world.users.grid1, target="handled", note="已清理")
    # 核查 by someone other than the handler (issue 18): the grid worker handled it, community staff verify.
    return event_move(event_id=e.pk, actor=world.users.community1, target="closed")


def test_intake_photos_and_audit_rows(world: Any) -> None:
    e = report()
    atts = services.event_photos_add(event_id=e.pk, actor=None, files=[photo()])
    assert len(atts) == 1 and atts[0].entry.action == "photos"
    e = event_accept(event_id=e.pk, actor=world.users.grid1)
    with pytest.raises(NotFound):  # once accepted, only those who may act add photos
        services.event_photos_add(event_id=e.pk, actor=None, files=[photo()])
    services.event_photos_add(event_id=e.pk, actor=world.users.grid1, files=[photo()])
    assert Attachment.objects.filter(event=e).count() == 2
    audit = list(
        AuditEntry.objects.filter(object_type="events.event", object_id=str(e.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert audit[:2] == ["event.create", "event.photos"] and "event.accept" in audit
    assert not any("13812345678" in str(a.after) for a in AuditEntry.objects.all())


def test_selectors_for_boards(world: Any) -> None:
    staff(world)
    a = report()
    b = report(text="路灯不亮", at=G112)
    Event.objects.filter(pk=a.pk).update(
        deadline=timezone.now() - timedelta(hours=1), warn_at=timezone.now() - timedelta(hours=2)
    )
    counts = {
        r["grid_code"]: (r["open"], r["overdue"])
        for r in selectors.open_counts_by_grid(user=world.users.community1)
    }
    assert counts == {world.g111.code: (1, 1), world.g112.code: (1, 0)}
    assert [e.pk for e in selectors.overdue_board(user=world.users.admin)] == [a.pk]
    assert list(selectors.overdue_board(user=world.users.grid2)) == []
    assert {e.pk for e in selectors.my_tasks(user=world.users.grid1)} == {a.pk}  # pending in my grid
    b = event_accept(event_id=b.pk, actor=world.users.grid2)
    event_dispatch(event_id=b.pk, actor=world.users.grid2, user_id=world.users.grid1.pk)
    assert {e.pk for e in selectors.my_tasks(user=world.users.grid1)} == {a.pk, b.pk}


# --- the race of two handlers -------------------------------------------------------------------------


def test_two_transitions_with_the_same_version_only_one_wins(world: Any) -> None:
    staff(world)
    e = report()
    v = e.version
    event_transition(event_id=e.pk, target="accepted", actor=world.users.grid1, expected_version=v)
    with pytest.raises(Conflict) as exc:
        event_transition(
            event_id=e.pk, target="rejected", actor=world.users.community1, note="重复", expected_version=v
        )
    assert exc.value.code == "version_conflict"
    assert TimelineEntry.objects.filter(event=e, action__in=["accept", "reject"]).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_race_of_two_handlers_in_threads_on_postgresql(world: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("thread race needs a server database (covered by the version test on SQLite)")
    staff(world)
    e = report()
    e = event_accept(event_id=e.pk, actor=world.users.grid1)
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    version = e.version
    barrier = threading.Barrier(2)
    results: list[str] = []

    def handler(user: Any, note: str) -> None:
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            event_move(event_id=e.pk, actor=user, target="suspended", note=note, expected_version=version)
            results.append("won")
        except Conflict as exc:
            results.append(exc.code)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=handler, args=(world.users.grid1, "等待物业")),
        threading.Thread(target=handler, args=(world.users.community1, "等待部门")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["version_conflict", "won"]
    e.refresh_from_db()
    assert e.status.code == "suspended" and e.version == version + 1
    assert TimelineEntry.objects.filter(event=e, action="suspend").count() == 1


def test_create_race_same_key_gives_one_event(world: Any) -> None:
    data = EventInput(description="垃圾满了", lat=G112[0], lng=G112[1])
    a, ca = event_create(data=data, idempotency_key="same")
    b, cb = event_create(data=data, idempotency_key="same")
    assert (ca, cb) == (True, False) and a.pk == b.pk and Event.objects.count() == 1


# --- verification by the reporter ----------------------------------------------------------------------


def handled_event(world: Any) -> Event:
    e = report()
    e = event_accept(event_id=e.pk, actor=world.users.grid1)
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    return event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")


def test_reporter_confirms_through_the_tracking_code(world: Any) -> None:
    staff(world)
    e = handled_event(world)
    assert selectors.event_public(tracking_code=e.tracking_code)["can_verify"]
    e = services.event_verify_by_reporter(
        tracking_code=e.tracking_code.lower(), reporter_token=reporter_token(e), passed=True
    )
    assert e.status.code == "closed" and e.closed_at is not None
    step = e.timeline.order_by("-id").first()
    assert (step.action, step.actor_id, step.data["by"], step.data["verified"]) == (
        "close",
        None,
        "reporter",
        True,
    )
    assert not selectors.event_public(tracking_code=e.tracking_code)["can_verify"]
    with pytest.raises(Conflict) as exc:  # only once, only after the handler's feedback
        services.event_verify_by_reporter(
            tracking_code=e.tracking_code, reporter_token=reporter_token(e), passed=True
        )
    assert exc.value.code == "illegal_transition"
    assert (
        event_rate(
            tracking_code=e.tracking_code, reporter_token=reporter_token(e), rating="satisfied"
        ).status.code
        == "rated"
    )


def test_reporter_says_not_solved_and_it_goes_back(world: Any) -> None:
    staff(world)
    e = handled_event(world)
    with pytest.raises(InvalidInput) as exc:
        services.event_verify_by_reporter(
            tracking_code=e.tracking_code, reporter_token=reporter_token(e), passed=False, note="  "
        )
    assert exc.value.code == "note_required"
    e.refresh_from_db()
    assert e.status.code == "handled"
    e = services.event_verify_by_reporter(
        tracking_code=e.tracking_code, reporter_token=reporter_token(e), passed=False, note="晚上还在烧烤"
    )
    assert e.status.code == "handling" and e.stage == "handle" and e.deadline is not None
    public = selectors.event_public(tracking_code=e.tracking_code)
    assert public["timeline"][-1]["action"] == "rework"
    with pytest.raises(NotFound):
        services.event_verify_by_reporter(tracking_code="NOPE000000", passed=True)
