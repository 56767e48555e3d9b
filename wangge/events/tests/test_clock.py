"""The periodic sweep (warnings, 催办/督办, escalation) and extensions, at frozen instants (now=...)."""

import types
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.events.models import (
    Event,
    ExtensionRequest,
    HandlingUnit,
    Notification,
    StageDeadline,
    Status,
    TimelineEntry,
)
from wangge.events.workflow import clock

from .clock_helpers import at, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_escalation(settings):
    settings.WANGGE_AUTO_ESCALATE = []


def kinds(event, kind):
    return sorted(
        Notification.objects.filter(event=event, kind=kind).values_list("recipient__username", flat=True)
    )


def test_warning_rises_at_exact_instants(world, no_escalation):
    # Handle stage started Monday 2025-03-10 08:30; 5 workdays, warning at 80 %.
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    assert event.warn_at == at(2025, 3, 13, 17, 30) and event.deadline == at(2025, 3, 14, 17, 30)
    version = event.version

    r = clock.clock_sweep(now=event.warn_at - timedelta(seconds=1))
    assert (r.yellow, r.red) == (0, 0)
    assert Event.objects.get(pk=event.pk).warning == "none"

    r = clock.clock_sweep(now=event.warn_at)
    assert (r.yellow, r.red) == (1, 0)
    e = Event.objects.get(pk=event.pk)
    assert e.warning == "yellow" and e.version == version + 1
    assert kinds(event, "remind") == ["grid1"]
    assert kinds(event, "supervise") == []
    entry = TimelineEntry.objects.get(event=event, action="warning")
    assert entry.public is False and entry.data["to"] == "yellow" and entry.actor is None

    r = clock.clock_sweep(now=event.deadline - timedelta(seconds=1))
    assert (r.yellow, r.red) == (0, 0)

    r = clock.clock_sweep(now=event.deadline)
    assert (r.yellow, r.red) == (0, 1)
    e = Event.objects.get(pk=event.pk)
    assert e.warning == "red" and e.level == "grid"
    assert kinds(event, "remind") == ["grid1", "grid1"]  # one at yellow, one at red
    assert kinds(event, "supervise") == ["community1"]  # the level above the grid
    assert StageDeadline.objects.get(event=event, finished_at__isnull=True).overdue
    assert list(
        TimelineEntry.objects.filter(event=event, action="warning").values_list("data__to", flat=True)
    ) == ["yellow", "red"]
    # Delivered through the log channel after the sweep.
    assert set(Notification.objects.filter(event=event).values_list("state", flat=True)) == {"sent"}


def test_two_sweeps_send_one_notification_each(world, no_escalation):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    now = event.deadline + timedelta(hours=1)
    first = clock.clock_sweep(now=now)
    second = clock.clock_sweep(now=now)
    assert first.red == 1 and second.red == 0 and second.notifications_queued == 0
    assert Notification.objects.filter(event=event).count() == 2  # 催办 grid1 + 督办 community1
    # A rerun after a crash (the same warning queued again) sends nothing twice either.
    e = Event.objects.select_related("handler_user").get(pk=event.pk)
    assert clock._notify_warning(e, "red") == 0
    assert Notification.objects.filter(event=event).count() == 2


def test_sweep_jumps_straight_to_red_and_uses_unit_members(world, no_escalation):
    unit = HandlingUnit.objects.create(
        name="城管执法中队", kind="enforcement", territory=world.s1, path=world.s1.code
    )
    unit.members.add(world.users.dept1)
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_unit=unit, level="community")
    r = clock.clock_sweep(now=at(2025, 3, 20, 9))
    assert (r.yellow, r.red) == (0, 1)
    assert kinds(event, "remind") == ["dept1"]
    assert kinds(event, "supervise") == ["street1"]  # community level -> the street


def test_only_due_open_events_are_selected(world, no_escalation):
    due = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    not_yet = make_event(world, start=at(2025, 3, 12, 8, 30), handler_user=world.users.grid1)
    closed = make_event(world, start=at(2025, 3, 10, 8, 30), status="closed")
    Event.objects.filter(pk=closed.pk).update(stage="handle")  # even with a stale clock
    no_clock = make_event(world, start=at(2025, 3, 10, 8, 30))
    Event.objects.filter(pk=no_clock.pk).update(warn_at=None, deadline=None)
    now = at(2025, 3, 14, 9)
    selected = set(clock.due_events(now=now).values_list("pk", flat=True))
    assert due.pk in selected and not_yet.pk not in selected and no_clock.pk not in selected
    clock.clock_sweep(now=now)
    assert Event.objects.get(pk=due.pk).warning == "yellow"
    assert {Event.objects.get(pk=e.pk).warning for e in (not_yet, closed, no_clock)} == {"none"}


def test_due_query_uses_the_indexes(world):
    qs = clock.due_events(now=at(2025, 3, 14, 9))
    if connection.vendor == "postgresql":
        # A tiny table is scanned sequentially by choice; forbid that to see the indexes can serve it.
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")  # until the test's transaction ends
    plan = qs.explain().upper()
    assert "INDEX" in plan and "DEADLINE" in plan and "WARN_AT" in plan, plan


def test_red_escalates_one_level(world):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r = clock.clock_sweep(now=event.deadline)
    assert r.red == 1 and r.escalated == 1, r.errors
    e = Event.objects.select_related("status").get(pk=event.pk)
    assert e.level == "community" and e.status.code == "accepted" and e.handler_user_id is None
    actions = list(TimelineEntry.objects.filter(event=event).values_list("action", flat=True))
    assert actions[-2:] == ["warning", "escalate"]
    # The supervision notice still went out for the red limit.
    assert kinds(event, "supervise") == ["community1"]


def test_escalation_refused_at_the_top_keeps_the_warning(world):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), level="district")
    r = clock.clock_sweep(now=event.deadline)
    assert r.red == 1 and r.escalated == 0 and r.errors
    assert Event.objects.get(pk=event.pk).warning == "red"
    assert kinds(event, "supervise") == ["admin"]


def test_escalation_setting_limits_stages(world, settings):
    settings.WANGGE_AUTO_ESCALATE = ["verify"]
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r = clock.clock_sweep(now=event.deadline)
    assert r.red == 1 and r.escalated == 0
    assert Event.objects.get(pk=event.pk).level == "grid"
    settings.WANGGE_AUTO_ESCALATE = True
    assert clock.auto_escalate_stages() == {"handle"}
    settings.WANGGE_AUTO_ESCALATE = ["false"]  # from the environment: WANGGE_AUTO_ESCALATE=false
    assert clock.auto_escalate_stages() == set()
    settings.WANGGE_AUTO_ESCALATE = "handle,verify"
    assert clock.auto_escalate_stages() == {"handle", "verify"}


def test_failing_channel_never_breaks_the_sweep(world, settings, no_escalation):
    settings.WANGGE_NOTIFY_CHANNELS = [
        "wangge.events.tests.test_notify.BrokenChannel",
        "wangge.events.notify.LogChannel",
    ]
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r = clock.clock_sweep(now=event.warn_at)
    assert r.yellow == 1 and r.notifications_failed == 1 and r.notifications_sent == 1
    failed = Notification.objects.get(event=event, channel="broken")
    assert failed.state == "queued" and failed.attempts == 1  # kept for a retry
    assert "*******" in failed.error and "13812345678" not in failed.error


def test_the_sweep_sends_retries_when_they_are_due(world, settings, no_escalation):
    from .test_notify import FlakyChannel

    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.tests.test_notify.FlakyChannel"]
    settings.WANGGE_NOTIFY_RETRY_BASE_SECONDS = 60
    FlakyChannel.failures, FlakyChannel.calls, FlakyChannel.delivered = 1, [], []
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r = clock.clock_sweep(now=event.warn_at)
    assert (r.notifications_queued, r.notifications_sent, r.notifications_failed) == (1, 0, 1)
    r = clock.clock_sweep(now=event.warn_at + timedelta(seconds=30))
    assert (r.notifications_sent, r.notifications_failed) == (0, 0)  # not due yet
    r = clock.clock_sweep(now=event.warn_at + timedelta(seconds=60))
    assert (r.notifications_sent, r.notifications_failed, r.notifications_dead) == (1, 0, 0)
    n = Notification.objects.get(event=event)
    assert (n.state, n.attempts) == ("sent", 2) and FlakyChannel.delivered == [n.pk]


def test_sweep_calls_the_sos_watch(world, monkeypatch):
    calls = []
    fake = types.SimpleNamespace(sos_sweep=lambda *, now: calls.append(now) or 3)
    monkeypatch.setattr(clock, "sos", fake)  # the sweep calls the SOS watch it imports
    now = at(2025, 3, 14, 9)
    assert clock.clock_sweep(now=now).sos == 3
    assert calls == [now]


def test_sweep_command_prints_counts(world, no_escalation):
    make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    out = StringIO()
    call_command("sweep", "--now", "2025-03-14T09:00:00+08:00", stdout=out)
    assert "黄色预警 1" in out.getvalue() and "红色超期 0" in out.getvalue()


def test_sweep_task_runs(world, settings, no_escalation):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    from wangge.clock.tasks import clock_sweep_task

    result = clock_sweep_task.enqueue()
    assert result.return_value["yellow"] == 0 and result.return_value["errors"] == []


# --- extensions -------------------------------------------------------------------------------------


def _extended(world):
    # Handle stage from Tue 2025-09-23 08:30: 5 workdays = 23, 24, 25, 26 and the make-up Sunday 28.
    event = make_event(world, start=at(2025, 9, 23, 8, 30), handler_user=world.users.grid1)
    assert event.deadline == at(2025, 9, 28, 17, 30) and event.warn_at == at(2025, 9, 26, 17, 30)
    clock.clock_sweep(now=at(2025, 9, 28, 9))
    assert Event.objects.get(pk=event.pk).warning == "yellow"
    return event


def test_extension_moves_the_deadline_across_the_holiday(world, settings):
    settings.WANGGE_AUTO_ESCALATE = []
    event = _extended(world)
    req = clock.extension_request(
        event_id=event.pk, actor=world.users.grid1, amount=3, unit="workday", reason="需协调物业清理"
    )
    assert req.state == "pending" and req.old_deadline == event.deadline
    assert Notification.objects.filter(kind="extension_request", recipient=world.users.community1).exists()
    with pytest.raises(Conflict):
        clock.extension_request(
            event_id=event.pk, actor=world.users.grid1, amount=1, unit="workday", reason="再延"
        )

    version = Event.objects.get(pk=event.pk).version
    req = clock.extension_decide(
        request_id=req.pk, actor=world.users.community1, approve=True, note="同意", now=at(2025, 9, 28, 12)
    )
    # 8 workdays from 09-23: 23, 24, 25, 26, 28, 29, 30, then 10-01..10-08 off, 10-09.
    e = Event.objects.get(pk=event.pk)
    assert e.deadline == at(2025, 10, 9, 17, 30) == req.new_deadline
    # Warning at 80 % of 8 workdays = 6 days + 2 h 48 min -> Tue 09-30 11:18.
    assert e.warn_at == at(2025, 9, 30, 11, 18)
    assert e.warning == "none" and e.version == version + 1  # recomputed: no longer near the limit
    clock_row = StageDeadline.objects.get(event=event, finished_at__isnull=True)
    assert clock_row.deadline == e.deadline and clock_row.warn_at == e.warn_at and not clock_row.overdue
    assert req.state == "approved" and req.decided_by == world.users.community1
    assert req.old_deadline == at(2025, 9, 28, 17, 30)
    actions = list(TimelineEntry.objects.filter(event=event).values_list("action", flat=True))
    assert actions[-2:] == ["extension_request", "extension_decision"]
    assert Notification.objects.filter(kind="extension_decided", recipient=world.users.grid1).exists()
    with pytest.raises(Conflict):
        clock.extension_decide(request_id=req.pk, actor=world.users.community1, approve=True)
    # The next sweep before the new warning time raises nothing; at it, yellow again.
    assert clock.clock_sweep(now=at(2025, 9, 30, 11, 17)).yellow == 0
    assert clock.clock_sweep(now=at(2025, 9, 30, 11, 18)).yellow == 1


def test_second_extension_adds_up_and_mixed_units(world, settings):
    settings.WANGGE_AUTO_ESCALATE = []
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r1 = clock.extension_request(
        event_id=event.pk, actor=world.users.grid1, amount=1, unit="workday", reason="a"
    )
    clock.extension_decide(request_id=r1.pk, actor=world.users.street1, approve=True, now=at(2025, 3, 11))
    assert Event.objects.get(pk=event.pk).deadline == at(2025, 3, 17, 17, 30)  # 6 workdays
    r2 = clock.extension_request(
        event_id=event.pk, actor=world.users.grid1, amount=2, unit="workhour", reason="b"
    )
    clock.extension_decide(request_id=r2.pk, actor=world.users.admin, approve=True, now=at(2025, 3, 11))
    assert Event.objects.get(pk=event.pk).deadline == at(2025, 3, 18, 10, 30)  # + 2 working hours


def test_extension_rejected_keeps_the_deadline(world):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    req = clock.extension_request(
        event_id=event.pk, actor=world.users.grid1, amount=2, unit="workday", reason="x"
    )
    with pytest.raises(InvalidInput):
        clock.extension_decide(request_id=req.pk, actor=world.users.community1, approve=False, note="")
    req = clock.extension_decide(
        request_id=req.pk, actor=world.users.community1, approve=False, note="理由不足"
    )
    assert req.state == "rejected" and req.new_deadline is None
    assert Event.objects.get(pk=event.pk).deadline == event.deadline


def test_extension_permissions(world):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    with pytest.raises(NotFound):  # another grid's worker does not see the event
        clock.extension_request(
            event_id=event.pk, actor=world.users.grid2, amount=1, unit="workday", reason="x"
        )
    with pytest.raises(InvalidInput):
        clock.extension_request(
            event_id=event.pk, actor=world.users.grid1, amount=0, unit="workday", reason="x"
        )
    with pytest.raises(InvalidInput):
        clock.extension_request(event_id=event.pk, actor=world.users.grid1, amount=1, unit="week", reason="x")
    with pytest.raises(InvalidInput):
        clock.extension_request(
            event_id=event.pk, actor=world.users.grid1, amount=1, unit="workday", reason=" "
        )
    req = clock.extension_request(
        event_id=event.pk, actor=world.users.grid1, amount=1, unit="workday", reason="x"
    )
    with pytest.raises(Forbidden):  # not one's own request
        clock.extension_decide(request_id=req.pk, actor=world.users.grid1, approve=True)
    with pytest.raises(NotFound):  # out of scope
        clock.extension_decide(request_id=req.pk, actor=world.users.community2, approve=True)
    with pytest.raises(NotFound):
        clock.extension_decide(request_id=req.pk, actor=world.users.street2, approve=True)
    assert ExtensionRequest.objects.get(pk=req.pk).state == "pending"


def test_department_request_needs_the_district(world):
    unit = HandlingUnit.objects.create(
        name="市场监管所", kind="department", territory=world.district, path="420802"
    )
    unit.members.add(world.users.dept1)
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_unit=unit)
    req = clock.extension_request(
        event_id=event.pk, actor=world.users.dept1, amount=1, unit="workday", reason="x"
    )
    with pytest.raises(Forbidden):
        clock.extension_decide(request_id=req.pk, actor=world.users.community1, approve=True)
    assert (
        clock.extension_decide(request_id=req.pk, actor=world.users.admin, approve=True).state == "approved"
    )


def test_extension_on_a_stage_without_limit(world):
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    Event.objects.filter(pk=event.pk).update(
        status=Status.objects.get(code="suspended"), stage="", deadline=None, warn_at=None
    )
    with pytest.raises(Conflict):
        clock.extension_request(
            event_id=event.pk, actor=world.users.grid1, amount=1, unit="workday", reason="x"
        )


# --- API ------------------------------------------------------------------------------------------------


def test_extension_api(world, api_for):
    from wangge.conftest import assert_error

    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    url = f"/api/v1/events/{event.pk}/extensions/"
    assert_error(
        api_for(world.users.grid2).post(url, {"amount": 1, "unit": "workday", "reason": "x"}, format="json"),
        404,
    )
    assert_error(
        api_for(world.users.grid1).post(url, {"amount": 0, "reason": "x"}, format="json"), 400, "invalid"
    )
    resp = api_for(world.users.grid1).post(
        url, {"amount": 2, "unit": "workday", "reason": "等待配件"}, format="json"
    )
    assert resp.status_code == 201, resp.content
    rid = resp.json()["id"]
    assert resp.json()["state"] == "pending"
    assert api_for(world.users.community1).get(url).json()[0]["id"] == rid
    assert_error(api_for(world.users.community2).get(url), 404)
    decide = f"/api/v1/extensions/{rid}/decide/"
    assert_error(
        api_for(world.users.grid1).post(decide, {"approve": True}, format="json"), 403, "own_request"
    )
    assert_error(api_for(world.users.community2).post(decide, {"approve": True}, format="json"), 404)
    resp = api_for(world.users.community1).post(decide, {"approve": True, "note": "同意"}, format="json")
    assert resp.status_code == 200 and resp.json()["state"] == "approved" and resp.json()["new_deadline"]
    assert_error(api_for(world.users.community1).post(decide, {"approve": True}, format="json"), 409)
