"""吹哨报到: who may blow, deadlines in working hours, report-in in time / late / missed, the board, API."""

import pytest

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.conftest import assert_error
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.events.models import Event, HandlingUnit, Notification, TimelineEntry, WhistleSummon
from wangge.events.workflow import clock, whistle

from .clock_helpers import at, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def units(world):
    law = HandlingUnit.objects.create(
        name="综合行政执法中队", kind="enforcement", territory=world.s1, path=world.s1.code, ack_limit_hours=2
    )
    law.members.add(world.users.dept1)
    market_officer = user_create(
        username="market1",
        password="test-pass-123",
        role=Role.DEPT_HANDLER,
        territory_id=None,
        display_name="market1",
    )
    market = HandlingUnit.objects.create(
        name="市场监管所",
        kind="department",
        territory=world.district,
        path=world.district.code,
        ack_limit_hours=4,
    )
    market.members.add(market_officer)
    far = HandlingUnit.objects.create(
        name="第二街道司法所", kind="department", territory=world.s2, path=world.s2.code
    )
    return type("Units", (), {"law": law, "market": market, "far": far, "market_officer": market_officer})


def blow(world, units, event, now=None, actor=None):
    return whistle.whistle_blow(
        event_id=event.pk,
        actor=actor or world.users.community1,
        unit_ids=[units.law.pk, units.market.pk],
        note="占道经营屡禁不止，请执法、市场监管到场",
        now=now or at(2025, 9, 30, 16),
    )


def test_blow_sets_working_hour_deadlines_and_notifies(world, units):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    w = blow(world, units, event)
    assert w.level == "community" and w.blown_by == world.users.community1
    summons = {s.unit_id: s for s in w.summons.all()}
    # Tue 09-30 16:00 + 2 working hours: 1.5 h, the National Day holiday, 0.5 h on Thu 10-09.
    assert summons[units.law.pk].deadline == at(2025, 10, 9, 9)
    # + 4 working hours: 1.5 h, then 2.5 h on 10-09 -> 11:00.
    assert summons[units.market.pk].deadline == at(2025, 10, 9, 11)
    assert {s.state for s in summons.values()} == {"summoned"}
    recipients = set(
        Notification.objects.filter(kind="whistle").values_list("recipient__username", flat=True)
    )
    assert recipients == {"dept1", "market1"}
    entry = TimelineEntry.objects.get(event=event, action="whistle")
    assert entry.public is False and len(entry.data["units"]) == 2
    # Summoning the same units again while they are awaited is refused.
    with pytest.raises(Conflict):
        blow(world, units, event)


def test_who_may_blow(world, units):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    with pytest.raises(Forbidden):
        blow(world, units, event, actor=world.users.grid1)
    with pytest.raises(NotFound):
        blow(world, units, event, actor=world.users.community2)
    with pytest.raises(NotFound):
        blow(world, units, event, actor=world.users.street2)
    with pytest.raises(NotFound):  # a unit of another street
        whistle.whistle_blow(event_id=event.pk, actor=world.users.community1, unit_ids=[units.far.pk])
    with pytest.raises(InvalidInput):
        whistle.whistle_blow(event_id=event.pk, actor=world.users.community1, unit_ids=[])
    # The street and the district may blow too.
    assert blow(world, units, event, actor=world.users.street1).level == "street"
    closed = make_event(world, start=at(2025, 9, 29, 9), status="closed")
    with pytest.raises(Conflict):
        blow(world, units, closed, actor=world.users.admin)


def test_acknowledge_in_time_late_and_missed(world, units):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    w = blow(world, units, event)
    law = w.summons.get(unit=units.law)
    market = w.summons.get(unit=units.market)
    assert not whistle.is_co_handler(units.market_officer, event)

    # In time: 08:45 on the first working day after the holiday.
    s = whistle.whistle_acknowledge(summon_id=law.pk, actor=world.users.dept1, now=at(2025, 10, 9, 8, 45))
    assert s.state == "acknowledged" and s.acknowledged_by == world.users.dept1
    e = Event.objects.get(pk=event.pk)
    assert e.extra["co_handlers"] == [units.law.pk]
    with pytest.raises(Conflict):
        whistle.whistle_acknowledge(summon_id=law.pk, actor=world.users.dept1, now=at(2025, 10, 9, 8, 50))

    # The market unit's deadline (11:00) passes: the sweep marks it missed.
    r = clock.clock_sweep(now=at(2025, 10, 9, 11))
    assert r.summons_missed == 1
    assert WhistleSummon.objects.get(pk=market.pk).state == "missed"
    assert TimelineEntry.objects.filter(event=event, action="report_in_missed").count() == 1
    assert Notification.objects.filter(kind="report_in_missed", recipient=world.users.community1).exists()
    assert clock.clock_sweep(now=at(2025, 10, 9, 12)).summons_missed == 0  # once only

    # Coming late is still recorded, flagged late; the unit becomes a co-handler.
    officer = units.market_officer
    # (events.services lets summoned units see the event already, so they can decide to come.)
    s = whistle.whistle_acknowledge(summon_id=market.pk, actor=officer, now=at(2025, 10, 9, 14, 30))
    assert s.state == "acknowledged" and s.acknowledged_at > s.deadline
    e = Event.objects.get(pk=event.pk)
    assert e.extra["co_handlers"] == [units.law.pk, units.market.pk]
    assert whistle.is_co_handler(officer, e) and whistle.may_act(officer, e)
    report_ins = TimelineEntry.objects.filter(event=event, action="report_in").order_by("id")
    assert [x.data["late"] for x in report_ins] == [False, True]


def test_only_members_report_in(world, units):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    w = blow(world, units, event)
    summon = w.summons.get(unit=units.law)
    with pytest.raises(Forbidden):  # sees the event, but is not in the unit
        whistle.whistle_acknowledge(summon_id=summon.pk, actor=world.users.grid1)
    with pytest.raises(NotFound):
        whistle.whistle_acknowledge(summon_id=summon.pk, actor=world.users.community2)
    with pytest.raises(NotFound):
        whistle.whistle_acknowledge(summon_id=999999, actor=world.users.dept1)


def test_board_shows_who_came_and_is_scoped(world, units):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    w = blow(world, units, event)
    whistle.whistle_acknowledge(
        summon_id=w.summons.get(unit=units.law).pk, actor=world.users.dept1, now=at(2025, 10, 9, 8, 45)
    )
    clock.clock_sweep(now=at(2025, 10, 9, 11))
    [row] = whistle.whistle_board(user=world.users.community1)
    assert [c["unit"]["name"] for c in row["came"]] == ["综合行政执法中队"]
    assert row["came"][0]["acknowledged_by"] == "dept1" and row["came"][0]["late"] is False
    assert [m["unit"]["name"] for m in row["missed"]] == ["市场监管所"] and row["waiting"] == []
    assert whistle.whistle_board(user=world.users.community2) == []
    assert whistle.whistle_board(user=world.users.grid2) == []
    # A department officer without a territory sees the whistles that summon their unit.
    assert [r["id"] for r in whistle.whistle_board(user=units.market_officer)] == [w.id]
    # Closed events leave the open board.
    Event.objects.filter(pk=event.pk).update(status=event.status.__class__.objects.get(code="closed"))
    assert whistle.whistle_board(user=world.users.community1) == []
    assert len(whistle.whistle_board(user=world.users.community1, include_closed=True)) == 1


def test_whistle_api(world, units, api_for):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    url = f"/api/v1/events/{event.pk}/whistle/"
    body = {"unit_ids": [units.law.pk], "note": "请执法中队到场"}
    assert_error(api_for(world.users.grid1).post(url, body, format="json"), 403, "action_not_allowed")
    assert_error(api_for(world.users.community2).post(url, body, format="json"), 404)
    assert_error(api_for(world.users.community1).post(url, {"unit_ids": []}, format="json"), 400)
    assert_error(
        api_for(world.users.community1).post(url, {"unit_ids": [units.far.pk]}, format="json"),
        404,
        "unit_not_found",
    )
    assert_error(
        api_for(world.users.community1).post("/api/v1/events/999999/whistle/", body, format="json"), 404
    )
    resp = api_for(world.users.community1).post(url, body, format="json")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["event"]["id"] == event.pk and data["waiting"][0]["unit"]["name"] == "综合行政执法中队"
    summon_id = data["summons"][0]["id"]

    ack = f"/api/v1/whistle-summons/{summon_id}/acknowledge/"
    assert_error(api_for(world.users.grid1).post(ack), 403, "not_unit_member")
    assert_error(api_for(world.users.community2).post(ack), 404)
    resp = api_for(world.users.dept1).post(ack)
    assert resp.status_code == 200 and resp.json()["state"] == "acknowledged"
    assert_error(api_for(world.users.dept1).post(ack), 409, "already_acknowledged")

    board = api_for(world.users.community1).get("/api/v1/whistles/")
    assert board.status_code == 200 and board.json()["results"][0]["came"][0]["id"] == summon_id
    assert api_for(world.users.community2).get("/api/v1/whistles/").json()["results"] == []
    per_event = api_for(world.users.street1).get(url)
    assert per_event.status_code == 200 and len(per_event.json()) == 1
    assert_error(api_for(world.users.street2).get(url), 404)


@pytest.mark.parametrize("as_ids", [True, False], ids=["ids", "subquery"])
def test_a_summoned_department_sees_the_event(world, units, monkeypatch, as_ids):
    """A member of a summoned unit sees the event (list, detail, my tasks aside), whether the summoned
    events are passed as ids or, for a department summoned very often, as a subquery."""
    from wangge.events import selectors

    if not as_ids:
        monkeypatch.setattr(selectors, "_SUMMONED_AS_IDS", 1)
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    other = make_event(world, start=at(2025, 9, 29, 10), handler_user=world.users.grid1)
    officer = units.market_officer
    assert not selectors.event_list(user=officer).exists()
    blow(world, units, event)
    assert [e.pk for e in selectors.event_list(user=officer)] == [event.pk]
    assert selectors.event_get(user=officer, pk=event.pk).pk == event.pk
    with pytest.raises(NotFound):
        selectors.event_get(user=officer, pk=other.pk)


def test_summoned_events_are_counted_once_per_event(world, units, monkeypatch):
    """A department summoned twice to an event (two of its units): the ids are distinct events, so a
    full first slice switches to the subquery instead of leaving events out."""
    from wangge.events import selectors

    monkeypatch.setattr(selectors, "_SUMMONED_AS_IDS", 3)
    units.law.members.add(units.market_officer)
    events = [
        make_event(world, start=at(2025, 9, 29, 9 + i), handler_user=world.users.grid1) for i in range(3)
    ]
    for event in events[:2]:
        blow(world, units, event)  # law and market: two summonses each
    whistle.whistle_blow(
        event_id=events[2].pk,
        actor=world.users.community1,
        unit_ids=[units.market.pk],
        note="请市场监管到场",
        now=at(2025, 9, 30, 16),
    )
    assert WhistleSummon.objects.count() == 5
    seen = {e.pk for e in selectors.event_list(user=units.market_officer)}
    assert seen == {e.pk for e in events}
