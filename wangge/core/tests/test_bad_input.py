"""Bad input is a clear 400 that changes nothing: deep JSON, out-of-range numbers, NUL characters."""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from wangge.conftest import assert_error, centre
from wangge.core import parsers
from wangge.events.intake.mqtt import mqtt_handle
from wangge.events.models import Event
from wangge.open311.services import api_key_create
from wangge.territory.models import Building

DEEP = "[" * 100_000 + "]" * 100_000
REPORT = {"description": "小区门口路灯坏了很久没人修", "address": "解放路 8 号"}


def post_json(client: Any, url: str, body: str) -> Any:
    return client.generic("POST", url, body.encode(), content_type="application/json")


# ---- JSON nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/events/", "/api/v1/buildings/", "/api/v1/events/batch/", "/api/v1/auth/token/"]
)
def test_json_nested_100000_levels_is_a_400(world, api_for, url):
    client = api_for(world.users.admin)
    before = (Event.objects.count(), Building.objects.count())
    assert_error(post_json(client, url, DEEP), 400, "parse_error")
    # Deep inside an otherwise valid report, too.
    body = json.dumps(REPORT)[:-1] + ', "extra": ' + DEEP + "}"
    assert_error(post_json(client, url, body), 400, "parse_error")
    assert (Event.objects.count(), Building.objects.count()) == before


def test_json_a_little_nesting_is_still_fine(world, api_for):
    client = api_for(world.users.admin)
    resp = post_json(client, "/api/v1/events/", json.dumps(REPORT))
    assert resp.status_code == 201, resp.content
    parsers.check_parsed({"a": [[{"b": 1}]]})


def test_bounded_loads_never_raises_recursion_error():
    with pytest.raises(ValueError):
        parsers.loads(DEEP)
    with pytest.raises(ValueError):
        parsers.loads('{"a": "x\\u0000y"}')
    assert parsers.loads('{"a": [1, 2]}') == {"a": [1, 2]}


def test_mqtt_deep_payload_is_dropped_not_raised(db):
    payload = ('{"msg_id": "m1", "type": ' + "[" * 8000 + "]" * 8000 + "}").encode()
    result = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=payload)
    assert result.status == "dropped" and result.reason == "bad_json"


# ---- integers out of the database's range --------------------------------------------------------


@pytest.mark.parametrize("building", [2**63, 10**22, -5, 0])
def test_event_building_out_of_range_is_a_400(world, api_for, building):
    client = api_for(world.users.admin)
    body = assert_error(client.post("/api/v1/events/", {**REPORT, "building": building}, format="json"), 400)
    assert "building" in body["details"]
    assert Event.objects.count() == 0


def test_event_with_an_unknown_building_is_a_400(world, api_for):
    # The foreign key is only checked at COMMIT (after the 201 was decided): a server error in real use.
    for who, url, body in (
        (world.users.grid1, "/api/v1/events/", {**REPORT, "building": 987654}),
        (
            world.users.admin,
            "/api/v1/events/batch/",
            {"items": [{**REPORT, "building": 987654, "external_id": "B-1"}]},
        ),
    ):
        resp = api_for(who).post(url, body, format="json")
        assert resp.status_code in (400, 207, 200), resp.content[:300]
        assert "invalid_building" in resp.content.decode(), resp.content[:300]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "field,value", [("floors", 2**63), ("floors", 40_000), ("units", 10**22), ("lat", "1e999")]
)
def test_building_numbers_out_of_range_are_a_400(world, api_for, field, value):
    client = api_for(world.users.admin)
    lat, lng = centre(0, 0)
    data = {"code": "B9", "name": "9栋", "grid": world.g111.pk, "lat": lat, "lng": lng}
    body = json.dumps(data)[:-1] + f', "{field}": {value}' + "}"
    resp = post_json(client, "/api/v1/buildings/", body)
    assert field in assert_error(resp, 400)["details"]
    assert not Building.objects.filter(code="B9").exists()


def test_dwelling_floor_beyond_smallint_is_a_400(world, api_for):
    client = api_for(world.users.admin)
    b = Building.objects.create(code="B1", name="1栋", grid=world.g111, path=world.g111.code)
    resp = client.post(
        "/api/v1/dwellings/", {"building": b.pk, "room": "101", "floor": 40_000}, format="json"
    )
    assert "floor" in assert_error(resp, 400)["details"]
    assert not b.dwellings.exists()


# ---- NUL characters ------------------------------------------------------------------------------


def test_open311_description_with_nul_is_refused(world):
    _, key = api_key_create(actor=world.users.admin, name="测试客户端")
    lat, lng = centre(0, 0)
    form = {
        "api_key": key,
        "jurisdiction_id": "wangge.local",
        "service_code": "0101",
        "lat": str(lat),
        "long": str(lng),
        "description": "垃圾桶满溢\x00气味很大",
    }
    resp = Client().post(
        "/open311/v2/requests.json",
        urlencode(form),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )
    assert resp.status_code == 400
    assert "空字符" in resp.json()[0]["description"]
    assert Event.objects.count() == 0


def test_json_string_or_key_with_nul_is_refused(world, api_for):
    client = api_for(world.users.admin)
    for body in ({**REPORT, "extra": {"note": "a\x00b"}}, {**REPORT, "ex\x00tra": 1}):
        assert_error(post_json(client, "/api/v1/events/", json.dumps(body)), 400, "parse_error")
    assert Event.objects.count() == 0


def test_api_query_with_nul_is_a_400(world, api_for):
    assert_error(api_for(world.users.admin).get("/api/v1/events/", {"q": "a\x00b"}), 400, "nul_character")


def test_page_query_and_form_with_nul_are_a_400(world):
    client = Client()
    client.force_login(world.users.grid1)
    resp = client.get("/residents/", {"q": "张\x00"})
    assert resp.status_code == 400 and "空字符" in resp.content.decode()
    resp = client.post("/residents/", {"q": "张\x00"})
    assert resp.status_code == 400
