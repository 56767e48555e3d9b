"""Open311 GeoReport v2 conformance: every endpoint in XML and JSON, every error case, idempotency."""

import json
import re
from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from wangge.conftest import centre
from wangge.core import crypto
from wangge.events.common.reporter import reporter_token
from wangge.events.models import ApiKey, Category, Event, TimelineEntry
from wangge.events.services import EventInput, event_create, event_reject
from wangge.open311.services import api_key_create, api_key_revoke

BASE = "/open311/v2/"
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
FORMATS = ["xml", "json"]
LAT, LNG = centre(0, 0)  # inside grid 420802001001001
PHONE = "13912345678"


def parse(resp: Any, fmt: str) -> Any:
    """The body as Python data: JSON as is; XML (checked: declaration, UTF-8) as an Element."""
    if fmt == "json":
        assert resp["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(resp.content)
    assert resp["Content-Type"] == "text/xml; charset=utf-8"
    assert resp.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(resp.content)  # noqa: S314 - our own output


def rows(resp: Any, fmt: str, root: str, item: str) -> list[dict[str, Any]]:
    """A list document as a list of dicts of text (XML) or values (JSON)."""
    data = parse(resp, fmt)
    if fmt == "json":
        assert isinstance(data, list)
        return data
    assert data.tag == root
    out = []
    for el in data:
        assert el.tag == item
        out.append({child.tag: (child.text if len(child) == 0 else child) for child in el})
    return out


def errors(resp: Any, fmt: str, status: int) -> list[str]:
    """Assert the spec's error document: [{code, description}] / <errors><error>…"""
    assert resp.status_code == status, (resp.status_code, resp.content[:300])
    found = rows(resp, fmt, "errors", "error")
    assert found
    for e in found:
        assert set(e) == {"code", "description"}
        assert str(e["code"]) == str(status)
        if fmt == "json":
            assert isinstance(e["code"], int)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e["description"])
    return [e["description"] for e in found]


@pytest.fixture
def key(world: Any) -> str:
    _, raw = api_key_create(actor=world.users.admin, name="测试客户端")
    return raw


@pytest.fixture
def client() -> Client:
    return Client()


def post(client: Client, fmt: str, data: dict[str, Any], **headers: str) -> Any:
    """POST as the spec says: application/x-www-form-urlencoded, UTF-8."""
    return client.post(
        f"{BASE}requests.{fmt}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        headers=headers,
    )


def form(key: str, **extra: Any) -> dict[str, Any]:
    data = {
        "api_key": key,
        "jurisdiction_id": "wangge.local",
        "service_code": "0101",
        "lat": str(LAT),
        "long": str(LNG),
        "description": "小区门口垃圾桶满溢，气味很大",
        "first_name": "三",
        "last_name": "张",
        "phone": PHONE,
        "email": "zhang@example.com",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def report(text: str = "楼下垃圾没人清扫", **kw: Any) -> Event:
    data = EventInput(description=text, lat=LAT, lng=LNG, channel=kw.pop("channel", "api"), **kw)
    event, _ = event_create(data=data)
    return event


# --- discovery, services, definitions ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(db, client, fmt):
    resp = client.get(f"{BASE}discovery.{fmt}")
    assert resp.status_code == 200
    data = parse(resp, fmt)
    if fmt == "json":
        endpoint = data["endpoints"][0]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2")  # clients append "/services.xml"
        assert set(endpoint["formats"]) == {"text/xml", "application/json"}
        assert W3C.match(data["changeset"])
    else:
        assert data.tag == "discovery"
        ep = data.find("endpoints/endpoint")
        assert ep.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
        assert {f.text for f in ep.findall("formats/format")} == {"text/xml", "application/json"}
        assert data.findtext("key_service")


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_is_active_leaf_categories(db, client, fmt):
    Category.objects.filter(code="0102").update(active=False)
    resp = client.get(f"{BASE}services.{fmt}", {"jurisdiction_id": "wangge.local"})
    assert resp.status_code == 200
    services = {s["service_code"]: s for s in rows(resp, fmt, "services", "service")}
    assert "0101" in services and "01" not in services and "0102" not in services
    s = services["0101"]
    assert s["service_name"] == "环境卫生" and s["group"] == "市容环境" and s["type"] == "realtime"
    assert str(s["metadata"]).lower() == "true"
    assert "垃圾" in s["keywords"]
    assert set(s) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(db, client, fmt):
    resp = client.get(f"{BASE}services/0101.{fmt}")
    assert resp.status_code == 200
    data = parse(resp, fmt)
    if fmt == "json":
        assert data["service_code"] == "0101"
        attrs = {a["code"]: a for a in data["attributes"]}
        urgency = attrs["urgency"]
        assert urgency["datatype"] == "singlevaluelist" and urgency["variable"] is True
        assert urgency["required"] is False and urgency["order"] == 1
        assert [v["name"] for v in urgency["values"]] == ["一般", "紧急", "特急"]
        orders = [a["order"] for a in data["attributes"]]
    else:
        assert data.tag == "service_definition" and data.findtext("service_code") == "0101"
        attrs = {a.findtext("code"): a for a in data.findall("attributes/attribute")}
        urgency = attrs["urgency"]
        assert urgency.findtext("datatype") == "singlevaluelist"
        assert urgency.findtext("variable") == "true" and urgency.findtext("required") == "false"
        assert [v.findtext("name") for v in urgency.findall("values/value")] == ["一般", "紧急", "特急"]
        assert all(a.find("datatype_description") is not None for a in attrs.values())
        orders = [int(a.findtext("order")) for a in attrs.values()]
    assert len(set(orders)) == len(orders) and min(orders) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404(db, client, fmt):
    errors(client.get(f"{BASE}services/nope.{fmt}"), fmt, 404)
    errors(client.get(f"{BASE}services/01.{fmt}"), fmt, 404)  # a group, not a leaf


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_jurisdiction_is_404_on_every_method(db, client, key, fmt):
    bad = {"jurisdiction_id": "elsewhere.gov"}
    for url in (
        "services",
        "services/0101",
        "requests",
        "requests/ABC",
        "tokens/ABC",
        "servicerequestupdates",
    ):
        errors(client.get(f"{BASE}{url}.{fmt}", bad), fmt, 404)
    errors(post(client, fmt, form(key, jurisdiction_id="elsewhere.gov")), fmt, 404)


def test_unknown_format_and_path_are_404(db, client, key):
    for url in ("services.html", "services", "requests/ABC.csv", "discovery.yaml", "nothing.xml"):
        resp = client.get(BASE + url)
        errors(resp, "xml", 404)
    errors(client.get(BASE + "nothing.json"), "json", 404)
    errors(post(client, "txt", form(key)), "xml", 404)
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_method_is_405(db, client, fmt):
    resp = client.put(f"{BASE}requests.{fmt}")
    errors(resp, fmt, 405)
    assert resp["Allow"] == "GET, POST"
    errors(client.post(f"{BASE}services.{fmt}"), fmt, 405)


# --- POST requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_an_event(world, client, key, fmt):
    resp = post(client, fmt, form(key, account_id="acc-9", **{"attribute[urgency]": "urgent"}))
    assert resp.status_code == 201, resp.content
    (row,) = rows(resp, fmt, "service_requests", "request")
    assert set(row) == {"service_request_id", "service_notice", "account_id", "reporter_token"}
    assert "token" not in row
    assert row["account_id"] == "acc-9"
    event = Event.objects.get()
    assert row["reporter_token"] == reporter_token(event)
    assert row["service_request_id"] == event.tracking_code
    assert event.tracking_code in row["service_notice"]
    assert event.channel == "open311" and event.category.code == "0101" and event.urgency == "urgent"
    assert (event.lat, event.lng) == (LAT, LNG)
    assert event.grid_id == world.g111.pk  # triaged by intake
    assert crypto.decrypt(event.reporter_phone_enc) == PHONE
    assert crypto.decrypt(event.reporter_name_enc) == "张三"
    stored = json.dumps(event.extra, ensure_ascii=False)
    assert "zhang@example.com" not in stored and "acc-9" not in stored and key not in stored
    assert event.extra["open311"]["client"] == "测试客户端"


def test_post_with_address_id_and_address_string(world, client, key):
    from wangge.territory.models import Building

    b = Building.objects.create(
        code="B-001", name="1栋", grid=world.g112, path=world.g112.code, address="幸福路1号"
    )
    resp = post(client, "json", form(key, lat=None, long=None, address_id="B-001"))
    assert resp.status_code == 201, resp.content
    event = Event.objects.get(tracking_code=resp.json()[0]["service_request_id"])
    assert event.building_id == b.pk and event.address == "幸福路1号"
    resp = post(client, "json", form(key, lat=None, long=None, address_string="解放路 8 号"))
    assert resp.status_code == 201
    detail = client.get(f"{BASE}requests/{resp.json()[0]['service_request_id']}.json").json()[0]
    assert detail["address"] == "解放路 8 号" and detail["lat"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_api_key_errors_are_403(world, client, key, fmt):
    data = form(key)
    del data["api_key"]
    assert "api_key" in errors(post(client, fmt, data), fmt, 403)[0]
    errors(post(client, fmt, form("o311_not-a-key")), fmt, 403)
    api_key_revoke(actor=None, name="测试客户端")
    errors(post(client, fmt, form(key)), fmt, 403)
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_validation_errors_are_400(world, client, key, fmt):
    cases = [
        ({"service_code": ""}, "service_code"),
        ({"lat": None, "long": None}, "位置"),
        ({"long": None}, "long"),
        ({"lat": "north"}, "lat"),
        ({"lat": "95"}, "超出范围"),
        ({"attribute[urgency]": "very"}, "attribute[urgency]"),
        ({"attribute[colour]": "red"}, "attribute[colour]"),
        ({"attribute[occurred_datetime]": "yesterday"}, "attribute[occurred_datetime]"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"description": "长" * 4001}, "description"),
        ({"address_id": "NO-SUCH", "lat": None, "long": None}, "address_id"),
    ]
    for change, needle in cases:
        found = errors(post(client, fmt, form(key, **change)), fmt, 400)
        assert any(needle in d for d in found), (change, found)
    # Several problems at once are listed together.
    found = errors(
        post(client, fmt, form(key, lat=None, long=None, email="x", **{"attribute[urgency]": "z"})), fmt, 400
    )
    assert len(found) == 3
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_unknown_service_is_404(world, client, key, fmt):
    errors(post(client, fmt, form(key, service_code="9999")), fmt, 404)


def test_post_multivalue_attribute_syntax_is_understood(world, client, key):
    # attribute[code][]=v is the spec's list syntax; a single-value list must refuse two values.
    found = errors(
        post(client, "json", form(key, **{"attribute[urgency][]": ["normal", "urgent"]})), "json", 400
    )
    assert "只能取一个值" in found[0]
    resp = post(client, "json", form(key, **{"attribute[urgency][]": "critical"}))
    assert resp.status_code == 201
    assert Event.objects.get().urgency == "critical"


def test_post_anonymous_keeps_no_reporter_data(world, client, key):
    resp = post(client, "json", form(key, **{"attribute[anonymous]": "true"}))
    assert resp.status_code == 201
    event = Event.objects.get()
    assert event.anonymous and event.reporter_phone_enc == "" and event.reporter_phone_hash is None
    assert "email_hash" not in event.extra["open311"]


# --- idempotency -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_with_idempotency_key_returns_the_first_request(world, client, key, fmt):
    first = post(client, fmt, form(key), **{"Idempotency-Key": "retry-1"})
    again = post(client, fmt, form(key), **{"Idempotency-Key": "retry-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert rows(first, fmt, "service_requests", "request") == rows(again, fmt, "service_requests", "request")
    assert Event.objects.count() == 1
    # The same key with a different body is refused, not silently answered with the first request.
    errors(post(client, fmt, form(key, description="另一件事"), **{"Idempotency-Key": "retry-1"}), fmt, 400)
    # Another client may use the same key value independently.
    _, other = api_key_create(actor=None, name="另一个客户端")
    assert post(client, fmt, form(other), **{"Idempotency-Key": "retry-1"}).status_code == 201
    assert Event.objects.count() == 2


def test_replay_by_external_id_and_by_device(world, client, key):
    a = post(client, "json", form(key, **{"attribute[external_id]": "app-77"}))
    b = post(client, "json", form(key, description="改了描述再发", **{"attribute[external_id]": "app-77"}))
    assert a.status_code == 201 and b.status_code == 200
    assert a.json()[0]["service_request_id"] == b.json()[0]["service_request_id"]
    c = post(client, "json", form(key, device_id="phone-1"))
    d = post(client, "json", form(key, device_id="phone-1"))
    assert c.json() == d.json() and d.status_code == 200
    # Without any retry key, two posts are two reports.
    post(client, "json", form(key))
    post(client, "json", form(key))
    assert Event.objects.count() == 4


# --- tokens ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_tokens(world, client, key, fmt):
    code = post(client, "json", form(key)).json()[0]["service_request_id"]
    resp = client.get(f"{BASE}tokens/{code}.{fmt}")
    assert resp.status_code == 200
    (row,) = rows(resp, fmt, "service_requests", "request")
    assert row == {"service_request_id": code, "token": code}
    errors(client.get(f"{BASE}tokens/NOPE.{fmt}"), fmt, 404)


# --- GET requests ------------------------------------------------------------------------------------

FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_request_fields_and_no_personal_data(world, client, key, fmt):
    desc = "垃圾堆<满>了 & 没人管，联系我 13800001111"
    code = post(
        client, "json", form(key, description=desc, media_url="https://img.example.com/1.jpg")
    ).json()[0]["service_request_id"]
    resp = client.get(f"{BASE}requests/{code}.{fmt}", {"jurisdiction_id": "wangge.local"})
    assert resp.status_code == 200
    (row,) = rows(resp, fmt, "service_requests", "request")
    assert set(row) == FIELDS
    assert row["service_request_id"] == code and row["status"] == "open"
    assert row["service_code"] == "0101" and row["service_name"] == "环境卫生"
    assert row["description"] == "垃圾堆<满>了 & 没人管，联系我 138****1111"  # escaped XML round-trips
    assert row["media_url"] == "https://img.example.com/1.jpg"
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C.match(row[name]), (name, row[name])
    assert row["requested_datetime"].endswith("+08:00")
    assert float(row["lat"]) == LAT and float(row["long"]) == LNG
    body = resp.content.decode()
    for secret in (PHONE, "张三", "zhang@example.com", "13800001111"):
        assert secret not in body
    errors(client.get(f"{BASE}requests/NOPE123.{fmt}"), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_filters(world, client, key, fmt):
    a = report("垃圾满了", category_code="0101")
    b = report("楼道堆满杂物", category_code="0102")
    c = report("油烟太大", category_code="0103")
    old = report("很久以前的垃圾问题", category_code="0101")
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    event_reject(event_id=c.pk, actor=world.users.admin, reason="不属于本平台受理范围")

    def ids(**params: Any) -> set[str]:
        resp = client.get(f"{BASE}requests.{fmt}", params)
        assert resp.status_code == 200, resp.content
        return {r["service_request_id"] for r in rows(resp, fmt, "service_requests", "request")}

    assert ids() == {a.tracking_code, b.tracking_code, c.tracking_code}  # default: last 90 days
    assert ids(service_code="0101,0102") == {a.tracking_code, b.tracking_code}
    assert ids(status="closed") == {c.tracking_code}
    assert ids(status="open") == {a.tracking_code, b.tracking_code}
    assert ids(status="open,closed") == {a.tracking_code, b.tracking_code, c.tracking_code}
    # service_request_id overrides the other filters (the old one is found too).
    assert ids(service_request_id=f"{old.tracking_code},{c.tracking_code}", status="open") == {
        old.tracking_code,
        c.tracking_code,
    }
    start = (timezone.now() - timedelta(days=130)).isoformat()
    end = (timezone.now() - timedelta(days=100)).isoformat()
    assert ids(start_date=start, end_date=end) == {old.tracking_code}
    assert ids(start_date=start.replace("+00:00", "Z")) == {old.tracking_code}  # start + 90 days
    # A closed request carries the reason and the spec's status.
    resp = client.get(f"{BASE}requests/{c.tracking_code}.{fmt}")
    (row,) = rows(resp, fmt, "service_requests", "request")
    assert row["status"] == "closed" and row["status_notes"] == "不属于本平台受理范围"
    assert not row.get("expected_datetime")


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_bad_filters_are_400(db, client, fmt):
    now = timezone.now()
    for params in (
        {"start_date": "last tuesday"},
        {"end_date": "2025-13-45T00:00:00Z"},
        {"status": "pending"},
        {"start_date": now.isoformat(), "end_date": (now - timedelta(days=1)).isoformat()},
        {"start_date": (now - timedelta(days=200)).isoformat(), "end_date": now.isoformat()},
    ):
        errors(client.get(f"{BASE}requests.{fmt}", params), fmt, 400)


def test_get_requests_caps_results_at_1000(world, client, monkeypatch):
    from wangge.open311 import selectors

    monkeypatch.setattr(selectors, "MAX_RESULTS", 2)
    for i in range(3):
        report(f"垃圾问题{i}")
    assert len(client.get(f"{BASE}requests.json").json()) == 2


def test_updated_datetime_moves_after_a_transition(world, client):
    event = report("垃圾没人收")
    earlier = timezone.now() - timedelta(hours=2)
    Event.objects.filter(pk=event.pk).update(updated_at=earlier)
    before = client.get(f"{BASE}requests/{event.tracking_code}.json").json()[0]
    event_reject(event_id=event.pk, actor=world.users.admin, reason="重复上报")
    after = client.get(f"{BASE}requests/{event.tracking_code}.json").json()[0]
    assert before["status"] == "open" and after["status"] == "closed"
    assert after["updated_datetime"] > before["updated_datetime"]


def test_sos_events_are_hidden_and_disputes_withheld(world, client):
    sos = report("一键呼叫：老人摔倒", channel="sos")
    Category.objects.filter(code="0101").update(is_dispute=True)
    dispute = report("邻里因漏水吵架，张某电话13700001111", category_code="0101")
    assert client.get(f"{BASE}requests/{sos.tracking_code}.json").status_code == 404
    row = client.get(f"{BASE}requests/{dispute.tracking_code}.json").json()[0]
    assert "张某" not in json.dumps(row, ensure_ascii=False)
    assert row["lat"] is None and row["address"] is None
    listed = {r["service_request_id"] for r in client.get(f"{BASE}requests.json").json()}
    assert sos.tracking_code not in listed and dispute.tracking_code in listed


def test_history_imported_from_an_older_system_is_not_published(world, client):
    old = report("2019年的投诉：楼下烧烤扰民，王某13700002222", channel="history")
    assert client.get(f"{BASE}requests/{old.tracking_code}.json").status_code == 404
    listed = {r["service_request_id"] for r in client.get(f"{BASE}requests.json").json()}
    assert old.tracking_code not in listed


# --- servicerequestupdates (mySociety) ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_request_updates(world, client, fmt):
    event = report("垃圾没人收")
    event_reject(event_id=event.pk, actor=world.users.admin, reason="已转环卫部门 电话13600001111")
    from wangge.events.services import timeline_append

    timeline_append(event=event, actor=world.users.admin, action="note", note="内部备注", public=False)
    resp = client.get(f"{BASE}servicerequestupdates.{fmt}")
    assert resp.status_code == 200
    found = rows(resp, fmt, "service_request_updates", "request_update")
    entries = {str(e.pk): e for e in TimelineEntry.objects.filter(event=event, public=True)}
    assert {u["update_id"] for u in found} == set(entries)
    last = found[-1]
    assert last["service_request_id"] == event.tracking_code and last["status"] == "closed"
    assert last["description"] == "已转环卫部门 电话136****1111"
    assert W3C.match(last["updated_datetime"])
    assert "内部备注" not in resp.content.decode()
    # A window in the past holds nothing; bad dates are 400.
    past = {"start_date": "2020-01-01T00:00:00+08:00", "end_date": "2020-01-02T00:00:00+08:00"}
    assert (
        rows(client.get(f"{BASE}servicerequestupdates.{fmt}", past), fmt, "service_request_updates", "x")
        == []
    )
    errors(client.get(f"{BASE}servicerequestupdates.{fmt}", {"start_date": "soon"}), fmt, 400)


# --- api keys ----------------------------------------------------------------------------------------


def test_open311_key_command(db, client):
    out = StringIO()
    call_command("open311-key", "create", "--name", "区12345平台", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip()
    assert raw.startswith("o311_") and len(raw) > 30
    row = ApiKey.objects.get(name="区12345平台")
    assert row.key_hash == crypto.digest(raw) and raw not in row.key_hash
    listing = StringIO()
    call_command("open311-key", "list", stdout=listing)
    assert "区12345平台" in listing.getvalue() and raw not in listing.getvalue()
    call_command("open311-key", "revoke", "--name", "区12345平台", stdout=StringIO())
    assert not ApiKey.objects.get(name="区12345平台").active
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("open311-key", "revoke", "--name", "区12345平台", stdout=StringIO())


def test_open311_report_travels_the_whole_loop(world, client, key):
    """POST → accept → dispatch → feedback → verify (closed) → rate, seen through GET and updates."""
    from wangge.events.services import event_accept, event_dispatch, event_feedback, event_verify

    (answer,) = post(client, "json", form(key), **{"Idempotency-Key": "loop-1"}).json()
    code, token = answer["service_request_id"], answer["reporter_token"]
    event = Event.objects.get(tracking_code=code)
    admin, grid1 = world.users.admin, world.users.grid1
    event_accept(event_id=event.pk, actor=admin)
    event_dispatch(event_id=event.pk, actor=admin, user_id=grid1.pk, reason="")
    assert client.get(f"{BASE}requests/{code}.json").json()[0]["status"] == "open"
    event_feedback(event_id=event.pk, actor=grid1, note="已清运完毕")
    event_verify(event_id=event.pk, actor=admin, passed=True, note="现场核实已清理")
    row = client.get(f"{BASE}requests/{code}.xml")
    (closed,) = rows(row, "xml", "service_requests", "request")
    assert closed["status"] == "closed" and closed["status_notes"] == "现场核实已清理"
    # The public id alone does not rate; the token the submitting client got does.
    rating = f"/api/v1/track/{code}/rating/"
    refused = client.post(rating, {"rating": "satisfied"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "reporter_token_required"
    body = {"rating": "satisfied", "reporter_token": token}
    assert client.post(rating, body, content_type="application/json").status_code == 200
    listed = client.get(f"{BASE}requests.json", {"service_request_id": code}).content.decode()
    updated = client.get(f"{BASE}servicerequestupdates.json").content.decode()
    assert token not in listed and token not in updated
    assert client.get(f"{BASE}requests.json", {"status": "closed"}).json()[0]["service_request_id"] == code
    updates = client.get(f"{BASE}servicerequestupdates.json").json()
    assert [u["status"] for u in updates if u["service_request_id"] == code][-1] == "closed"
    assert "已清运完毕" in [u["description"] for u in updates]
    # A late retry of the original POST still answers with the same request, now closed.
    again = post(client, "json", form(key), **{"Idempotency-Key": "loop-1"})
    assert again.status_code == 200 and again.json()[0]["service_request_id"] == code
    assert Event.objects.count() == 1
