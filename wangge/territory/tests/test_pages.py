"""Map and grid pages: status per role, scope (a grid outside the caller's territory is 404)."""

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.accounts.tests.pages_data import make_register


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def map_features(html: str) -> list[dict[str, Any]]:
    m = re.search(r'<script id="grids-geojson" type="application/json">(.*?)</script>', html, re.S)
    assert m, "map data missing"
    return json.loads(m.group(1))["features"]


@pytest.mark.parametrize(
    "who,status",
    [
        ("admin", 200),
        ("street1", 200),
        ("community1", 200),
        ("grid1", 200),
        ("dept1", 200),
        ("member1", 403),
        ("resident1", 403),
    ],
)
def test_map_status_per_role(world: Any, who: str, status: int) -> None:
    assert client_for(getattr(world.users, who)).get(reverse("map")).status_code == status


@pytest.mark.parametrize(
    "who,grids",
    [
        ("admin", {"六合第一网格", "六合第二网格", "东湖第一网格", "西山第一网格"}),
        ("street1", {"六合第一网格", "六合第二网格", "东湖第一网格"}),
        ("community1", {"六合第一网格", "六合第二网格"}),
        ("grid1", {"六合第一网格"}),
    ],
)
def test_map_shows_only_the_callers_subtree(world: Any, who: str, grids: set[str]) -> None:
    html = client_for(getattr(world.users, who)).get(reverse("map")).content.decode()
    assert {f["properties"]["name"] for f in map_features(html)} == grids
    for name in {"六合第一网格", "六合第二网格", "东湖第一网格", "西山第一网格"} - grids:
        assert name not in html, name
    # Tree links to each grid page, Leaflet is local, no tiles unless configured.
    assert reverse("grid-detail", args=[world.g111.pk]) in html or who != "grid1"
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "data-tile-url" not in html


def test_map_tree_nests_district_street_community_grid(world: Any) -> None:
    html = client_for(world.users.street1).get(reverse("map")).content.decode()
    tree = html[html.index('class="tree"') : html.index("</nav>", html.index('class="tree"'))]
    assert tree.index("第一街道") < tree.index("六合社区") < tree.index("六合第一网格")
    assert "第二街道" not in tree and "测试区" not in tree  # above street1's node


def test_map_tile_layer_only_when_configured(world: Any, settings: Any) -> None:
    settings.WANGGE_TILE_URL = "https://tiles.intranet.example/{z}/{x}/{y}.png"
    html = client_for(world.users.grid1).get(reverse("map")).content.decode()
    assert 'data-tile-url="https://tiles.intranet.example/{z}/{x}/{y}.png"' in html


def test_grid_page(world: Any) -> None:
    reg = make_register(world)
    resp = client_for(world.users.grid1).get(reverse("grid-detail", args=[world.g111.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    for text in ("六合第一网格", world.g111.code, "基础网格", "六合社区", "第一街道", "grid1", "专职网格员"):
        assert text in html, text
    assert reverse("building-detail", args=[reg.b1.pk]) in html
    assert reverse("building-detail", args=[reg.b2.pk]) not in html  # b2 is in g112
    # Key-group counts: one empty-nest resident, one aged 60+.
    assert re.search(r"<b>1</b><span>(<i [^>]*></i>)?空巢老人", html)
    assert re.search(r"<b>1</b><span>(<i [^>]*></i>)?60岁以上老人", html)
    assert re.search(r"以下人群为 0：[^<]*残疾人", html)
    assert 'id="grid-geojson"' in html


@pytest.mark.parametrize(
    "who,grid,status",
    [
        ("grid1", "g111", 200),
        ("grid1", "g112", 404),
        ("grid1", "g211", 404),
        ("community1", "g112", 200),
        ("community1", "g121", 404),
        ("street1", "g121", 200),
        ("street1", "g211", 404),
        ("street2", "g111", 404),
        ("admin", "g211", 200),
        ("dept1", "g111", 200),
        ("resident1", "g111", 403),
    ],
)
def test_grid_page_scope(world: Any, who: str, grid: str, status: int) -> None:
    url = reverse("grid-detail", args=[getattr(world, grid).pk])
    assert client_for(getattr(world.users, who)).get(url).status_code == status


def test_grid_page_404_for_non_grid_and_unknown_ids(world: Any) -> None:
    c = client_for(world.users.admin)
    assert c.get(reverse("grid-detail", args=[world.c11.pk])).status_code == 404
    assert c.get(reverse("grid-detail", args=[999999])).status_code == 404


def test_grid_page_without_register_access_hides_buildings(world: Any) -> None:
    make_register(world)
    html = client_for(world.users.dept1).get(reverse("grid-detail", args=[world.g111.pk])).content.decode()
    assert "六合第一网格" in html
    assert "1栋" not in html and "重点人群" not in html
