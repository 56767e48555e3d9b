"""Notification channels: log, e-mail, gateway adapters, delivery states, the caller's inbox."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wangge.core import crypto
from wangge.core.claim import claim_rows
from wangge.events import notify
from wangge.events.models import Notification

pytestmark = pytest.mark.django_db


class BrokenChannel(notify.Channel):
    """A channel whose gateway is down (its error text carries a phone number, which must be scrubbed)."""

    name = "broken"

    def send(self, notification):
        raise RuntimeError("gateway refused 13812345678")


T0 = datetime(2025, 3, 10, 1, 0, tzinfo=UTC)


class FlakyChannel(notify.Channel):
    """Fails `failures` times (ChannelError, then any exception), then delivers; records each delivery."""

    name = "flaky"
    failures = 2
    calls: list[int] = []
    delivered: list[int] = []

    def send(self, notification):
        FlakyChannel.calls.append(notification.pk)
        if FlakyChannel.calls.count(notification.pk) <= FlakyChannel.failures:
            if len(FlakyChannel.calls) % 2:
                raise notify.ChannelError("网关超时 gw-1")
            raise ConnectionResetError("reset by 10.0.0.1 for 13812345678")
        FlakyChannel.delivered.append(notification.pk)


@pytest.fixture
def flaky(settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.tests.test_notify.FlakyChannel"]
    settings.WANGGE_NOTIFY_RETRY_BASE_SECONDS = 60
    settings.WANGGE_NOTIFY_MAX_ATTEMPTS = 6
    FlakyChannel.failures = 2
    FlakyChannel.calls = []
    FlakyChannel.delivered = []
    return FlakyChannel


def queue(users, key="k1", **kw):
    return notify.notification_queue(
        kind="remind", key=key, subject="【催办】事件ABC", recipients=users, **kw
    )


def test_queue_is_idempotent_per_recipient_and_channel(world):
    users = [world.users.grid1, world.users.grid2]
    assert queue(users) == 2
    assert queue(users) == 0
    assert queue(users, key="k2") == 2
    assert Notification.objects.count() == 4
    assert set(Notification.objects.values_list("channel", flat=True)) == {"log"}


def test_log_channel_masks_the_recipient(world, caplog):
    world.users.grid1.display_name = "张三丰"
    world.users.grid1.save()
    queue([world.users.grid1], body="正文不进日志")
    with caplog.at_level(logging.INFO, logger="wangge.notify"):
        result = notify.notifications_send_pending()
    assert (result.sent, result.failed) == (1, 0)
    text = caplog.text
    assert (
        "张*丰" in text and "张三丰" not in text and "【催办】事件ABC" in text and "正文不进日志" not in text
    )
    n = Notification.objects.get()
    assert n.state == "sent" and n.sent_at is not None
    # Sent rows are not sent again.
    assert notify.notifications_send_pending().sent == 0


def test_email_channel(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.EmailChannel"]
    world.users.grid1.email = "grid1@example.org"
    world.users.grid1.save()
    assert queue([world.users.grid1, world.users.grid2]) == 1  # grid2 has no e-mail address
    assert notify.notifications_send_pending().sent == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["grid1@example.org"]
    assert mail.outbox[0].subject == "【催办】事件ABC"


def test_failing_and_unknown_channels_are_kept_for_a_retry(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = [
        "wangge.events.tests.test_notify.BrokenChannel",
        "wangge.events.notify.LogChannel",
    ]
    queue([world.users.grid1])
    Notification.objects.create(kind="x", channel="pigeon", recipient=world.users.grid1, subject="s")
    result = notify.notifications_send_pending(now=T0)
    assert (result.sent, result.failed, result.dead) == (1, 2, 0)
    broken = Notification.objects.get(channel="broken")
    assert broken.state == "queued" and broken.attempts == 1 and broken.last_attempt_at == T0
    assert broken.next_attempt_at == T0 + timedelta(seconds=60)
    assert "13812345678" not in broken.error and "gateway refused" in broken.error
    assert "未配置" in Notification.objects.get(channel="pigeon").error
    assert Notification.objects.get(channel="log").attempts == 1


def test_gateway_adapters(world, settings, monkeypatch):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.SmsChannel", "wangge.events.notify.WeComChannel"]
    settings.WANGGE_SMS_URL = "http://sms.gateway.invalid/send"
    settings.WANGGE_WECOM_URL = "http://wecom.gateway.invalid/send"
    settings.WANGGE_WECOM_TOKEN = "t0ken"
    posted = []

    class Resp:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(request, timeout):
        posted.append((request.full_url, json.loads(request.data), request.headers.get("Authorization")))
        return Resp()

    monkeypatch.setattr(notify.urllib.request, "urlopen", fake_urlopen)
    # A user goes by WeCom only (no phone on accounts); a bare address goes by SMS only.
    assert queue([world.users.grid1], addresses=["13900001111"]) == 2
    n = Notification.objects.get(channel="sms")
    assert n.recipient is None and crypto.decrypt(n.address_enc) == "13900001111"
    assert notify.notifications_send_pending().sent == 2
    by_url = {url: (payload, auth) for url, payload, auth in posted}
    assert by_url["http://sms.gateway.invalid/send"][0] == {"to": "13900001111", "text": "【催办】事件ABC"}
    wecom, auth = by_url["http://wecom.gateway.invalid/send"]
    assert wecom["touser"] == "grid1" and auth == "Bearer t0ken"


def test_adapter_without_url_fails_cleanly(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.WeComChannel"]
    settings.WANGGE_WECOM_URL = ""
    queue([world.users.grid1])
    assert notify.notifications_send_pending().failed == 1
    assert "WANGGE_WECOM_URL" in Notification.objects.get().error


def test_delivery_after_commit(world, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        queue([world.users.grid1])
        notify.notifications_send_on_commit()
        assert Notification.objects.get().state == "queued"
    assert Notification.objects.get().state == "sent"


def test_one_delivery_task_per_transaction(world, django_capture_on_commit_callbacks):
    """A batch that queues notifications for many events hands one task to the worker, not one each."""
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            for _ in range(3):
                queue([world.users.grid1])
                notify.notifications_send_on_commit()
            try:
                with transaction.atomic():  # a rolled-back savepoint drops its callback…
                    notify.notifications_send_on_commit()
                    raise RuntimeError
            except RuntimeError:
                pass
    assert [c.__name__ for c in callbacks] == ["_enqueue_delivery"]


def test_a_rolled_back_savepoint_does_not_swallow_the_delivery_task(
    world, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    notify.notifications_send_on_commit()
                    raise RuntimeError
            except RuntimeError:
                pass
            notify.notifications_send_on_commit()  # …so the next call registers again
    assert [c.__name__ for c in callbacks] == ["_enqueue_delivery"]


def test_recipients(world):
    assert list(notify.staff_at(path=world.g111.code, level="community")) == [world.users.community1]
    assert list(notify.staff_at(path=world.g111.code, level="street")) == [world.users.street1]
    assert list(notify.staff_at(path=world.g211.code, level="street")) == [world.users.street2]
    assert list(notify.staff_at(path="", level="district")) == [world.users.admin]
    assert notify.level_above("grid") == "community" and notify.level_above("district") == "district"


def test_notifications_api_lists_own_only(world, api_for):
    queue([world.users.grid1, world.users.grid2])
    resp = api_for(world.users.grid1).get("/api/v1/notifications/")
    assert resp.status_code == 200
    rows = resp.json()["results"]
    assert len(rows) == 1 and rows[0]["subject"] == "【催办】事件ABC" and rows[0]["state"] == "queued"
    assert api_for(world.users.grid1).get("/api/v1/notifications/?state=sent").json()["results"] == []
    assert api_for(world.users.admin).get("/api/v1/notifications/").json()["results"] == []
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/notifications/").status_code in (401, 403)


# --- at-least-once delivery: retries with backoff, dead rows, claims --------------------------------------


def test_a_channel_failing_twice_then_working_delivers_once(world, flaky):
    queue([world.users.grid1])
    n = Notification.objects.get()
    r1 = notify.notifications_send_pending(now=T0)
    assert (r1.sent, r1.failed) == (0, 1)
    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at) == ("queued", 1, T0 + timedelta(seconds=60))
    assert n.error == "网关超时 gw-1"
    t1 = T0 + timedelta(seconds=60)
    assert notify.notifications_send_pending(now=t1).failed == 1
    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at) == ("queued", 2, t1 + timedelta(seconds=120))
    # Any exception counts; its text is stored without phone numbers or long digit runs.
    assert "ConnectionResetError" not in n.error and "13812345678" not in n.error and "reset by" in n.error
    t2 = t1 + timedelta(seconds=120)
    assert notify.notifications_send_pending(now=t2).sent == 1
    n.refresh_from_db()
    assert (n.state, n.attempts, n.sent_at, n.next_attempt_at) == ("sent", 3, t2, None)
    assert flaky.delivered == [n.pk] and len(flaky.calls) == 3
    # Sent is final: later passes send nothing again.
    assert notify.notifications_send_pending(now=t2 + timedelta(days=1)).sent == 0
    assert flaky.delivered == [n.pk]


def test_backoff_doubles_from_the_base_setting(settings):
    settings.WANGGE_NOTIFY_RETRY_BASE_SECONDS = 60
    assert [notify.retry_delay(a).total_seconds() for a in range(1, 6)] == [60, 120, 240, 480, 960]
    settings.WANGGE_NOTIFY_RETRY_BASE_SECONDS = 10
    assert notify.retry_delay(3) == timedelta(seconds=40)
    assert notify.retry_delay(40) == timedelta(days=1)  # capped


def test_dead_after_the_last_attempt_and_listed_with_its_error(world, flaky, settings, api_for, client):
    settings.WANGGE_NOTIFY_MAX_ATTEMPTS = 4
    flaky.failures = 99
    queue([world.users.grid1])
    n = Notification.objects.get()
    at, waits = T0, []
    for attempt in range(1, 5):
        result = notify.notifications_send_pending(now=at)
        assert result.failed == 1 and result.dead == (1 if attempt == 4 else 0)
        n.refresh_from_db()
        assert n.attempts == attempt
        if attempt < 4:
            assert n.state == "queued"
            waits.append((n.next_attempt_at - at).total_seconds())
            at = n.next_attempt_at
    assert waits == [60, 120, 240]
    assert (n.state, n.next_attempt_at, n.sent_at) == ("failed", None, None) and n.error
    # Dead rows are not tried again.
    assert notify.notifications_send_pending(now=at + timedelta(days=30)).failed == 0
    assert len(flaky.calls) == 4
    rows = api_for(world.users.grid1).get("/api/v1/notifications/?state=failed").json()["results"]
    assert len(rows) == 1 and rows[0]["attempts"] == 4 and rows[0]["error"] == n.error
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-123456789")
    client.force_login(boss)
    page = client.get("/admin/events/notification/?state__exact=failed")
    assert page.status_code == 200 and n.error in page.content.decode()
    assert client.get(f"/admin/events/notification/{n.pk}/change/").status_code == 200


def test_a_retry_that_is_not_due_is_not_sent(world, flaky):
    queue([world.users.grid1])
    notify.notifications_send_pending(now=T0)
    result = notify.notifications_send_pending(now=T0 + timedelta(seconds=59))
    assert (result.sent, result.failed) == (0, 0) and len(flaky.calls) == 1
    assert Notification.objects.get().attempts == 1
    # A new notification meanwhile goes out at once.
    flaky.failures = 0
    queue([world.users.grid2], key="k2")
    assert notify.notifications_send_pending(now=T0 + timedelta(seconds=59)).sent == 1


def test_a_claimed_row_is_not_sent_by_another_worker(world, flaky):
    flaky.failures = 0
    queue([world.users.grid1])
    n = Notification.objects.get()
    assert notify.notifications_claim(now=T0, limit=10) == [n.pk]  # worker A holds it …
    assert notify.notifications_claim(now=T0, limit=10) == []
    assert notify.notifications_send_pending(now=T0).sent == 0  # … so worker B sends nothing
    assert flaky.calls == []
    n.refresh_from_db()
    assert (n.state, n.attempts) == ("sending", 1)
    # Worker A died mid-send: once its claim runs out the row is taken up again (at least once).
    later = n.next_attempt_at
    assert notify.notifications_send_pending(now=later - timedelta(seconds=1)).sent == 0
    assert notify.notifications_send_pending(now=later).sent == 1
    n.refresh_from_db()
    assert (n.state, n.attempts) == ("sent", 2) and flaky.delivered == [n.pk]


def test_a_row_abandoned_on_its_last_attempt_is_dead(world, flaky, settings):
    settings.WANGGE_NOTIFY_MAX_ATTEMPTS = 1  # no retries
    queue([world.users.grid1])
    [pk] = notify.notifications_claim(now=T0, limit=10)
    expired = Notification.objects.get(pk=pk).next_attempt_at
    result = notify.notifications_send_pending(now=expired)
    n = Notification.objects.get(pk=pk)
    assert (result.sent, result.dead, n.state, n.attempts) == (0, 1, "failed", 1) and "中断" in n.error
    assert flaky.calls == []


def test_a_worker_running_during_a_send_never_sends_the_same_row(world, settings):
    """Worker B runs while worker A is inside a channel's send: every row goes out exactly once."""
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.tests.test_notify.ReentrantChannel"]
    ReentrantChannel.sent = []
    queue([world.users.grid1, world.users.grid2, world.users.community1])
    result = notify.notifications_send_pending()
    assert sorted(ReentrantChannel.sent) == sorted(Notification.objects.values_list("pk", flat=True))
    assert len(ReentrantChannel.sent) == 3 and result.sent + ReentrantChannel.nested_sent == 3
    assert set(Notification.objects.values_list("state", "attempts")) == {("sent", 1)}


class ReentrantChannel(notify.Channel):
    name = "reentrant"
    sent: list[int] = []
    nested_sent = 0

    def send(self, notification):
        ReentrantChannel.sent.append(notification.pk)
        if len(ReentrantChannel.sent) == 1:
            ReentrantChannel.nested_sent = notify.notifications_send_pending().sent


def test_claim_rows_skips_a_row_another_worker_took_in_between(world):
    """The portable path (SQLite): candidates are read, then each is taken by a conditional UPDATE; a row
    claimed by another worker after the read is left out."""
    queue([world.users.grid1, world.users.grid2])
    first, second = Notification.objects.order_by("id").values_list("pk", flat=True)
    qs = Notification.objects.filter(state="queued").order_by("id")
    raced = []

    def other_worker(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE") and not raced:
            raced.append(True)
            Notification.objects.filter(pk=second).update(state="sending")
        return execute(sql, params, many, context)

    if connection.features.has_select_for_update_skip_locked:
        pytest.skip("PostgreSQL takes the SKIP LOCKED path")
    with connection.execute_wrapper(other_worker):
        got = claim_rows(qs, limit=10, values={"state": "sending", "attempts": 1})
    assert got == [first] and raced
    assert Notification.objects.get(pk=first).attempts == 1
    assert Notification.objects.get(pk=second).attempts == 0


def test_claim_rows_uses_skip_locked_where_the_database_can(world, monkeypatch):
    queue([world.users.grid1, world.users.grid2])
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", True)
    qs = Notification.objects.filter(state="queued").order_by("id")
    with CaptureQueriesContext(connection) as ctx:
        got = claim_rows(qs, limit=1, values={"state": "sending"})
    assert len(got) == 1 and Notification.objects.get(pk=got[0]).state == "sending"
    if connection.vendor == "postgresql":
        assert any("SKIP LOCKED" in q["sql"] for q in ctx.captured_queries)
    # One UPDATE for the batch (no per-row compare-and-set needed under the row locks).
    assert sum(q["sql"].startswith("UPDATE") for q in ctx.captured_queries) == 1
    assert claim_rows(qs, limit=5, values={"state": "sending"}) != got
    assert claim_rows(qs, limit=5, values={"state": "sending"}) == []


def test_queue_many_counts_each_message_and_dedupes_across_them(world):
    """Many messages in one call (a batch of SOS starts): one lookup, one insert, the same dedupe."""
    grid1, grid2 = world.users.grid1, world.users.grid2
    assert queue([grid1], key="m1") == 1
    msg = notify.Message
    counts = notify.notification_queue_many(
        messages=[
            msg(kind="sos", key="m1", subject="A", recipients=[grid1, grid2]),  # grid1 queued before
            msg(kind="sos", key="m2", subject="B", recipients=[grid2]),
            msg(kind="sos", key="m2", subject="B again", recipients=[grid2]),  # same row twice: once
            msg(kind="sos", key="m3", subject="C"),  # nobody to tell
        ]
    )
    assert counts == [1, 1, 0, 0]
    assert Notification.objects.count() == 3
    assert notify.notification_queue_many(messages=[]) == []


def test_dead_rows_can_be_requeued_by_a_district_admin_and_then_delivered(world, flaky, settings, client):
    """After the gateway is fixed: dead rows get fresh attempts (sent or queued rows are left alone),
    only district admins may do it, it is audited, and the admin list has the action."""
    from wangge.audit.models import AuditEntry
    from wangge.core.errors import Forbidden

    settings.WANGGE_NOTIFY_MAX_ATTEMPTS = 1
    flaky.failures = 1
    queue([world.users.grid1, world.users.grid2])
    dead_ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    assert notify.notifications_send_pending(now=T0).dead == 2
    queue([world.users.grid1], key="k-other")  # still queued: not touched
    other = Notification.objects.get(dedupe_key__startswith="k-other")

    with pytest.raises(Forbidden):
        notify.notifications_requeue(actor=world.users.community1, ids=dead_ids)
    assert notify.notifications_requeue(actor=world.users.admin, ids=[dead_ids[0], other.pk]) == 1
    first = Notification.objects.get(pk=dead_ids[0])
    assert (first.state, first.attempts, first.next_attempt_at) == ("queued", 0, None)
    assert Notification.objects.get(pk=dead_ids[1]).state == "failed"
    entry = AuditEntry.objects.get(action="notification.requeue")
    assert entry.after == {"ids": [dead_ids[0]], "count": 1} and entry.actor == world.users.admin
    assert notify.notifications_requeue(actor=world.users.admin, ids=[dead_ids[0]]) == 0  # not dead now
    flaky.failures = 0  # the gateway works again
    result = notify.notifications_send_pending(now=T0 + timedelta(seconds=1))
    assert result.sent == 2 and Notification.objects.get(pk=dead_ids[0]).state == "sent"

    # The admin action, for the other dead row.
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-123456789")
    client.force_login(boss)
    r = client.post(
        "/admin/events/notification/",
        {"action": "resend", "_selected_action": [dead_ids[1], first.pk]},
        follow=True,
    )
    assert r.status_code == 200 and "已重新排队 1 条通知" in r.content.decode()
    assert Notification.objects.get(pk=dead_ids[1]).state == "queued"
