"""A report whose point lies outside every grid is refused by every channel (issue 18): the REST API,
the resident page 我要说, batches and the 12345 import (as that row's error). A building or address that
places it, a report without a point, a call for help, or an installation without any grid yet: accepted."""

from typing import Any

import pytest
from django.test import Client

from wangge.conftest import assert_error, centre
from wangge.core.errors import InvalidInput
from wangge.events.intake import EventInput, event_intake, event_intake_many
from wangge.events.models import Event
from wangge.territory import locator
from wangge.territory.models import Building

from .test_hotline import HEADERS, URL, xlsx

INSIDE = centre(0, 0)  # (lat, lng) in grid g111
OUTSIDE = (30.0, 110.0)  # far from the test district
REFUSED = "outside_jurisdiction"


def body(at: tuple[float | None, float | None], **kw: Any) -> dict[str, Any]:
    return {"description": "路边井盖丢了，很危险", "lat": at[0], "lng": at[1], **kw}


def test_rest_create_outside_every_grid_is_refused(world, api_for):
    client = api_for(world.users.admin)
    body_ = assert_error(client.post("/api/v1/events/", body(OUTSIDE), format="json"), 400, REFUSED)
    assert "辖区" in body_["message"]
    assert Event.objects.count() == 0
    assert client.post("/api/v1/events/", body(INSIDE), format="json").status_code == 201


def test_rest_create_outside_point_placed_by_building_or_address(world, api_for):
    client = api_for(world.users.admin)
    b = Building.objects.create(
        code="B-1", name="1栋", grid=world.g112, path=world.g112.code, address="幸福路1号"
    )
    by_building = client.post("/api/v1/events/", body(OUTSIDE, building=b.pk), format="json")
    assert by_building.status_code == 201, by_building.content
    by_address = client.post("/api/v1/events/", body(OUTSIDE, address="幸福路1号"), format="json")
    assert by_address.status_code == 201, by_address.content
    assert set(Event.objects.values_list("grid_id", flat=True)) == {world.g112.pk}
    # An address that places nothing does not save a point outside.
    assert_error(
        client.post("/api/v1/events/", body(OUTSIDE, address="无名路口"), format="json"), 400, REFUSED
    )


def test_rest_create_address_only_goes_to_triage(world, api_for):
    resp = api_for(world.users.admin).post(
        "/api/v1/events/", body((None, None), address="无名路口"), format="json"
    )
    assert resp.status_code == 201, resp.content
    event = Event.objects.get()
    assert event.grid_id is None and event.needs_triage


def test_resident_page_outside_every_grid_shows_the_error(world):
    form = {"description": "路边井盖丢了，很危险", "lat": OUTSIDE[0], "lng": OUTSIDE[1]}
    resp = Client().post("/report/", form)
    assert resp.status_code == 400
    assert "该位置不在本系统辖区内" in resp.content.decode()
    assert Event.objects.count() == 0
    ok = Client().post("/report/", {**form, "lat": INSIDE[0], "lng": INSIDE[1]})
    assert ok.status_code == 201
    assert Event.objects.get().grid_id == world.g111.pk


def test_batch_item_outside_is_that_items_error(world):
    items = [
        EventInput(
            description="井盖丢了", lat=OUTSIDE[0], lng=OUTSIDE[1], channel="hotline", external_id="H-1"
        ),
        EventInput(
            description="路灯不亮", lat=INSIDE[0], lng=INSIDE[1], channel="hotline", external_id="H-2"
        ),
    ]
    outside, inside = event_intake_many(items=items, actor=world.users.admin)
    assert outside.error is not None and outside.error.code == REFUSED and outside.event_id is None
    assert inside.error is None and inside.created
    assert list(Event.objects.values_list("external_id", flat=True)) == ["H-2"]


def test_hotline_import_row_outside_is_a_row_error_not_the_file(world, api_for):
    lat, lng = INSIDE
    rows = [
        ["GD1", "2025-10-09 09:15", "", "", "投诉", "一般", "井盖丢了", "", OUTSIDE[1], OUTSIDE[0], ""],
        ["GD2", "2025-10-09 09:20", "", "", "投诉", "一般", "路灯不亮", "", lng, lat, ""],
    ]
    resp = api_for(world.users.street1).post(URL, {"file": xlsx(rows, HEADERS)}, format="multipart")
    assert resp.status_code == 200, resp.content
    result = resp.json()
    assert result["created"] == 1 and result["error_rows"] == 1
    assert "辖区" in json_text(result["errors"])
    assert list(Event.objects.values_list("external_id", flat=True)) == ["GD2"]


def json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize(
    "kw",
    [
        {"channel": "sos"},  # a call for help is never turned away for its position
        {"channel": "sensor"},
        {"channel": "hotline", "urgency": "critical"},  # sent as 特急
    ],
)
def test_calls_for_help_are_never_refused(world, kw):
    event, created = event_intake(
        data=EventInput(description="有人晕倒", lat=OUTSIDE[0], lng=OUTSIDE[1], **kw)
    )
    assert created and event.grid_id is None and event.needs_triage


def test_no_grid_drawn_yet_refuses_nothing(db):
    """A new installation before its grids are drawn has no jurisdiction to be outside of."""
    locator.invalidate()
    event, created = event_intake(data=EventInput(description="井盖丢了", lat=OUTSIDE[0], lng=OUTSIDE[1]))
    assert created and event.grid_id is None


def test_one_check_for_every_channel(world):
    with pytest.raises(InvalidInput) as refused:
        event_intake(
            data=EventInput(description="井盖丢了", lat=OUTSIDE[0], lng=OUTSIDE[1], channel="patrol")
        )
    assert refused.value.code == REFUSED
