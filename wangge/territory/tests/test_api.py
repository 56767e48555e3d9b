"""Territory API: grids list/detail/locate and the territory tree, scoped per role."""

from datetime import date

import pytest

from wangge.conftest import centre, square
from wangge.territory import coords, locator
from wangge.territory.services import grid_redraw

ALL_GRIDS = ["420802001001001", "420802001001002", "420802001002001", "420802002001001"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    locator.invalidate()


def _codes(resp) -> list[str]:
    assert resp.status_code == 200, resp.content[:300]
    return [row["code"] for row in resp.json()["results"]]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", ALL_GRIDS),
        ("street1", ALL_GRIDS[:3]),
        ("street2", ALL_GRIDS[3:]),
        ("community1", ALL_GRIDS[:2]),
        ("community2", ALL_GRIDS[2:3]),
        ("grid1", ALL_GRIDS[:1]),
        ("grid2", ALL_GRIDS[1:2]),
        ("dept1", ALL_GRIDS),
    ],
)
def test_grid_list_is_scoped(world, api_for, who, expected):
    assert _codes(api_for(getattr(world.users, who)).get("/api/v1/grids/")) == expected


def test_grid_list_shape(world, api_for):
    body = api_for(world.users.community1).get("/api/v1/grids/").json()
    assert body["count"] == 2
    row = body["results"][0]
    assert row["id"] == world.g111.pk and row["name"] == "六合第一网格" and row["grid_type"] == "basic"
    assert row["community"] == {"code": "420802001001", "name": "六合社区"}
    assert row["street"] == {"code": "420802001", "name": "第一街道"}
    assert row["polygon"]["type"] == "Polygon"
    assert row["polygon"]["coordinates"][0][0] == pytest.approx(square(0, 0)["coordinates"][0][0])


def test_grid_list_needs_territory_permission(world, api_for):
    from wangge.conftest import assert_error

    assert_error(api_for(world.users.resident1).get("/api/v1/grids/"), 403, "permission_denied")
    assert_error(api_for(world.users.member1).get("/api/v1/territories/"), 403, "permission_denied")
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/v1/grids/"), 401, "not_authenticated")
    assert_error(
        APIClient().get("/api/v1/grids/locate/", {"lat": 31.0, "lng": 112.2}), 401, "not_authenticated"
    )


def test_grid_detail_scope(world, api_for):
    from wangge.conftest import assert_error

    grid1 = api_for(world.users.grid1)
    resp = grid1.get(f"/api/v1/grids/{world.g111.pk}/")
    assert resp.status_code == 200 and resp.json()["code"] == "420802001001001"
    assert_error(grid1.get(f"/api/v1/grids/{world.g112.pk}/"), 404, "not_found")
    assert_error(
        grid1.get(f"/api/v1/grids/{world.c11.pk}/"), 404, "not_found"
    )  # the community is above grid1
    community1 = api_for(world.users.community1)
    assert community1.get(f"/api/v1/grids/{world.g112.pk}/").status_code == 200
    assert_error(community1.get(f"/api/v1/grids/{world.g121.pk}/"), 404, "not_found")
    assert_error(community1.get(f"/api/v1/grids/{world.c11.pk}/"), 404, "not_found")  # not a grid
    assert_error(community1.get("/api/v1/grids/999999/"), 404, "not_found")


def test_retired_grid_detail_shows_its_last_boundary(world, api_for):
    from django.utils import timezone

    half = {
        "type": "Polygon",
        "coordinates": [
            [[112.2, 31.03], [112.2025, 31.03], [112.2025, 31.035], [112.2, 31.035], [112.2, 31.03]]
        ],
    }
    other = {
        "type": "Polygon",
        "coordinates": [
            [[112.2025, 31.03], [112.205, 31.03], [112.205, 31.035], [112.2025, 31.035], [112.2025, 31.03]]
        ],
    }
    grid_redraw(
        kind="split",
        effective_date=timezone.localdate(),
        retire_codes=["420802001001001"],
        new_grids=[
            {"code": "420802001001003", "name": "西", "geojson": half},
            {"code": "420802001001004", "name": "东", "geojson": other},
        ],
    )
    client = api_for(world.users.community1)
    assert _codes(client.get("/api/v1/grids/")) == ["420802001001002", "420802001001003", "420802001001004"]
    body = client.get(f"/api/v1/grids/{world.g111.pk}/").json()
    assert body["valid_to"] == timezone.localdate().isoformat()
    assert body["polygon"]["coordinates"][0][0] == pytest.approx(square(0, 0)["coordinates"][0][0])


def test_locate(world, api_for):
    from wangge.conftest import assert_error

    client = api_for(world.users.resident1)  # any signed-in user
    lat, lng = centre(1, 0)
    resp = client.get("/api/v1/grids/locate/", {"lat": lat, "lng": lng})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["code"] == "420802001001002" and body["name"] == "六合第二网格"
    assert body["community"] == {"code": "420802001001", "name": "六合社区"}
    assert body["street"] == {"code": "420802001", "name": "第一街道"}
    for crs, forward in (("gcj02", coords.wgs84_to_gcj02), ("bd09", coords.wgs84_to_bd09)):
        x, y = forward(lng, lat)
        body = client.get("/api/v1/grids/locate/", {"lat": y, "lng": x, "crs": crs}).json()
        assert body["code"] == "420802001001002", (crs, body)
        assert body["lat"] == pytest.approx(lat, abs=1e-6) and body["lng"] == pytest.approx(lng, abs=1e-6)
    body = assert_error(
        client.get("/api/v1/grids/locate/", {"lat": 39.9, "lng": 116.4}), 404, "not_in_any_grid"
    )
    assert "网格" in body["message"]
    body = assert_error(client.get("/api/v1/grids/locate/", {"lng": lng}), 400, "invalid")
    assert "lat" in body["details"]
    body = assert_error(
        client.get("/api/v1/grids/locate/", {"lat": lat, "lng": lng, "crs": "epsg3857"}), 400, "invalid"
    )
    assert "crs" in body["details"]
    body = assert_error(client.get("/api/v1/grids/locate/", {"lat": 91, "lng": "abc"}), 400, "invalid")
    assert set(body["details"]) == {"lat", "lng"}


def test_territory_tree_is_scoped(world, api_for):
    def nodes(user):
        resp = api_for(user).get("/api/v1/territories/", {"page_size": 500})
        assert resp.status_code == 200
        return [(r["code"], r["level"]) for r in resp.json()["results"]]

    assert nodes(world.users.grid1) == [("420802001001001", "grid")]
    assert nodes(world.users.community1) == [
        ("420802001001", "community"),
        ("420802001001001", "grid"),
        ("420802001001002", "grid"),
    ]
    assert len(nodes(world.users.admin)) == 1 + 2 + 3 + 4
    assert all(code.startswith("420802002") for code, _ in nodes(world.users.street2))
    row = api_for(world.users.community1).get("/api/v1/territories/").json()["results"][1]
    assert row["parent"] == world.c11.pk and row["path"] == row["code"]


def test_selectors_scope(world):
    from wangge.core.errors import NotFound
    from wangge.territory import selectors

    with pytest.raises(NotFound):
        selectors.territory_get(user=world.users.grid1, pk=world.g112.pk)
    with pytest.raises(NotFound):
        selectors.territory_get(user=world.users.grid1, pk="x")
    assert selectors.territory_get(user=world.users.community1, pk=world.g112.pk) == world.g112
    fc = selectors.grid_feature_collection(user=world.users.community1)
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in fc["features"]] == ALL_GRIDS[:2]
    props = fc["features"][0]["properties"]
    assert props["community"]["code"] == "420802001001" and props["street"]["code"] == "420802001"
    assert set(props) == {"id", "code", "name", "grid_type", "community", "street"}
    assert [g.code for g in selectors.grid_list(user=world.users.grid2)] == ALL_GRIDS[1:2]
    assert list(selectors.grid_list(user=world.users.admin, active_on=date(2024, 1, 1))) == []
    assert [c.code for c in selectors.grid_coverage(user=world.users.street1)] == [
        "420802001001",
        "420802001002",
    ]
