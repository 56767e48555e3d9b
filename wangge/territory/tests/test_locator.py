"""Point → grid: inside, outside, shared edges, coordinate systems, dates, cache refresh."""

from datetime import date

import pytest
import shapely

from wangge.conftest import LAT0, LNG0, STEP, centre, square
from wangge.core.errors import InvalidInput
from wangge.territory import coords, locator
from wangge.territory.models import GeometryVersion, GridBoundary
from wangge.territory.services import grid_create


@pytest.fixture(autouse=True)
def _fresh_cache():
    locator.invalidate()
    yield
    locator.invalidate()


def test_inside_and_outside(world):
    lat, lng = centre(0, 0)
    assert locator.locate_point(lat=lat, lng=lng) == world.g111
    lat, lng = centre(3, 0)
    assert locator.locate_point(lat=lat, lng=lng) == world.g211
    lat, lng = centre(0, 3)
    assert locator.locate_point(lat=lat, lng=lng) is None
    assert locator.locate_point(lat=39.9, lng=116.4) is None


def test_point_on_shared_edge_gets_one_grid_deterministically(world):
    mid = LAT0 + STEP / 2
    edge = square(0, 0)["coordinates"][0][1][0]  # g111's east edge
    assert edge == square(1, 0)["coordinates"][0][0][0]  # is exactly g112's west edge
    for _ in range(3):
        assert locator.locate_point(lat=mid, lng=edge) == world.g111
    # a shared corner, and the outer boundary (closed polygons)
    assert locator.locate_point(lat=LAT0, lng=edge) == world.g111
    assert locator.locate_point(lat=LAT0, lng=LNG0) == world.g111
    # The rule is "smallest code", not "created first": a later grid with a smaller code wins its edge.
    above = grid_create(
        community=world.c21,
        code="420802002001000",
        name="西山北网格",
        geojson=square(3, 1),
        valid_from=date(2025, 1, 1),
    )
    top = square(3, 0)["coordinates"][0][2][1]
    assert top == square(3, 1)["coordinates"][0][0][1]
    x = LNG0 + 3.5 * STEP
    assert locator.locate_point(lat=top, lng=x) == above
    ids = locator.locate_points([edge, x, LNG0 + 0.5 * STEP, x], [mid, top, mid, top - STEP / 4])
    assert ids == [world.g111.pk, above.pk, world.g111.pk, world.g211.pk]


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_each_crs(world, crs):
    lat, lng = centre(0, 0)
    forward = {"wgs84": lambda x, y: (x, y), "gcj02": coords.wgs84_to_gcj02, "bd09": coords.wgs84_to_bd09}[
        crs
    ]
    x, y = forward(lng, lat)
    assert locator.locate_point(lat=y, lng=x, crs=crs) == world.g111
    if crs != "wgs84":
        # Taken as WGS-84 the shifted point lands in another grid: the conversion matters here.
        assert locator.locate_point(lat=y, lng=x) != world.g111


def test_bad_input(world):
    with pytest.raises(InvalidInput):
        locator.locate_point(lat=31.0, lng=112.2, crs="mercator")
    with pytest.raises(InvalidInput):
        locator.locate_point(lat=95.0, lng=112.2)
    with pytest.raises(InvalidInput):
        locator.locate_point(lat="x", lng=112.2)  # type: ignore[arg-type]


def test_on_a_past_date(world):
    lat, lng = centre(0, 0)
    assert locator.locate_point(lat=lat, lng=lng, on=date(2024, 12, 31)) is None
    assert locator.locate_point(lat=lat, lng=lng, on=date(2025, 1, 1)) == world.g111


def test_cache_refreshes_in_this_process_after_a_boundary_change(world):
    lat, lng = centre(4, 0)
    assert locator.locate_point(lat=lat, lng=lng) is None
    index = locator.grid_index()
    assert locator.grid_index() is index  # cached
    new = grid_create(
        community=world.c21,
        code="420802002001002",
        name="西山第二网格",
        geojson=square(4, 0),
        valid_from=date(2025, 6, 1),
    )
    assert locator.locate_point(lat=lat, lng=lng) == new
    assert locator.grid_index() is not index


def test_cache_follows_the_version_written_by_another_process(world, monkeypatch):
    lat, lng = centre(5, 0)
    assert locator.locate_point(lat=lat, lng=lng) is None
    # Another process adds a grid: rows and version change, but this process's invalidate() is not called.
    GridBoundary.objects.create(
        grid=world.g211,
        geojson=square(5, 0),
        min_lng=0,
        min_lat=0,
        max_lng=0,
        max_lat=0,
        valid_from=date(2025, 1, 1),
    )
    # Within the check interval the cached index is used as is.
    monkeypatch.setattr(locator, "VERSION_CHECK_SECONDS", 3600.0)
    assert locator.locate_point(lat=lat, lng=lng) is None
    # The version did not change yet: even a fresh check keeps the index.
    monkeypatch.setattr(locator, "VERSION_CHECK_SECONDS", 0.0)
    assert locator.locate_point(lat=lat, lng=lng) is None
    GeometryVersion.objects.filter(pk=1).update(version=GeometryVersion.objects.get(pk=1).version + 1)
    assert locator.locate_point(lat=lat, lng=lng) == world.g211


def test_grid_index_is_vectorised_and_ordered():
    cells = [shapely.box(i, 0, i + 1, 1) for i in range(5)]
    index = locator.build_index((f"g{i}", cell) for i, cell in enumerate(cells))
    xs = [0.5, 1.0, 4.9, 7.0, 2.0]
    ys = [0.5, 0.5, 0.1, 0.5, 1.0]
    assert index.locate_many(xs, ys) == ["g0", "g0", "g4", None, "g1"]
    assert list(index.locate_indices([], [])) == []
    assert locator.build_index([]).locate(0.5, 0.5) is None
