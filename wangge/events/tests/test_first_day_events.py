"""Issue 18, what new users met on their first day with events.

A1: a hotline order whose address matches no building and has no map pin went to the district (path ""),
and the operator who typed it got a 404 when shown it. Whoever enters an event can always see it, and one
that cannot be located waits in the entering office's own triage queue.

A2: the handler who gave feedback was offered 核查 and could close their own work. Verification is by
someone other than who did the work, by the roles the city lets verify (`EventRoleRule.may_verify`).
"""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from wangge.conftest import assert_error, centre
from wangge.core.errors import Forbidden, NotFound
from wangge.events import selectors, services
from wangge.events.common import event_actions, may_see, visible_among
from wangge.events.intake import event_create, event_intake_many
from wangge.events.models import Event, EventRoleRule, HandlingUnit
from wangge.events.services import EventInput
from wangge.events.triage import event_triage

from .clock_helpers import make_event
from .core_helpers import enforcement_unit, staff

pytestmark = pytest.mark.django_db

NOWHERE = "无名路999号"  # no building has this address, and no map pin is given
IN_G211 = centre(3, 0)  # (lat, lng) inside grid 420802002001001: another street than community1's


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _hotline(client: Client, **fields: Any) -> Any:
    form = {
        "work_order": "",
        "caller": "王五",
        "phone": "13700001111",
        "event_type": "complaint",
        "urgency": "normal",
        "description": "楼道的灯坏了很久没人修",
        "address": NOWHERE,
        "idem": "first-day-1",
        **fields,
    }
    return client.post("/events/hotline/new/", form)


def _triage_page(user: Any) -> str:
    response = _client(user).get("/events/triage/")
    assert response.status_code == 200
    return response.content.decode()


def _walk_in(actor: Any, **fields: Any) -> Event:
    data = EventInput(description="门口的井盖松动了", channel="walk_in", address=NOWHERE, **fields)
    event, created = services.event_intake(data=data, actor=actor)
    assert created
    return event


# --- A1: the operator sees what they entered; an unlocated event waits in their office ----------------


def test_the_operator_sees_the_unlocated_hotline_order_in_their_own_triage_queue(world: Any) -> None:
    u = world.users
    operator = _client(u.community1)
    response = _hotline(operator)
    assert response.status_code == 302
    event = Event.objects.get()
    assert response["Location"] == f"/events/{event.pk}/"
    assert event.grid_id is None and event.needs_triage
    assert (event.path, event.level) == (world.c11.code, "community")
    assert operator.get(response["Location"]).status_code == 200
    assert event.tracking_code in _triage_page(u.community1)
    # Another community's staff (same street) and another street: neither the event nor the queue.
    for other in (u.community2, u.street2, u.grid1):
        assert _client(other).get(f"/events/{event.pk}/").status_code == 404
    assert event.tracking_code not in _triage_page(u.community2)
    # The street and the district above the office still see it and its triage.
    for above in (u.street1, u.admin):
        assert _client(above).get(f"/events/{event.pk}/").status_code == 200
        assert event.tracking_code in _triage_page(above)


def test_an_unlocated_report_waits_in_the_entering_office_and_triage_keeps_it_there(world: Any) -> None:
    u = world.users
    event = _walk_in(u.community1)
    assert (event.path, event.level, event.grid_id, event.needs_triage) == (
        world.c11.code,
        "community",
        None,
        True,
    )
    assert list(selectors.triage_queue(user=u.community1)) == [event]
    assert list(selectors.triage_queue(user=u.admin)) == [event]
    assert list(selectors.triage_queue(user=u.community2)) == []
    assert may_see(u.community1, event) and may_see(u.street1, event) and may_see(u.admin, event)
    assert not may_see(u.community2, event) and not may_see(u.grid1, event)
    # Triage run again (the durable path, a retry) puts it back in the same office, not the district.
    Event.objects.filter(pk=event.pk).update(path="", level="grid")
    again = event_triage(event_id=event.pk)
    assert (again.path, again.level, again.needs_triage) == (world.c11.code, "community", True)
    # A street operator's unlocated report waits at the street: not in a community's queue.
    street = _walk_in(u.street1)
    assert (street.path, street.level) == (world.s1.code, "street")
    assert street not in selectors.triage_queue(user=u.community1)
    assert street in selectors.triage_queue(user=u.street1)


def test_the_durable_path_also_files_it_with_the_office(world: Any) -> None:
    event, _ = event_create(
        data=EventInput(description="路灯不亮", channel="hotline", address=NOWHERE),
        actor=world.users.community1,
    )
    event = event_triage(event_id=event.pk)
    assert (event.path, event.level, event.grid_id) == (world.c11.code, "community", None)


def test_a_report_nobody_s_office_entered_still_goes_to_the_district(world: Any) -> None:
    event, _ = services.event_intake(
        data=EventInput(description="路灯不亮", channel="resident", address=NOWHERE)
    )
    assert (event.path, event.level) == ("", "grid")
    assert may_see(world.users.admin, event) and not may_see(world.users.community1, event)


def test_a_hotline_import_files_unlocated_orders_with_the_importing_office(world: Any) -> None:
    items = [
        EventInput(description="噪音扰民", channel="hotline", address=NOWHERE, external_id="GD-1"),
        EventInput(
            description="油烟扰民", channel="hotline", lat=IN_G211[0], lng=IN_G211[1], external_id="GD-2"
        ),
    ]
    outcomes = event_intake_many(items=items, actor=world.users.street1)
    assert [o.error for o in outcomes] == [None, None]
    unlocated = Event.objects.get(external_id="GD-1")
    located = Event.objects.get(external_id="GD-2")
    assert (unlocated.path, unlocated.level, unlocated.grid_id) == (world.s1.code, "street", None)
    assert (located.path, located.level, located.grid_id) == (world.g211.code, "grid", world.g211.pk)
    # The importer sees both: the located one is in another street, but they entered it.
    assert set(selectors.event_list(user=world.users.street1)) == {unlocated, located}


def test_the_operator_sees_an_order_located_elsewhere_without_gaining_actions(
    world: Any, api_for: Any
) -> None:
    u = world.users
    operator = _client(u.community1)
    response = _hotline(operator, address="", lat=IN_G211[0], lng=IN_G211[1])
    assert response.status_code == 302
    event = Event.objects.get()
    assert event.path == world.g211.code and not may_see(u.community2, event)
    # List, detail and timeline, on the page and through the API.
    page = operator.get(f"/events/{event.pk}/")
    assert page.status_code == 200 and page.context["actions"] == []
    assert event.tracking_code in operator.get("/events/").content.decode()
    api = api_for(u.community1)
    assert api.get(f"/api/v1/events/{event.pk}/").status_code == 200
    assert event.pk in [row["id"] for row in api.get("/api/v1/events/").json()["results"]]
    assert api.get(f"/api/v1/events/{event.pk}/actions/").json()["actions"] == []
    assert [e.pk for e in visible_among(user=u.community1, ids=[event.pk])] == [event.pk]
    # Not more than the catalogue gives: the other street's event is not theirs to accept.
    assert event_actions(user=u.community1, event=event) == []
    with pytest.raises(NotFound):
        services.event_accept(event_id=event.pk, actor=u.community1)
    assert _client(u.community2).get(f"/events/{event.pk}/").status_code == 404


def test_an_event_created_through_the_api_is_seen_by_its_sender(world: Any, api_for: Any) -> None:
    api = api_for(world.users.community1)
    created = api.post("/api/v1/events/", {"description": "楼顶漏水", "address": NOWHERE}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.get(f"/api/v1/events/{pk}/").status_code == 200
    assert Event.objects.get(pk=pk).path == world.c11.code
    assert api_for(world.users.community2).get(f"/api/v1/events/{pk}/").status_code == 404


# --- A2: 核查 by someone other than who did the work -----------------------------------------------


@pytest.fixture
def law(world: Any) -> HandlingUnit:
    staff(world)
    return enforcement_unit(world, world.users.dept1)


def _handled(world: Any, by: Any, **handler: Any) -> Event:
    """An event in handling (grid g111) that `by` reports back on (处置反馈)."""
    event = make_event(world, start=timezone.now() - timedelta(hours=1), status="handling", **handler)
    done = services.event_feedback(event_id=event.pk, actor=by, note="已处理完毕")
    assert done.status.code == "handled"
    return Event.objects.select_related("status").get(pk=event.pk)


def _may_verify(user: Any, event: Event, api_for: Any) -> bool:
    """Whether the catalogue, the page and the API all offer 核查 (and they agree)."""
    catalogue = "verify" in {a.key for a in event_actions(user=user, event=event)}
    page = _client(user).get(f"/events/{event.pk}/")
    on_page = page.status_code == 200 and "verify" in {a["key"] for a in page.context["actions"]}
    listed = api_for(user).get(f"/api/v1/events/{event.pk}/actions/")
    in_api = listed.status_code == 200 and "verify" in {a["key"] for a in listed.json()["actions"]}
    assert catalogue == on_page == in_api, (catalogue, on_page, in_api)
    return catalogue


def test_the_handler_who_gave_feedback_cannot_verify_a_supervisor_can(world: Any, api_for: Any) -> None:
    u = world.users
    event = _handled(world, u.grid1, handler_user=u.grid1)
    assert not _may_verify(u.grid1, event, api_for)
    with pytest.raises(Forbidden) as refused:
        services.event_verify(event_id=event.pk, actor=u.grid1, passed=True)
    assert refused.value.code == "action_not_allowed"
    assert_error(
        api_for(u.grid1).post(f"/api/v1/events/{event.pk}/verify/", {"passed": True}, format="json"),
        403,
        "action_not_allowed",
    )
    posted = _client(u.grid1).post(
        f"/events/{event.pk}/act/verify/", {"version": event.version, "passed": "1"}
    )
    assert posted.status_code == 403
    assert Event.objects.get(pk=event.pk).status.code == "handled"
    # Nor is it in the handler's tasks as waiting for 核查; it is in the verifier's.
    assert event not in selectors.my_tasks(user=u.grid1)
    assert event in selectors.my_tasks(user=u.community1)
    assert _may_verify(u.community1, event, api_for)
    closed = services.event_verify(event_id=event.pk, actor=u.community1, passed=True)
    assert closed.status.code == "closed"


def test_whoever_gave_the_feedback_cannot_verify_it(world: Any, law: HandlingUnit, api_for: Any) -> None:
    """Community staff may report back on a department's event in their territory; then not verify it."""
    u = world.users
    event = _handled(world, u.community1, handler_unit=law)
    assert not _may_verify(u.community1, event, api_for)
    assert _may_verify(u.street1, event, api_for) and _may_verify(u.grid1, event, api_for)
    with pytest.raises(Forbidden):
        services.event_verify(event_id=event.pk, actor=u.community1, passed=True)


def test_the_grid_worker_verifies_a_department_s_work(world: Any, law: HandlingUnit, api_for: Any) -> None:
    u = world.users
    event = _handled(world, u.dept1, handler_unit=law)
    assert not _may_verify(u.dept1, event, api_for)
    assert _may_verify(u.grid1, event, api_for)
    assert not _may_verify(u.grid2, event, api_for)  # another grid's worker: not in scope
    rework = services.event_verify(event_id=event.pk, actor=u.grid1, passed=False, note="还有垃圾没清")
    assert rework.status.code == "handling"


def test_the_rule_row_decides_who_verifies(world: Any, law: HandlingUnit, api_for: Any) -> None:
    u = world.users
    event = _handled(world, u.dept1, handler_unit=law)
    grid_rule = EventRoleRule.objects.get(role="grid_worker")
    assert grid_rule.may_verify
    grid_rule.may_verify = False
    grid_rule.save()  # as the admin saves it: applies at once
    assert not _may_verify(u.grid1, event, api_for)
    with pytest.raises(Forbidden):
        services.event_verify(event_id=event.pk, actor=u.grid1, passed=True)
    assert _may_verify(u.community1, event, api_for)
    # Letting department handlers verify does not let one verify its own unit's work.
    dept_rule = EventRoleRule.objects.get(role="dept_handler")
    assert not dept_rule.may_verify
    dept_rule.may_verify = True
    dept_rule.save()
    assert not _may_verify(u.dept1, event, api_for)
    grid_rule.may_verify = True
    grid_rule.save()
    assert services.event_verify(event_id=event.pk, actor=u.grid1, passed=True).status.code == "closed"
