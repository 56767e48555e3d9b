"""Replaying a client-supplied key (external id, Idempotency-Key, device message id) answers with the
first event only to a caller who may see it; anyone else gets a conflict that names nothing about it."""

from typing import Any

import pytest
from django.test import Client

from wangge.conftest import assert_error
from wangge.core.errors import Conflict
from wangge.events.intake.batch import event_intake_many
from wangge.events.intake.mqtt import mqtt_handle
from wangge.events.models import Event
from wangge.events.services import EventInput, event_create, event_intake
from wangge.events.tests.test_devices import make_devworld

from .core_helpers import G111, G112

pytestmark = pytest.mark.django_db

WORK_ORDER = "GD20261123-0042"


def _body(at: tuple[float, float] = G112, **kw: Any) -> dict[str, Any]:
    data = {
        "description": "楼上装修噪音扰民，晚上十点还在施工",
        "lat": at[0],
        "lng": at[1],
        "reporter_name": "王五",
        "reporter_phone": "13700001111",
        "channel": "hotline",
        "external_id": WORK_ORDER,
    }
    data.update(kw)
    return data


def _input(at: tuple[float, float] = G112, **kw: Any) -> EventInput:
    body = _body(at, **kw)
    return EventInput(
        description=body["description"],
        lat=body["lat"],
        lng=body["lng"],
        reporter_name=body["reporter_name"],
        reporter_phone=body["reporter_phone"],
        channel=body["channel"],
        external_id=body["external_id"],
    )


@pytest.fixture
def other_grids(world: Any) -> Event:
    """A 12345 work order registered by community staff; it happened in grid g112 (not grid1's)."""
    event, created = event_intake(data=_input(), actor=world.users.community1)
    assert created and event.path == world.g112.path
    return event


def _names_nothing(message: str, event: Event) -> None:
    assert event.tracking_code not in message and str(event.pk) not in message
    assert event.title not in message and "王" not in message


# --- services ----------------------------------------------------------------------------------------


def test_service_replay_outside_scope_is_a_bare_conflict(world: Any, other_grids: Event) -> None:
    for intake in (event_intake, event_create):
        with pytest.raises(Conflict) as err:
            intake(data=_input(), actor=world.users.grid1)
        assert err.value.code == "duplicate_key" and err.value.details is None
        _names_nothing(err.value.message, other_grids)
    assert Event.objects.count() == 1
    # Whoever may see the event (its grid's worker, the staff above) still gets the first answer.
    for who in (world.users.grid2, world.users.community1, world.users.street1):
        again, created = event_intake(data=_input(), actor=who)
        assert again.pk == other_grids.pk and not created


def test_service_idempotency_key_of_an_event_outside_scope(world: Any) -> None:
    # Made without an account (system intake), in g112, under a key a client chose.
    first, _ = event_intake(data=_input(external_id=None), actor=None, idempotency_key="retry-7")
    with pytest.raises(Conflict) as err:
        event_intake(data=_input(external_id=None), actor=world.users.grid1, idempotency_key="retry-7")
    assert err.value.code == "duplicate_key"
    _names_nothing(err.value.message, first)
    again, created = event_intake(
        data=_input(external_id=None), actor=world.users.grid2, idempotency_key="retry-7"
    )
    assert again.pk == first.pk and not created


# --- REST ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["hotline", "sensor", "sos"])
def test_rest_single_replay_of_another_grids_external_id(world: Any, api_for: Any, channel: str) -> None:
    first, _ = event_intake(data=_input(channel=channel), actor=world.users.community1)
    r = api_for(world.users.grid1).post("/api/v1/events/", _body(channel=channel), format="json")
    _names_nothing(str(assert_error(r, 409, "duplicate_key")), first)
    assert Event.objects.count() == 1
    mine = api_for(world.users.grid2).post("/api/v1/events/", _body(channel=channel), format="json")
    assert mine.status_code == 200 and mine.json()["id"] == first.pk


def test_rest_idempotency_key_of_another_account(world: Any, api_for: Any) -> None:
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    body = _body(at=G111, external_id=None, channel="api")
    first = api_for(world.users.grid1).post("/api/v1/events/", body, format="json", **headers)
    assert first.status_code == 201
    other = api_for(world.users.grid2).post("/api/v1/events/", body, format="json", **headers)
    _names_nothing(str(assert_error(other, 409, "duplicate_key")), Event.objects.get())


def test_rest_batch_item_of_another_community_is_a_conflict_without_id(
    world: Any, api_for: Any, other_grids: Event
) -> None:
    items = [_body(), _body(at=G111, external_id="GD20261123-0043")]
    r = api_for(world.users.community2).post("/api/v1/events/batch/", {"items": items}, format="json")
    assert r.status_code == 200, r.content
    out = r.json()
    refused, created = out["results"]
    assert refused == {"index": 0, "error": refused["error"]}  # no id, no tracking code
    assert refused["error"]["code"] == "duplicate_key"
    _names_nothing(str(refused), other_grids)
    assert created["created"] is True and (out["created"], out["duplicates"], out["errors"]) == (1, 0, 1)
    # The staff who may see it are answered with it, as before.
    again = api_for(world.users.community1).post("/api/v1/events/batch/", {"items": items}, format="json")
    first, second = again.json()["results"]
    assert (first["id"], first["created"]) == (other_grids.pk, False) and "error" not in second


def test_batch_service_outcome_names_nothing(world: Any, other_grids: Event) -> None:
    (out,) = event_intake_many(items=[_input()], actor=world.users.community2)
    assert out.event_id is None and out.tracking_code == "" and not out.created
    assert out.error is not None and out.error.code == "duplicate_key"


# --- pages ---------------------------------------------------------------------------------------------


def test_hotline_page_does_not_show_another_communitys_tracking_code(world: Any, other_grids: Event) -> None:
    c = Client()
    c.force_login(world.users.community2)
    form = {
        "work_order": WORK_ORDER,
        "caller": "赵六",
        "phone": "13700002222",
        "event_type": "complaint",
        "urgency": "normal",
        "description": "楼上装修噪音扰民",
        "address": "东湖路1号",
        "idem": "b1",
    }
    r = c.post("/events/hotline/new/", form)
    page = r.content.decode()
    assert r.status_code == 409 and "该编号已被使用" in page
    assert other_grids.tracking_code not in page and f"/events/{other_grids.pk}/" not in page
    assert Event.objects.count() == 1


# --- devices -------------------------------------------------------------------------------------------


def test_rest_replay_of_a_device_message_id_outside_scope(world: Any, api_for: Any) -> None:
    dev = make_devworld(world)  # the smoke detector SMK-0001 is in a shop in g112
    alarm = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=b'{"msg_id": "m1", "type": "smoke"}')
    assert alarm.status == "created"
    event = Event.objects.get(pk=alarm.event_id)
    assert event.path == dev.smoke.path == world.g112.path
    r = api_for(world.users.grid1).post(
        "/api/v1/events/", _body(channel="sensor", external_id="SMK-0001:m1"), format="json"
    )
    _names_nothing(str(assert_error(r, 409, "duplicate_key")), event)
    # The device's own redelivery is still a duplicate of its own event.
    again = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=b'{"msg_id": "m1", "type": "smoke"}')
    assert (again.status, again.event_id) == ("duplicate", event.pk)


def test_device_message_id_taken_by_an_account_does_not_land_on_its_event(world: Any, api_for: Any) -> None:
    make_devworld(world)
    # An account registers a report under the id the device will use next ...
    squat = api_for(world.users.grid1).post(
        "/api/v1/events/", _body(at=G111, channel="sensor", external_id="SMK-0001:m9"), format="json"
    )
    assert squat.status_code == 201
    # ... the device may not see that event: its alarm goes in as its own event, and is not lost.
    r = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=b'{"msg_id": "m9", "type": "smoke"}')
    assert r.status == "created" and r.event_id != squat.json()["id"]
    alarm = Event.objects.get(pk=r.event_id)
    assert alarm.channel == "sensor" and alarm.external_id is None and alarm.path == world.g112.path
    again = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=b'{"msg_id": "m9", "type": "smoke"}')
    assert (again.status, again.event_id) == ("duplicate", alarm.pk)


def test_hotline_excel_import_row_of_another_community(world: Any, api_for: Any, other_grids: Event) -> None:
    from .test_hotline import URL, xlsx

    row = [
        WORK_ORDER,
        "2025-10-09 09:15",
        "赵六",
        "",
        "投诉",
        "",
        "楼上装修噪音扰民",
        "东湖路1号",
        None,
        None,
        "",
    ]
    r = api_for(world.users.community2).post(URL, {"file": xlsx([row])}, format="multipart")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["created"], body["duplicates"], body["error_rows"]) == (0, 0, 1)
    assert other_grids.tracking_code not in r.content.decode()
    # The community that may see it counts it as a duplicate, as before.
    again = api_for(world.users.community1).post(URL, {"file": xlsx([row])}, format="multipart").json()
    assert (again["created"], again["duplicates"], again["error_rows"]) == (0, 1, 0)
