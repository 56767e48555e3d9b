"""The grid map's buildings/compounds layer and the map page's labels, layers and base-map message."""

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse, set_script_prefix

from wangge.conftest import centre
from wangge.registry.services import building_create
from wangge.territory import mapdata
from wangge.territory.models import Compound

# A box around the whole test lattice (four 0.005° squares from 112.20, 31.03).
ALL = "112.19,31.02,112.23,31.04"


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def places(world: Any) -> dict[str, Any]:
    admin = world.users.admin
    compound = Compound.objects.create(
        code="C001", name="六合小区", community=world.c11, grid=world.g111, path=world.g111.path
    )
    lat, lng = centre(0, 0)
    b1 = building_create(
        actor=admin, code="B001", name="1栋", compound=compound, lat=lat, lng=lng, address="六合路1号"
    )
    b2 = building_create(
        actor=admin, code="B002", name="2栋", compound=compound, lat=lat + 0.001, lng=lng + 0.001
    )
    lat2, lng2 = centre(1, 0)
    b3 = building_create(actor=admin, code="B003", name="3栋", lat=lat2, lng=lng2)
    return {"b1": b1, "b2": b2, "b3": b3, "compound": compound}


def _kinds(data: dict[str, Any], kind: str) -> set[str]:
    return {f["properties"]["name"] for f in data["features"] if f["properties"]["kind"] == kind}


def test_grid_worker_gets_only_buildings_of_their_grid_with_compound_outline(world: Any, places: Any) -> None:
    r = client_for(world.users.grid1).get(reverse("map-places"), {"bbox": ALL})
    assert r.status_code == 200
    data = r.json()
    assert _kinds(data, "building") == {"1栋", "2栋"}
    assert _kinds(data, "compound") == {"六合小区"}
    outline = next(f for f in data["features"] if f["properties"]["kind"] == "compound")
    assert outline["geometry"]["type"] == "Polygon"
    assert data["truncated"] is False
    # community staff of c11 also see grid g112's building
    r = client_for(world.users.community1).get(reverse("map-places"), {"bbox": ALL})
    assert _kinds(r.json(), "building") == {"1栋", "2栋", "3栋"}


def test_places_bounded_by_bbox_and_count(world: Any, places: Any, monkeypatch: Any) -> None:
    lat, lng = centre(1, 0)
    box = f"{lng - 0.001},{lat - 0.001},{lng + 0.001},{lat + 0.001}"
    data = client_for(world.users.admin).get(reverse("map-places"), {"bbox": box}).json()
    assert _kinds(data, "building") == {"3栋"}
    monkeypatch.setattr(mapdata, "MAX_BUILDINGS", 2)
    data = client_for(world.users.admin).get(reverse("map-places"), {"bbox": ALL}).json()
    assert len(_kinds(data, "building")) == 2
    assert data["truncated"] is True


@pytest.mark.parametrize(
    "bbox,code",
    [
        (None, "bbox_required"),
        ("", "bbox_required"),
        ("1,2,3", "bbox_invalid"),
        ("a,b,c,d", "bbox_invalid"),
        ("nan,31,112.2,31.1", "bbox_invalid"),
        ("112.3,31,112.2,31.1", "bbox_invalid"),
        ("112,31,200,31.1", "bbox_invalid"),
        ("100,20,120,40", "bbox_too_large"),
    ],
)
def test_bad_bbox_is_a_clear_400(world: Any, bbox: str | None, code: str) -> None:
    params = {} if bbox is None else {"bbox": bbox}
    r = client_for(world.users.grid1).get(reverse("map-places"), params)
    assert r.status_code == 400
    assert r.json()["code"] == code and r.json()["message"]


@pytest.mark.parametrize("who,status", [("resident1", 403), ("member1", 403)])
def test_places_need_the_territory_permission(world: Any, places: Any, who: str, status: int) -> None:
    r = client_for(getattr(world.users, who)).get(reverse("map-places"), {"bbox": ALL})
    assert r.status_code == status


def test_places_need_login(world: Any) -> None:
    r = Client().get(reverse("map-places"), {"bbox": ALL})
    assert r.status_code == 302


def _json_script(html: str, element_id: str) -> Any:
    m = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert m, f"{element_id} missing"
    return json.loads(m.group(1))


def test_map_page_hands_its_layers_and_never_names_the_setting(world: Any, settings: Any) -> None:
    settings.WANGGE_TILE_URL = ""
    settings.WANGGE_BASEMAP_MBTILES = ""
    html = client_for(world.users.grid1).get(reverse("map")).content.decode()
    layers = {layer["name"]: layer["url"] for layer in _json_script(html, "map-layers")}
    assert layers == {"places": reverse("map-places"), "events": reverse("event-map")}
    assert "WANGGE_TILE_URL" not in html and "WANGGE_BASEMAP_MBTILES" not in html
    assert "未配置底图，仅显示网格边界" in html
    assert "定位我" in html


def test_map_page_uses_wangge_tiles_when_a_basemap_file_is_set(world: Any, settings: Any) -> None:
    settings.WANGGE_BASEMAP_MBTILES = "/srv/basemap.mbtiles"
    html = client_for(world.users.grid1).get(reverse("map")).content.decode()
    assert 'data-tile-url="/tiles/{z}/{x}/{y}.png"' in html
    assert "未配置底图" not in html


def test_basemap_tiles_follow_a_sub_path_mount(world: Any, settings: Any) -> None:
    # An installation behind a proxy at /wangge/ (SCRIPT_NAME): the browser must ask there for tiles.
    # Django's WSGI handler sets the prefix from SCRIPT_NAME; the test client does not, so set it here.
    settings.WANGGE_BASEMAP_MBTILES = "/srv/basemap.mbtiles"
    path = reverse("map")
    set_script_prefix("/wangge/")
    try:
        html = client_for(world.users.grid1).get(path).content.decode()
    finally:
        set_script_prefix("/")
    assert 'data-tile-url="/wangge/tiles/{z}/{x}/{y}.png"' in html
