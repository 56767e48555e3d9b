"""Open311 replays: a client may be answered only with what it sent itself, and an account only with what
it may see; everyone else gets a conflict that names nothing about the first event."""

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from wangge.conftest import assert_error, centre
from wangge.core.errors import Conflict
from wangge.events.models import Event
from wangge.events.services import EventInput, event_intake
from wangge.open311.services import api_key_create, request_submit

pytestmark = pytest.mark.django_db

LAT, LNG = centre(1, 0)  # inside grid 420802001001002 (grid2's, not grid1's)


def _form(key: str, **extra: str) -> dict[str, str]:
    return {
        "api_key": key,
        "service_code": "0101",
        "lat": str(LAT),
        "long": str(LNG),
        "description": "小区门口垃圾桶满溢，气味很大",
        "first_name": "三",
        "last_name": "张",
        "phone": "13912345678",
        **extra,
    }


def _post(data: dict[str, str], **headers: str) -> Any:
    return Client().post(
        "/open311/v2/requests.json",
        urlencode(data),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        headers=headers,
    )


@pytest.fixture
def client_key(world: Any) -> tuple[Any, str]:
    return api_key_create(actor=world.users.admin, name="市民通")


def _rest_body(external_id: str) -> dict[str, Any]:
    return {
        "description": "小区门口垃圾桶满溢",
        "lat": LAT,
        "lng": LNG,
        "channel": "open311",
        "external_id": external_id,
    }


def test_grid_worker_replaying_an_open311_external_id(world: Any, api_for: Any, client_key: Any) -> None:
    row, raw = client_key
    first = _post(_form(raw, **{"attribute[external_id]": "app-77"}))
    assert first.status_code == 201
    event = Event.objects.get()
    assert event.external_id == f"{row.pk}:app-77" and event.path == world.g112.path
    # Through REST the channel itself is refused (it belongs to the Open311 endpoint)...
    r = api_for(world.users.grid1).post("/api/v1/events/", _rest_body(f"{row.pk}:app-77"), format="json")
    body = assert_error(r, 400)
    assert event.tracking_code not in str(body) and Event.objects.count() == 1
    # ...and the lookup every channel goes through answers another account with a conflict naming nothing.
    with pytest.raises(Conflict) as err:
        event_intake(data=EventInput(**_input(f"{row.pk}:app-77")), actor=world.users.grid1)
    assert err.value.code == "duplicate_key" and event.tracking_code not in err.value.message
    assert Event.objects.count() == 1
    # The client's own retry is still answered with its request.
    again = _post(_form(raw, **{"attribute[external_id]": "app-77"}))
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == event.tracking_code


def test_client_is_not_answered_with_an_accounts_event(world: Any, api_for: Any, client_key: Any) -> None:
    row, raw = client_key
    # An account registered a report under the client's next external id first (the REST API refuses the
    # channel now; the services, and data from before, still can hold such an event).
    theirs, _ = event_intake(data=EventInput(**_input(f"{row.pk}:app-78")), actor=world.users.grid2)
    r = _post(_form(raw, **{"attribute[external_id]": "app-78"}))
    assert r.status_code == 400 and theirs.tracking_code not in r.content.decode()
    with pytest.raises(Conflict) as err:
        request_submit(api_key=row, form=_as_querydict(_form(raw, **{"attribute[external_id]": "app-78"})))
    assert err.value.code == "duplicate_key" and theirs.tracking_code not in err.value.message


def test_client_idempotency_key_held_by_an_accounts_event(world: Any, api_for: Any, client_key: Any) -> None:
    row, raw = client_key
    # The REST API refuses the prefix Open311 keys are stored under...
    refused = api_for(world.users.grid2).post(
        "/api/v1/events/",
        {**_rest_body("x"), "channel": "api", "external_id": None},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"open311:{row.pk}:K1",
    )
    assert_error(refused, 400, "invalid_idempotency_key")
    assert not Event.objects.exists()
    # ...and where an account's event holds that key anyway, the client learns nothing from it.
    event_intake(
        data=EventInput(**{**_input("x"), "external_id": None}),
        actor=world.users.grid2,
        idempotency_key=f"open311:{row.pk}:K1",
    )
    with pytest.raises(Conflict) as err:
        request_submit(api_key=row, form=_as_querydict(_form(raw)), idempotency_key="K1")
    assert err.value.code == "duplicate_key"
    assert Event.objects.get().tracking_code not in err.value.message


def _input(external_id: str) -> dict[str, Any]:
    return {
        "description": "小区门口垃圾桶满溢",
        "lat": LAT,
        "lng": LNG,
        "channel": "open311",
        "external_id": external_id,
    }


def _as_querydict(data: dict[str, str]) -> Any:
    from django.http import QueryDict

    q = QueryDict(mutable=True)
    for k, v in data.items():
        q[k] = v
    return q


def test_an_account_cannot_take_an_open311_clients_external_id(world, api_for):
    # The channel belongs to the Open311 endpoint: an account posting channel=open311 with a client's
    # "<key id>:<id>" would otherwise make that client's own later report a refused duplicate.
    client = api_for(world.users.grid1)
    body = {"description": "路灯不亮", "address": "六合路8号", "channel": "open311", "external_id": "1:X-1"}
    resp = client.post("/api/v1/events/", body, format="json")
    assert resp.status_code == 400 and "channel" in resp.json()["details"], resp.content
    batch = api_for(world.users.admin).post("/api/v1/events/batch/", {"items": [body]}, format="json")
    assert "open311" in batch.content.decode() and batch.json()["results"][0].get("id") is None, batch.content
    from wangge.events.models import Event

    assert not Event.objects.filter(channel="open311").exists()
