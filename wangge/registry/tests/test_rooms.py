"""The building register (一幢一册) with rooms that are not numbers: natural order, never a 500."""

from typing import Any

import pytest
from django.test import Client

from wangge.registry.selectors import _natural
from wangge.registry.services import dwelling_create
from wangge.registry.tests.factories import make_building


@pytest.fixture
def building(world: Any) -> Any:
    b = make_building(world.g111, "B1")
    for room in ("1001", "201", "商铺A", "101", "B2", "²"):
        dwelling_create(actor=world.users.admin, building=b, room=room, unit="1")
    return b


def test_api_card_sorts_numeric_rooms_first_then_text(world, api_for, building):
    resp = api_for(world.users.grid1).get(f"/api/v1/buildings/{building.pk}/")
    assert resp.status_code == 200, resp.content[:300]
    rooms = [d["room"] for d in resp.json()["dwellings"]]
    assert rooms[:3] == ["101", "201", "1001"]
    assert sorted(rooms[3:]) == sorted(["商铺A", "B2", "²"])


def test_building_page_with_a_shop_room(world, building):
    client = Client()
    client.force_login(world.users.grid1)
    resp = client.get(f"/buildings/{building.pk}/")
    assert resp.status_code == 200
    assert "商铺A" in resp.content.decode()


def test_natural_key_orders_mixed_rooms_without_comparing_int_and_text():
    rooms = ["商铺A", "10", "2", "A1", "2B", "", "B-3", "1001"]
    assert sorted(rooms, key=_natural) == ["2", "2B", "10", "1001", "", "A1", "B-3", "商铺A"]
