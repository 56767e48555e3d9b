"""SOS watch (S6): the on-duty chain in plain minutes (nights and holidays count), acknowledgement, scope."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.core.errors import Conflict, Forbidden, NotFound
from wangge.events.intake.mqtt import mqtt_handle
from wangge.events.models import Event, Notification, SosWatch
from wangge.events.services import EventInput, event_intake
from wangge.events.sos import sos_acknowledge, sos_board, sos_sweep, sos_watch_start
from wangge.events.tests.test_devices import make_devworld

TZ = ZoneInfo("Asia/Shanghai")
# 03:00 on National Day 2025 (a public holiday, at night): the SOS clock does not care.
T0 = datetime(2025, 10, 1, 3, 0, tzinfo=TZ)


@pytest.fixture
def devworld(world):
    return make_devworld(world)


@pytest.fixture
def chosen_time(settings):
    """These tests start the watch themselves at a chosen moment (T0), not at intake."""
    settings.WANGGE_SOS_WATCH_CRITICAL = False


def _sos_event(devworld, **kw) -> Event:
    data = EventInput(
        description="一键呼叫求助",
        channel="sos",
        urgency="critical",
        category_code="0502",
        building_id=devworld.b1.pk,
        lat=devworld.b1.lat,
        lng=devworld.b1.lng,
        external_id=kw.pop("external_id", "W-0001:t1"),
        **kw,
    )
    event, _ = event_intake(data=data)
    return event


def _recipients(event: Event) -> list[str]:
    return list(
        Notification.objects.filter(event=event, kind="sos")
        .order_by("id")
        .values_list("recipient__username", flat=True)
    )


def test_escalation_chain_is_calendar_independent(devworld, chosen_time):
    w = devworld.world
    event = _sos_event(devworld)
    assert event.path == w.g111.code
    watch, created = sos_watch_start(event=event, now=T0)
    assert created and watch.step == 1 and watch.step_deadline == T0 + timedelta(minutes=5)
    assert sos_watch_start(event=event, now=T0 + timedelta(minutes=1)) == (watch, False)
    # Step 1: the grid worker of g111 only (not grid2 of g112).
    assert _recipients(event) == ["grid1"]

    assert sos_sweep(now=T0 + timedelta(minutes=4, seconds=59)) == {"escalated": 0, "realerted": 0}
    expected = [
        (5, 2, 10, ["community1"]),  # community staff of c11 (not community2 of c12)
        (10, 3, 15, ["street1"]),  # street staff of s1 (not street2)
        (15, 4, 25, ["admin"]),  # district admin, 10 minutes
    ]
    for at, step, deadline, users in expected:
        before = Notification.objects.filter(event=event).count()
        assert sos_sweep(now=T0 + timedelta(minutes=at)) == {"escalated": 1, "realerted": 0}
        watch.refresh_from_db()
        assert watch.step == step and watch.step_deadline == T0 + timedelta(minutes=deadline)
        assert _recipients(event)[before:] == users
    # After the last step: the last step again every 10 minutes, until someone answers.
    assert sos_sweep(now=T0 + timedelta(minutes=25)) == {"escalated": 0, "realerted": 1}
    watch.refresh_from_db()
    assert watch.step == 4 and watch.step_deadline == T0 + timedelta(minutes=35)
    assert _recipients(event)[-1] == "admin" and _recipients(event).count("admin") == 2
    # A late sweep (the scheduler was down): the step gets its full minutes from when it is alerted.
    assert sos_sweep(now=T0 + timedelta(minutes=50)) == {"escalated": 0, "realerted": 1}
    watch.refresh_from_db()
    assert watch.step_deadline == T0 + timedelta(minutes=60)

    entries = list(event.timeline.filter(action__startswith="sos").order_by("id"))
    assert [e.action for e in entries] == ["sos_start"] + ["sos_escalate"] * 3 + ["sos_realert"] * 2
    assert [e.data["step"] for e in entries] == [1, 2, 3, 4, 4, 4]
    assert (
        entries[1].data["from_step"] == 1 and entries[1].data["at"] == (T0 + timedelta(minutes=5)).isoformat()
    )
    assert entries[3].data["deadline"] == (T0 + timedelta(minutes=25)).isoformat()
    assert not any(e.public for e in entries)
    assert (
        AuditEntry.objects.filter(action__in=["sos_escalate", "sos_realert"], object_id=str(event.pk)).count()
        == 5
    )

    # The grid worker (an earlier step) answers: escalation stops.
    ack = sos_acknowledge(event_id=event.pk, actor=w.users.grid1, now=T0 + timedelta(minutes=52))
    assert ack.acknowledged_by_id == w.users.grid1.pk and ack.acknowledged_at == T0 + timedelta(minutes=52)
    entry = event.timeline.get(action="sos_ack")
    assert entry.data["elapsed_seconds"] == 52 * 60 and entry.actor_id == w.users.grid1.pk
    count = Notification.objects.filter(event=event).count()
    assert sos_sweep(now=T0 + timedelta(hours=5)) == {"escalated": 0, "realerted": 0}
    assert Notification.objects.filter(event=event).count() == count
    with pytest.raises(Conflict):
        sos_acknowledge(event_id=event.pk, actor=w.users.admin)


def test_same_minutes_on_a_working_tuesday_noon(devworld, chosen_time):
    event = _sos_event(devworld)
    t = datetime(2025, 9, 30, 11, 58, tzinfo=TZ)  # lunch break on a working day: still plain minutes
    watch, _ = sos_watch_start(event=event, now=t)
    assert watch.step_deadline == t + timedelta(minutes=5)
    sos_sweep(now=t + timedelta(minutes=5))
    watch.refresh_from_db()
    assert watch.step_deadline == t + timedelta(minutes=10)


def test_acknowledge_scope_and_duty(devworld, chosen_time):
    w = devworld.world
    event = _sos_event(devworld)
    sos_watch_start(event=event, now=T0)
    # Outside the event's territory: the SOS does not exist for them (404), whatever their role.
    for outsider in (w.users.community2, w.users.grid2, w.users.street2, w.users.resident1):
        with pytest.raises(NotFound):
            sos_acknowledge(event_id=event.pk, actor=outsider)
    # In scope, but the chain has not reached them yet (step 1 is the grid worker).
    with pytest.raises(Forbidden):
        sos_acknowledge(event_id=event.pk, actor=w.users.community1)
    sos_sweep(now=T0 + timedelta(minutes=5))
    watch = sos_acknowledge(event_id=event.pk, actor=w.users.community1, now=T0 + timedelta(minutes=6))
    assert watch.step == 2 and watch.acknowledged_by_id == w.users.community1.pk
    with pytest.raises(NotFound):
        sos_acknowledge(event_id=999999, actor=w.users.admin)


def test_api_board_and_ack(devworld, api_for):
    w = devworld.world
    # Through the real intake path: an SOS message starts the watch at step 1 (grid1 on duty in g111).
    r = mqtt_handle(topic="wangge/devices/W-0001/sos", payload=b'{"msg_id": "api-1"}')
    event_id = r.event_id
    board = api_for(w.users.community1).get("/api/v1/sos/").json()
    assert [row["event_id"] for row in board] == [event_id]
    assert board[0]["step"] == 1 and board[0]["can_acknowledge"] is False and board[0]["overdue"] is False
    assert api_for(w.users.grid1).get("/api/v1/sos/").json()[0]["can_acknowledge"] is True
    assert api_for(w.users.community2).get("/api/v1/sos/").json() == []
    assert_error(
        api_for(w.users.community2).post(f"/api/v1/events/{event_id}/sos-ack/", {}, format="json"), 404
    )
    assert_error(api_for(w.users.grid2).post(f"/api/v1/events/{event_id}/sos-ack/", {}, format="json"), 404)
    assert_error(
        api_for(w.users.community1).post(f"/api/v1/events/{event_id}/sos-ack/", {}, format="json"),
        403,
        "action_not_allowed",
    )
    resp = api_for(w.users.grid1).post(
        f"/api/v1/events/{event_id}/sos-ack/", {"note": "已电话联系，正在赶往"}, format="json"
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["acknowledged_by"] == w.users.grid1.pk
    assert Event.objects.get(pk=event_id).timeline.get(action="sos_ack").note == "已电话联系，正在赶往"
    assert api_for(w.users.community1).get("/api/v1/sos/").json() == []
    assert_error(api_for(w.users.admin).post(f"/api/v1/events/{event_id}/sos-ack/", {}, format="json"), 409)
    assert_error(api_for(w.users.grid1).post("/api/v1/events/abc/sos-ack/", {}, format="json"), 404)


def test_unlocated_sos_goes_to_the_district(devworld, chosen_time):
    """Nowhere to place it: the grid, community and street steps have nobody and are recorded as skipped."""
    data = EventInput(
        description="一键呼叫求助",
        channel="sos",
        urgency="critical",
        address="不知道在哪里",
        external_id="Z:1",
    )
    event, _ = event_intake(data=data)
    assert event.path == ""
    watch, _ = sos_watch_start(event=event, now=T0)
    assert watch.step == 4 and watch.step_deadline == T0 + timedelta(minutes=10)
    assert _recipients(event) == ["admin"]
    assert list(event.timeline.filter(action__startswith="sos").values_list("action", flat=True)) == [
        "sos_skip",
        "sos_skip",
        "sos_skip",
        "sos_start",
    ]
    assert [row["event_id"] for row in sos_board(user=devworld.world.users.admin)] == [event.pk]
    assert sos_board(user=devworld.world.users.street1) == []
    assert SosWatch.objects.count() == 1


@pytest.mark.parametrize("channel", ["resident", "hotline", "api", "patrol"])
def test_a_critical_report_from_any_channel_starts_the_watch(devworld, channel):
    b1 = devworld.b1
    data = EventInput(
        description="楼道里老人晕倒", channel=channel, urgency="critical", lat=b1.lat, lng=b1.lng
    )
    event, created = event_intake(data=data)
    watch = SosWatch.objects.get(event=event)
    assert created and watch.step == 1 and not watch.acknowledged_at
    assert _recipients(event) == ["grid1"]
    assert "sos_start" in [t.action for t in event.timeline.all()]


def test_urgency_raised_by_the_text_starts_the_watch_and_normal_does_not(devworld):
    b1 = devworld.b1
    calm, _ = event_intake(
        data=EventInput(description="路灯不亮", channel="resident", lat=b1.lat, lng=b1.lng)
    )
    assert calm.urgency == "normal" and not SosWatch.objects.filter(event=calm).exists()
    fire, _ = event_intake(
        data=EventInput(description="楼下着火了，有人被困", channel="resident", lat=b1.lat, lng=b1.lng)
    )
    assert fire.urgency == "critical" and SosWatch.objects.filter(event=fire).exists()


def test_batched_critical_reports_start_the_watch_and_the_setting_turns_it_off(devworld, settings):
    from wangge.events.intake.batch import event_intake_many

    b1 = devworld.b1
    item = {"channel": "hotline", "urgency": "critical", "lat": b1.lat, "lng": b1.lng}
    out = event_intake_many(items=[EventInput(description="燃气泄漏", external_id="H-1", **item)])
    assert SosWatch.objects.filter(event_id=out[0].event_id).exists()
    settings.WANGGE_SOS_WATCH_CRITICAL = False
    out = event_intake_many(items=[EventInput(description="燃气泄漏", external_id="H-2", **item)])
    off, _ = event_intake(data=EventInput(description="燃气泄漏", **item))
    assert not SosWatch.objects.filter(event_id__in=[out[0].event_id, off.pk]).exists()


def test_staff_raising_the_urgency_to_critical_at_acceptance_starts_the_watch(devworld):
    from wangge.events.services import event_accept

    b1, users = devworld.b1, devworld.world.users
    event, _ = event_intake(
        data=EventInput(
            description="路灯不亮", channel="resident", category_code="0101", lat=b1.lat, lng=b1.lng
        )
    )
    assert event.urgency == "normal" and not SosWatch.objects.filter(event=event).exists()
    accepted = event_accept(event_id=event.pk, actor=users.community1, urgency="critical")
    watch = SosWatch.objects.get(event=accepted)
    assert watch.step == 1 and _recipients(accepted) == ["grid1"]
    actions = list(accepted.timeline.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["accept", "sos_start"]


def test_accepting_an_event_that_is_already_watched_starts_no_second_watch(devworld):
    from wangge.events.services import event_accept

    b1, users = devworld.b1, devworld.world.users
    event, _ = event_intake(
        data=EventInput(
            description="楼道里老人晕倒", channel="resident", urgency="critical", lat=b1.lat, lng=b1.lng
        )
    )
    event_accept(event_id=event.pk, actor=users.community1, category_code="0502")
    assert SosWatch.objects.filter(event=event).count() == 1
    assert list(event.timeline.values_list("action", flat=True)).count("sos_start") == 1


def test_a_refused_acceptance_starts_no_watch(devworld):
    from wangge.events.services import event_accept

    b1, users = devworld.b1, devworld.world.users
    event, _ = event_intake(
        data=EventInput(
            description="路灯不亮", channel="resident", category_code="0101", lat=b1.lat, lng=b1.lng
        )
    )
    with pytest.raises(Conflict):
        event_accept(event_id=event.pk, actor=users.community1, urgency="critical", expected_version=99)
    assert not SosWatch.objects.filter(event=event).exists()


def test_triage_that_proposes_critical_starts_the_watch(devworld):
    """The durable path (report stored first, triaged afterwards) starts the watch too."""
    from wangge.events.services import event_create, event_triage

    b1 = devworld.b1
    event, _ = event_create(
        data=EventInput(description="楼下着火了，有人被困", channel="resident", lat=b1.lat, lng=b1.lng)
    )
    assert event.urgency == "normal" and not SosWatch.objects.filter(event=event).exists()
    triaged = event_triage(event_id=event.pk)
    assert triaged.urgency == "critical" and SosWatch.objects.filter(event=triaged).count() == 1
    event_triage(event_id=event.pk)  # run again: still one watch
    assert SosWatch.objects.filter(event=triaged).count() == 1


def _watch_signature(event_id: int) -> tuple:
    """What starting the watch left behind for one event, free of ids and clock times."""
    from wangge.events.models import TimelineEntry

    watch = SosWatch.objects.get(event_id=event_id)
    entries = TimelineEntry.objects.filter(event_id=event_id, action__startswith="sos_").order_by("id")
    return (
        watch.step,
        round((watch.step_deadline - watch.created_at).total_seconds() / 60),
        sorted(
            Notification.objects.filter(event_id=event_id, kind="sos").values_list(
                "recipient__username", flat=True
            )
        ),
        [
            (t.action, t.note, t.data.get("step"), t.data.get("recipients"), t.data.get("queued"))
            for t in entries
        ],
        AuditEntry.objects.filter(action="sos_watch_start", object_id=str(event_id)).count(),
    )


def test_a_batch_starts_its_watches_in_bulk_exactly_as_one_by_one(devworld):
    """Several 特急 orders in one batch: same steps, recipients, timeline and audit as single intake —
    including a grid with nobody on duty at step 1 (skipped) and an order located nowhere."""
    from wangge.conftest import centre
    from wangge.events.intake.batch import event_intake_many

    b1 = devworld.b1
    lat2, lng2 = centre(2, 0)  # grid g121
    places = [
        {"lat": b1.lat, "lng": b1.lng},
        {"lat": b1.lat, "lng": b1.lng},
        {"lat": lat2, "lng": lng2},
        {"lat": 30.0, "lng": 110.0},  # outside the district
    ]

    def item(n: int, place: dict) -> EventInput:
        return EventInput(
            description="燃气泄漏，有人晕倒",
            channel="hotline",
            urgency="critical",
            external_id=f"H-{n}",
            **place,
        )

    single = [event_intake(data=item(i, p))[0].pk for i, p in enumerate(places)]
    outcomes = event_intake_many(items=[item(100 + i, p) for i, p in enumerate(places)])
    batched = [o.event_id for o in outcomes]
    assert all(batched) and len(set(batched)) == len(places)
    expected = [_watch_signature(pk) for pk in single]
    assert [_watch_signature(pk) for pk in batched] == expected
    actions = {a for sig in expected for a, *_ in sig[3]}
    assert {"sos_start", "sos_skip"} <= actions  # the cases above are really exercised
    # Run the watch start again for the batch: idempotent, nothing doubled.
    from wangge.events.sos import sos_watch_critical

    sos_watch_critical(events=list(Event.objects.filter(pk__in=batched)))
    assert [_watch_signature(pk) for pk in batched] == expected


def test_a_unique_conflict_in_the_bulk_start_falls_back_to_one_by_one(devworld, monkeypatch):
    """Should the bulk insert hit a watch another process just started (unique conflict), its savepoint is
    rolled back and the watches are started one by one, each idempotent: the event still gets one."""
    from django.db import IntegrityError

    from wangge.events.sos import watch as sos

    b1 = devworld.b1
    event, _ = event_intake(
        data=EventInput(
            description="路灯不亮", channel="resident", category_code="0101", lat=b1.lat, lng=b1.lng
        )
    )
    Event.objects.filter(pk=event.pk).update(urgency="critical")
    event.refresh_from_db()

    def conflict(events, steps, now):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(sos, "_start_many", conflict)
    sos.sos_watch_critical(events=[event])
    assert SosWatch.objects.filter(event=event).count() == 1
    assert list(event.timeline.values_list("action", flat=True)).count("sos_start") == 1
    sos.sos_watch_critical(events=[event])  # asked again: still one
    assert SosWatch.objects.filter(event=event).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_report_is_one_statement_and_a_critical_one_is_written_with_its_watch(devworld, monkeypatch):
    """Outside a transaction a report goes in as one statement (PostgreSQL) or one transaction; a 特急
    report and its watch are written together or not at all: when the watch cannot be written, the
    first attempt leaves nothing behind and durable intake stores the report once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wangge.events.intake import batch

    b1 = devworld.b1
    with CaptureQueriesContext(connection) as q:
        calm, _ = event_intake(
            data=EventInput(description="路灯不亮", channel="resident", lat=b1.lat, lng=b1.lng)
        )
    writes = [x["sql"] for x in q.captured_queries if not x["sql"].startswith("SELECT")]
    if connection.vendor == "postgresql":
        assert len(writes) == 1 and writes[0].startswith("WITH family_parent AS (INSERT INTO")
    assert (
        calm.timeline.count() == 2
        and AuditEntry.objects.filter(action="event.create", object_id=str(calm.pk)).count() == 1
    )

    def broken(*, events):
        raise RuntimeError("watch table unavailable")

    monkeypatch.setattr(batch, "sos_watch_critical", broken)
    data = EventInput(
        description="楼道里老人晕倒", channel="resident", urgency="critical", lat=b1.lat, lng=b1.lng
    )
    event, created = event_intake(data=data)
    assert created and Event.objects.filter(description="楼道里老人晕倒").count() == 1
    assert SosWatch.objects.filter(event=event).count() == 1  # started by the durable path's triage
    assert AuditEntry.objects.filter(action="event.create").count() == 2  # calm's and this one's
