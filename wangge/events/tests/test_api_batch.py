"""POST /api/v1/events/batch/: many reports in one request, idempotent per external_id, errors per item."""

from typing import Any

import pytest

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.events.models import Event, TimelineEntry
from wangge.events.tests.core_helpers import G111, G112, staff

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/batch/"


def item(n: int, **kw: Any) -> dict[str, Any]:
    lat, lng = G111 if n % 2 else G112
    data = {"description": f"路灯不亮，晚上很黑（{n}）", "lat": lat, "lng": lng, "external_id": f"WO-{n}"}
    data.update(kw)
    return data


def test_a_batch_goes_in_and_a_resent_batch_creates_nothing(world: Any, api_for: Any) -> None:
    staff(world)
    client = api_for(world.users.community1)
    items = [item(1), item(2, channel="hotline"), item(3, description="   "), item(4, external_id="")]
    items.append("不是对象")
    r = client.post(URL, {"items": items}, format="json")
    assert r.status_code == 200, r.content
    got = r.json()
    assert (got["total"], got["created"], got["duplicates"], got["errors"]) == (5, 2, 0, 3)
    first, second, blank, no_id, bad = got["results"]
    assert [x["index"] for x in got["results"]] == [0, 1, 2, 3, 4]
    assert first["created"] and first["tracking_code"] and not first["needs_triage"]
    e1 = Event.objects.get(pk=first["id"])
    assert e1.path == world.g111.code and e1.external_id == "WO-1" and e1.channel == "api"
    assert Event.objects.get(pk=second["id"]).channel == "hotline"
    assert blank["error"]["code"] and "id" not in blank
    assert no_id["error"]["code"] == "external_id_required"
    assert bad["error"]["code"] == "invalid"
    assert list(TimelineEntry.objects.filter(event=e1).values_list("action", flat=True)) == [
        "report",
        "triage",
    ]
    assert AuditEntry.objects.filter(action="event.create_batch").count() == 1
    # The same batch again (a client retry after a timeout): nothing new, the same events named.
    again = client.post(URL, {"items": items[:2]}, format="json").json()
    assert (again["created"], again["duplicates"], again["errors"]) == (0, 2, 0)
    assert [x["id"] for x in again["results"]] == [first["id"], second["id"]]
    assert Event.objects.count() == 2


def test_batch_permissions_and_bad_bodies(world: Any, api_for: Any, client: Any) -> None:
    for user in (world.users.grid1, world.users.resident1, world.users.dept1):
        assert_error(api_for(user).post(URL, {"items": [item(1)]}, format="json"), 403, "permission_denied")
    assert client.post(URL, {"items": [item(1)]}, content_type="application/json").status_code == 401
    admin = api_for(world.users.admin)
    assert_error(admin.post(URL, {"items": []}, format="json"), 400, "invalid")
    assert_error(admin.post(URL, {"items": "x"}, format="json"), 400, "invalid")
    assert_error(admin.post(URL, {"items": [item(i) for i in range(5001)]}, format="json"), 400, "invalid")
    assert Event.objects.count() == 0
