"""What independent Open311 clients met on the first day (issue 18): the advertised endpoint URL,
carriage returns in XML, requests outside every grid, and mySociety's POST servicerequestupdates."""

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from defusedxml import ElementTree as SafeET
from django.test import Client

from wangge.audit.models import AuditEntry
from wangge.events.models import Event, Notification, TimelineEntry
from wangge.events.services import event_accept, event_dispatch, event_feedback, event_verify
from wangge.open311.services import api_key_create

from .test_open311 import BASE, errors, form, parse, post, rows

OUTSIDE = {"lat": "30.0", "long": "110.0"}  # far from the test district's grids


@pytest.fixture
def key(world: Any) -> str:
    _, raw = api_key_create(actor=world.users.admin, name="测试客户端")
    return raw


@pytest.fixture
def other_key(world: Any) -> str:
    _, raw = api_key_create(actor=world.users.admin, name="另一个客户端")
    return raw


@pytest.fixture
def client() -> Client:
    return Client()


def submit(client: Client, key: str, **extra: Any) -> Event:
    resp = post(client, "json", form(key, **extra))
    assert resp.status_code == 201, resp.content
    return Event.objects.get(tracking_code=resp.json()[0]["service_request_id"])


def post_update(client: Client, fmt: str, data: dict[str, Any], prefix: str = BASE) -> Any:
    return client.post(
        f"{prefix}servicerequestupdates.{fmt}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )


def update_form(key: str, code: str, **extra: Any) -> dict[str, Any]:
    data = {
        "api_key": key,
        "jurisdiction_id": "wangge.local",
        "service_request_id": code,
        "update_id": "fms-771",
        "updated_datetime": "2026-12-07T09:30:00+08:00",
        "status": "OPEN",
        "description": "垃圾桶还是满的，气味更大了",
        "email": "zhang@example.com",
        "first_name": "三",
        "last_name": "张",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


# --- B1: the advertised endpoint URL ------------------------------------------------------------------


def test_discovery_url_takes_appended_resources(db, client):
    """A client appends "/services.xml" to the advertised URL: that must be a resource, not a 404."""
    endpoint = client.get(f"{BASE}discovery.json").json()["endpoints"][0]["url"]
    assert not endpoint.endswith("/")
    path = urlsplit(endpoint).path
    resp = client.get(f"{path}/services.xml")
    assert resp.status_code == 200, (path, resp.content[:200])
    assert parse(resp, "xml").tag == "services"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_double_slash_before_a_resource_is_accepted(world, client, key, fmt):
    """Clients that kept the old slash-terminated URL ask for …/v2//services.xml: answered in place."""
    resp = client.get(f"{BASE}/services.{fmt}")
    assert resp.status_code == 200, resp.content[:200]
    assert rows(resp, fmt, "services", "service")
    assert client.get(f"{BASE}/discovery.{fmt}").status_code == 200
    # A POST too (a redirect would lose its body).
    resp = client.post(
        f"{BASE}/requests.{fmt}",
        urlencode(form(key)),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )
    assert resp.status_code == 201, resp.content[:300]
    (row,) = rows(resp, fmt, "service_requests", "request")
    assert Event.objects.filter(tracking_code=row["service_request_id"]).exists()
    # Something that is no resource stays a 404 in the spec's format.
    errors(client.get(f"{BASE}//nothing.xml"), "xml", 404)


# --- B2: XML keeps the text as JSON does --------------------------------------------------------------


def test_xml_description_reads_back_like_json(world, client, key):
    text = "第一行\r\n第二行\t（制表符）\r第三行\n第四行"
    event = submit(client, key, description=text)
    as_json = client.get(f"{BASE}requests/{event.tracking_code}.json").json()[0]["description"]
    assert as_json == text
    resp = client.get(f"{BASE}requests/{event.tracking_code}.xml")
    assert b"&#13;" in resp.content
    # A real XML parser (end-of-line handling turns a raw CR into LF) must give back the same text.
    root = SafeET.fromstring(resp.content)
    assert root.find("request/description").text == as_json
    listed = SafeET.fromstring(client.get(f"{BASE}requests.xml").content)
    assert [d.text for d in listed.iter("description")] == [text]


def test_xml_stays_well_formed_with_control_characters(world, client, key):
    """A control character XML 1.0 cannot carry (here a vertical tab pasted from a spreadsheet) would
    make the whole list unreadable; it is replaced, the rest kept."""
    event = submit(client, key, description="井盖\x0b破损\x1f有危险")
    assert "\x0b" in Event.objects.get(pk=event.pk).description  # stored as sent
    resp = client.get(f"{BASE}requests.xml")
    root = SafeET.fromstring(resp.content)
    assert [d.text for d in root.iter("description")] == ["井盖\ufffd破损\ufffd有危险"]


# --- B3: a request outside every grid -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_post_outside_every_grid_is_refused(world, client, key, fmt):
    found = errors(post(client, fmt, form(key, **OUTSIDE)), fmt, 400)
    assert any("不在本系统辖区内" in d for d in found), found
    assert Event.objects.count() == 0


def test_post_outside_point_placed_by_its_building_is_accepted(world, client, key):
    from wangge.territory.models import Building

    Building.objects.create(
        code="B-9", name="9栋", grid=world.g112, path=world.g112.code, address="幸福路9号"
    )
    event = submit(client, key, address_id="B-9", **OUTSIDE)
    assert event.grid_id == world.g112.pk


def test_post_address_only_goes_to_triage(world, client, key):
    event = submit(client, key, lat=None, long=None, address_string="某某路某某号")
    assert event.grid_id is None and event.needs_triage


# --- B4: POST servicerequestupdates -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_update_flow(world, client, key, fmt):
    """The extension's flow: the client posts its user's update, gets our update_id, and sees the
    update in GET servicerequestupdates. The request's status does not change by it."""
    event = submit(client, key)
    status_before = event.status.code
    resp = post_update(client, fmt, update_form(key, event.tracking_code))
    assert resp.status_code == 201, resp.content
    (answer,) = rows(resp, fmt, "service_request_updates", "request_update")
    assert set(answer) == {"update_id"}
    entry = TimelineEntry.objects.get(pk=int(answer["update_id"]))
    assert entry.event_id == event.pk and entry.public and entry.note == "垃圾桶还是满的，气味更大了"
    stored = json.dumps(entry.data, ensure_ascii=False)
    assert "zhang@example.com" not in stored and "张" not in stored and key not in stored
    assert Event.objects.get(pk=event.pk).status.code == status_before
    audit = AuditEntry.objects.get(action="open311.request_update")
    assert audit.object_id == str(event.pk) and audit.after["entry"] == entry.pk
    listed = rows(
        client.get(f"{BASE}servicerequestupdates.{fmt}"), fmt, "service_request_updates", "request_update"
    )
    mine = [u for u in listed if u["update_id"] == answer["update_id"]]
    assert len(mine) == 1
    assert mine[0]["service_request_id"] == event.tracking_code
    assert mine[0]["description"] == "垃圾桶还是满的，气味更大了" and mine[0]["status"] == "open"
    # The same update again (a retry with the client's update_id) is recorded once.
    again = post_update(client, fmt, update_form(key, event.tracking_code))
    assert again.status_code == 200
    assert (
        rows(again, fmt, "service_request_updates", "request_update")[0]["update_id"] == answer["update_id"]
    )
    # Another update of the client's is a new entry.
    other = post_update(client, fmt, update_form(key, event.tracking_code, update_id="fms-772"))
    assert other.status_code == 201
    assert TimelineEntry.objects.filter(event=event, action="reporter_update").count() == 2


def test_update_without_client_id_is_recorded_once(world, client, key):
    event = submit(client, key)
    data = update_form(key, event.tracking_code, update_id=None)
    first = post_update(client, "json", data)
    second = post_update(client, "json", data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    changed = post_update(client, "json", {**data, "description": "又有人扔了一袋"})
    assert changed.status_code == 201 and changed.json() != first.json()
    assert TimelineEntry.objects.filter(event=event, action="reporter_update").count() == 2


def test_still_broken_on_a_closed_request_is_recorded_and_the_handler_told(world, client, key):
    event = submit(client, key)
    admin, grid1 = world.users.admin, world.users.grid1
    event_accept(event_id=event.pk, actor=admin)
    event_dispatch(event_id=event.pk, actor=admin, user_id=grid1.pk, reason="")
    event_feedback(event_id=event.pk, actor=grid1, note="已清运")
    event_verify(event_id=event.pk, actor=admin, passed=True, note="已核实")
    assert Event.objects.get(pk=event.pk).status.is_closed
    resp = post_update(client, "json", update_form(key, event.tracking_code, status="open"))
    assert resp.status_code == 201, resp.content
    event.refresh_from_db()
    assert event.status.is_closed  # a citizen's claim is not a transition
    told = Notification.objects.filter(kind="reporter_update")
    assert told.exists() and {n.recipient_id for n in told} == {grid1.pk}
    assert all("仍未解决" in n.subject and event.tracking_code in n.subject for n in told)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_update_on_someone_elses_request_is_not_found(world, client, key, other_key, fmt):
    event = submit(client, key)
    found = errors(post_update(client, fmt, update_form(other_key, event.tracking_code)), fmt, 404)
    # The same answer as for a request that does not exist: nothing is disclosed.
    unknown = errors(post_update(client, fmt, update_form(other_key, "NOSUCHCODE")), fmt, 404)
    assert found == [d.replace("NOSUCHCODE", event.tracking_code) for d in unknown]
    # A request reported through another channel belongs to no client.
    from wangge.events.services import EventInput, event_intake

    staff_event, _ = event_intake(
        data=EventInput(description="路灯不亮", lat=float(form(key)["lat"]), lng=float(form(key)["long"])),
        actor=world.users.admin,
    )
    errors(post_update(client, fmt, update_form(key, staff_event.tracking_code)), fmt, 404)
    assert not TimelineEntry.objects.filter(action="reporter_update").exists()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_update_bad_input(world, client, key, fmt):
    event = submit(client, key)
    code = event.tracking_code
    cases = [
        ({"service_request_id": ""}, "service_request_id"),
        ({"status": ""}, "status"),
        ({"status": "FIXED"}, "OPEN 或 CLOSED"),
        ({"updated_datetime": ""}, "updated_datetime"),
        ({"updated_datetime": "yesterday"}, "updated_datetime"),
        ({"description": ""}, "description"),
        ({"description": "长" * 4001}, "description"),
        ({"email": "not-an-email"}, "email"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"update_id": "x" * 65}, "update_id"),
    ]
    for change, needle in cases:
        found = errors(post_update(client, fmt, update_form(key, code, **change)), fmt, 400)
        assert any(needle in d for d in found), (change, found)
    found = errors(post_update(client, fmt, update_form(key, code, status="", description="")), fmt, 400)
    assert len(found) == 2
    assert "api_key" in errors(post_update(client, fmt, update_form("", code)), fmt, 403)[0]
    errors(post_update(client, fmt, update_form("o311_not-a-key", code)), fmt, 403)
    errors(post_update(client, fmt, update_form(key, code, jurisdiction_id="elsewhere.gov")), fmt, 404)
    resp = client.put(f"{BASE}servicerequestupdates.{fmt}")
    errors(resp, fmt, 405)
    assert resp["Allow"] == "GET, POST"
    assert not TimelineEntry.objects.filter(action="reporter_update").exists()
