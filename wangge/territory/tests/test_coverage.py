"""`wangge check-grids`: gaps and overlaps between sibling grids, exit codes."""

from datetime import date
from io import StringIO

import pytest
import shapely
from django.core.management import call_command
from django.core.management.base import CommandError

from wangge.conftest import LAT0, LNG0, STEP
from wangge.territory.coverage import analyse_siblings
from wangge.territory.geometry import area_m2
from wangge.territory.models import Level
from wangge.territory.services import grid_create, territory_create

SINCE = date(2025, 1, 1)


def box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("check-grids", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_clean_tiling_passes(world):
    code, out = run()
    assert code == 0, out
    assert "420802001001" in out and "未发现缝隙或重叠" in out
    assert run("--community", "420802001001")[0] == 0


def test_gap_inside_a_ring_of_grids_is_reported(world):
    c = territory_create(level=Level.COMMUNITY, code="420802002002", name="环形社区", parent=world.s2)
    s = STEP
    x0, y0 = LNG0, LAT0 + 3 * s  # away from the fixture's grids
    ring = [
        box(x0, y0, x0 + 3 * s, y0 + s),  # south
        box(x0, y0 + 2 * s, x0 + 3 * s, y0 + 3 * s),  # north
        box(x0, y0 + s, x0 + s, y0 + 2 * s),  # west
        box(x0 + 2 * s, y0 + s, x0 + 3 * s, y0 + 2 * s),  # east
    ]
    for i, gj in enumerate(ring, start=1):
        grid_create(community=c, code=f"420802002002{i:03d}", name=f"环{i}", geojson=gj, valid_from=SINCE)
    code, out = run("--community", c.code)
    assert code == 1
    hole = area_m2(shapely.box(x0 + s, y0 + s, x0 + 2 * s, y0 + 2 * s))
    assert "缝隙" in out and f"{hole:.1f}" in out
    for i in range(1, 5):
        assert f"420802002002{i:03d}" in out
    # the other communities are still clean
    assert run("--community", "420802001001")[0] == 0


def test_overlap_is_reported_with_codes_and_area(world):
    # grid_create does not refuse overlaps (grid_redraw does): this is how bad data would look.
    grid_create(
        community=world.c11,
        code="420802001001003",
        name="重叠网格",
        geojson=box(LNG0 + 0.8 * STEP, LAT0, LNG0 + 1.2 * STEP, LAT0 + STEP),
        valid_from=SINCE,
    )
    code, out = run("--community", "420802001001")
    assert code == 1
    left = area_m2(shapely.box(LNG0 + 0.8 * STEP, LAT0, LNG0 + STEP, LAT0 + STEP))
    assert "重叠 420802001001001 × 420802001001003" in out
    assert "重叠 420802001001002 × 420802001001003" in out
    assert f"{left:.1f}" in out
    # the JSON form says the same
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check-grids", "--json", "--community", "420802001001", stdout=out)
    assert '"overlaps"' in out.getvalue() and '"ok": false' in out.getvalue()


def test_thresholds_and_unknown_community(world):
    # a sliver under 1 m² (a few mm wide) is noise, not an overlap
    sliver = 1e-8
    overlaps, gaps = analyse_siblings(
        [
            ("a", shapely.box(0.0, 30.0, 0.001 + sliver, 30.001)),
            ("b", shapely.box(0.001, 30.0, 0.002, 30.001)),
        ]
    )
    assert overlaps == [] and gaps == []
    overlaps, _ = analyse_siblings(
        [("a", shapely.box(0.0, 30.0, 0.0011, 30.001)), ("b", shapely.box(0.001, 30.0, 0.002, 30.001))]
    )
    assert [o.codes for o in overlaps] == [("a", "b")] and overlaps[0].area_m2 > 1
    assert run("--community", "999999999999")[0] == 1
    assert run("--date", "not-a-date")[0] == 1
    # before the grids existed there is nothing to check
    assert run("--date", "2024-01-01")[0] == 0
