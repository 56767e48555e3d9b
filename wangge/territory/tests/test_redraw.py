"""Grid redraws (split, merge, reshape): history, re-pathing of what lies in the grids, validation."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.conftest import LAT0, LNG0, STEP
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.party.models import OrgLevel, PartyOrg
from wangge.registry.models import Facility, FacilityClass, Occupancy, Place, Resident
from wangge.territory import locator
from wangge.territory.geometry import area_m2, geometry_from_geojson
from wangge.territory.models import (
    Building,
    Compound,
    Dwelling,
    GeometryVersion,
    GridBoundary,
    GridRedraw,
    Territory,
)
from wangge.territory.selectors import grid_staff, path_on
from wangge.territory.services import grid_assign_staff, grid_redraw, grid_unassign_staff

X0, Y0 = LNG0, LAT0
G111, G112, C11 = "420802001001001", "420802001001002", "420802001001"


def box(x0: float, x1: float, y0: float = Y0, y1: float = Y0 + STEP) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _building(code: str, grid: Territory, lng: float | None, compound: Compound | None = None) -> Building:
    lat = None if lng is None else Y0 + STEP / 2
    return Building.objects.create(
        code=code, name=code, grid=grid, path=grid.code, lng=lng, lat=lat, compound=compound
    )


def _home(building: Building, name: str) -> SimpleNamespace:
    dwelling = Dwelling.objects.create(building=building, unit="1", room="101", path=building.path)
    resident = Resident.objects.create(name=name, dwelling=dwelling, building=building, path=building.path)
    occupancy = Occupancy.objects.create(
        resident=resident, dwelling=dwelling, moved_in=date(2020, 1, 1), path=building.path
    )
    return SimpleNamespace(dwelling=dwelling, resident=resident, occupancy=occupancy)


@pytest.fixture
def today():
    locator.invalidate()
    return timezone.localdate()


@pytest.fixture
def stock(world):
    """Things in grid g111 (west half, east half, no coordinates) and one in g112."""
    g111 = world.g111
    compound = Compound.objects.create(code="C1", name="六合小区", community=world.c11, grid=g111, path=G111)
    west = _building("B-W", g111, X0 + STEP / 4, compound)
    east = _building("B-E", g111, X0 + 3 * STEP / 4, compound)
    nowhere = _building("B-N", g111, None)
    other = _building("B-O", world.g112, X0 + 1.5 * STEP)
    fc, _ = FacilityClass.objects.get_or_create(
        major="01", minor="01", defaults={"major_name": "公用设施", "name": "井盖"}
    )
    return SimpleNamespace(
        compound=compound,
        west=west,
        east=east,
        nowhere=nowhere,
        other=other,
        home_w=_home(west, "张三"),
        home_e=_home(east, "李四"),
        home_n=_home(nowhere, "王五"),
        home_o=_home(other, "赵六"),
        loose=Resident.objects.create(name="钱七", path=G111),
        place_w=Place.objects.create(
            natural_key="p-w", name="西店", lng=X0 + STEP / 5, lat=Y0 + STEP / 3, grid=g111, path=G111
        ),
        place_b=Place.objects.create(natural_key="p-b", name="楼下店", building=east, grid=g111, path=G111),
        facility=Facility.objects.create(
            code="4208020101000001",
            facility_class=fc,
            lng=X0 + 0.9 * STEP,
            lat=Y0 + 0.1 * STEP,
            grid=g111,
            path=G111,
        ),
        group=PartyOrg.objects.create(
            name="B-E 楼栋党小组", level=OrgLevel.BUILDING_GROUP, building=east, territory=g111, path=G111
        ),
        branch=PartyOrg.objects.create(
            name="第一网格党支部", level=OrgLevel.GRID_BRANCH, territory=g111, path=G111
        ),
    )


def _path(obj) -> str:
    obj.refresh_from_db()
    return obj.path


def test_split_repaths_and_keeps_history(world, stock, today):
    version = GeometryVersion.objects.get(pk=1).version
    redraw = grid_redraw(
        kind="split",
        effective_date=today,
        retire_codes=[G111],
        new_grids=[
            {
                "code": "420802001001003",
                "name": "六合西网格",
                "geojson": box(X0, X0 + STEP / 2),
                "grid_type": "basic",
            },
            {"code": "420802001001004", "name": "六合东网格", "geojson": box(X0 + STEP / 2, X0 + STEP)},
        ],
        actor=world.users.admin,
        note="拆分",
    )
    west, east = "420802001001003", "420802001001004"
    g111 = Territory.objects.get(code=G111)
    assert g111.valid_to == today and not g111.is_active
    assert not GridBoundary.objects.filter(grid=g111, valid_to__isnull=True).exists()
    assert Territory.objects.get(code=west).valid_from == today
    # buildings by coordinates; one without coordinates goes up to the community (and is listed as unplaced)
    assert _path(stock.west) == west and stock.west.grid.code == west
    assert _path(stock.east) == east
    assert _path(stock.nowhere) == C11 and stock.nowhere.grid is None
    assert _path(stock.other) == G112  # untouched
    # what hangs on the buildings follows them
    assert _path(stock.home_w.dwelling) == west and _path(stock.home_w.resident) == west
    assert _path(stock.home_e.occupancy) == east and _path(stock.home_e.resident) == east
    assert _path(stock.home_n.resident) == C11
    assert _path(stock.home_o.resident) == G112
    assert _path(stock.loose) == C11
    # the compound spans both new grids: it belongs to the community
    assert _path(stock.compound) == C11 and stock.compound.grid is None
    assert _path(stock.place_w) == west and stock.place_w.grid.code == west
    assert _path(stock.place_b) == east  # no coordinates: follows its building
    assert _path(stock.facility) == east
    assert _path(stock.group) == east and stock.group.territory.code == east
    assert _path(stock.branch) == G111  # grid branches are reorganised by the party module, not moved

    assert redraw.path == C11 and redraw.old_codes == [G111] and redraw.new_codes == [west, east]
    counts = redraw.moved["counts"]
    assert counts["building"] == 3 and counts["dwelling"] == 3 and counts["occupancy"] == 3
    assert counts["resident"] == 4  # three housed, one loose
    assert (
        counts["compound"] == 1
        and counts["place"] == 2
        and counts["facility"] == 1
        and counts["party_org"] == 1
    )
    assert redraw.moved["unplaced"]["building"] == [stock.nowhere.pk]
    assert redraw.moved["flows"] == {f"{G111}→{west}": 1, f"{G111}→{east}": 1, f"{G111}→{C11}": 1}
    assert redraw.moved["attention"]["users_on_retired_grids"] == 1  # grid1's account
    assert redraw.moved["attention"]["party_orgs_on_retired_grids"] == [stock.branch.pk]
    # history: before the effective date the building was in g111, the old boundary still answers for that day
    yesterday = today - timedelta(days=1)
    assert path_on(kind="building", pk=stock.west.pk, current_path=stock.west.path, on=yesterday) == G111
    assert path_on(kind="building", pk=stock.west.pk, current_path=stock.west.path, on=today) == west
    lat, lng = Y0 + STEP / 2, X0 + STEP / 4
    assert locator.locate_point(lat=lat, lng=lng, on=yesterday) == g111
    assert locator.locate_point(lat=lat, lng=lng).code == west
    assert GeometryVersion.objects.get(pk=1).version > version
    entry = AuditEntry.objects.get(action="grid.redraw")
    assert entry.path == C11 and entry.after["counts"]["building"] == 3 and entry.actor == world.users.admin
    # a retired grid cannot be redrawn again
    with pytest.raises(InvalidInput) as exc:
        grid_redraw(kind="reshape", effective_date=today, reshape={G111: box(X0, X0 + STEP)})
    assert exc.value.code == "grid_retired"


def test_merge_moves_everything_to_the_merged_grid(world, stock, today):
    grid_assign_staff(grid=world.g111, user=world.users.grid1, duty="worker", since=date(2025, 1, 1))
    redraw = grid_redraw(
        kind="merge",
        effective_date=today,
        retire_codes=[G111, G112],
        new_grids=[
            {
                "code": "420802001001009",
                "name": "六合综合网格",
                "geojson": box(X0, X0 + 2 * STEP),
                "grid_type": "comprehensive",
            }
        ],
    )
    merged = Territory.objects.get(code="420802001001009")
    assert merged.grid_type == "comprehensive"
    for obj in (
        stock.west,
        stock.east,
        stock.nowhere,
        stock.other,
        stock.compound,
        stock.loose,
        stock.facility,
    ):
        assert _path(obj) == merged.code, obj
    assert _path(stock.home_o.resident) == merged.code
    assert redraw.moved["counts"]["building"] == 4 and not redraw.moved["unplaced"]
    assert {g.valid_to for g in Territory.objects.filter(code__in=[G111, G112])} == {today}
    # staff of the retired grid end the day before
    assert not grid_staff(grid=world.g111).exists()
    assert world.g111.assignments.get().until == today - timedelta(days=1)


def test_reshape_moves_only_what_changes_side(world, stock, today):
    redraw = grid_redraw(
        kind="reshape",
        effective_date=today,
        reshape={G111: box(X0, X0 + 0.6 * STEP), G112: box(X0 + 0.6 * STEP, X0 + 2 * STEP)},
    )
    assert _path(stock.west) == G111
    assert _path(stock.east) == G112 and _path(stock.home_e.resident) == G112
    assert _path(stock.nowhere) == G111  # no coordinates, its grid still exists
    assert _path(stock.other) == G112
    assert _path(stock.compound) == C11  # now split between the two grids
    assert _path(stock.facility) == G112
    assert redraw.moved["counts"]["building"] == 1
    assert GridBoundary.objects.filter(grid=world.g111).count() == 2
    old = GridBoundary.objects.get(grid=world.g111, valid_to=today)
    assert area_m2(geometry_from_geojson(old.geojson)) > area_m2(
        geometry_from_geojson(GridBoundary.objects.get(grid=world.g111, valid_to__isnull=True).geojson)
    )
    assert Territory.objects.get(code=G111).is_active


def test_overlap_with_a_sibling_is_refused_with_codes_and_area(world, stock, today):
    with pytest.raises(InvalidInput) as exc:
        grid_redraw(
            kind="create",
            effective_date=today,
            new_grids=[
                {
                    "code": "420802001001003",
                    "name": "新网格",
                    "geojson": box(X0 + 1.5 * STEP, X0 + 2.5 * STEP),
                }
            ],
        )
    assert exc.value.code == "grid_overlap"
    (overlap,) = exc.value.details["overlaps"]  # g121 is in another community: not a sibling
    assert overlap["codes"] == [G112, "420802001001003"]
    expected = area_m2(geometry_from_geojson(box(X0 + 1.5 * STEP, X0 + 2 * STEP)))
    assert overlap["area_m2"] == pytest.approx(expected, rel=1e-3)
    assert G112 in exc.value.message and "平方米" in exc.value.message
    # growing one grid into its neighbour without shrinking the neighbour is refused too
    with pytest.raises(InvalidInput) as exc:
        grid_redraw(kind="reshape", effective_date=today, reshape={G111: box(X0, X0 + 1.2 * STEP)})
    assert exc.value.code == "grid_overlap"
    assert not Territory.objects.filter(code="420802001001003").exists()
    assert _path(stock.east) == G111


def test_refusals(world, stock, today):
    new = [
        {"code": "420802001001003", "name": "甲", "geojson": box(X0, X0 + STEP / 2)},
        {"code": "420802001001004", "name": "乙", "geojson": box(X0 + STEP / 2, X0 + STEP)},
    ]
    cases = [
        (
            dict(kind="split", effective_date=today + timedelta(days=1), retire_codes=[G111], new_grids=new),
            "future_effective_date",
        ),
        (dict(kind="split", effective_date=today, retire_codes=[G111], new_grids=new[:1]), "invalid_redraw"),
        (dict(kind="explode", effective_date=today), "invalid_kind"),
        (
            dict(kind="split", effective_date=date(2024, 6, 1), retire_codes=[G111], new_grids=new),
            "invalid_date",
        ),
        (
            dict(
                kind="merge",
                effective_date=today,
                retire_codes=[G112, "420802001002001"],
                new_grids=[
                    {"code": "420802001001003", "name": "丙", "geojson": box(X0 + STEP, X0 + 3 * STEP)}
                ],
            ),
            "cross_community",
        ),
        (
            dict(
                kind="split",
                effective_date=today,
                retire_codes=[G111],
                new_grids=[dict(new[0], code="420802001002005"), new[1]],
            ),
            "cross_community",
        ),
        (
            dict(
                kind="split",
                effective_date=today,
                retire_codes=[G111],
                new_grids=[dict(new[0], geojson={"type": "Point", "coordinates": [1, 2]}), new[1]],
            ),
            "invalid_geometry",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(InvalidInput) as exc:
            grid_redraw(**kwargs)
        assert exc.value.code == code, (kwargs["kind"], exc.value.code, exc.value.message)
    with pytest.raises(NotFound):
        grid_redraw(kind="split", effective_date=today, retire_codes=["420802001001077"], new_grids=new)
    # nothing moved, nothing retired
    assert _path(stock.west) == G111 and Territory.objects.get(code=G111).valid_to is None
    assert not GridRedraw.objects.exists()


def test_permissions(world, stock, today):
    kwargs = dict(kind="reshape", effective_date=today, reshape={G111: box(X0, X0 + 0.9 * STEP)})
    with pytest.raises(Forbidden):
        grid_redraw(actor=world.users.community1, **kwargs)  # no accounts.manage_territory by default
    with pytest.raises(NotFound):
        grid_redraw(actor=world.users.street2, **kwargs)  # another street
    grid_redraw(actor=world.users.admin, **kwargs)
    assert GridRedraw.objects.get().created_by == world.users.admin


def test_staff_assignments(world, today):
    a = grid_assign_staff(grid=world.g111, user=world.users.grid1, duty="worker", since=date(2025, 1, 1))
    grid_assign_staff(grid=world.g111, user=world.users.member1, duty="part_time", since=date(2025, 3, 1))
    assert set(grid_staff(grid=world.g111)) == {a, world.g111.assignments.get(duty="part_time")}
    assert grid_staff(grid=world.g111).count() == 2
    with pytest.raises(Conflict):
        grid_assign_staff(grid=world.g111, user=world.users.grid1, duty="worker", since=date(2025, 2, 1))
    with pytest.raises(InvalidInput):
        grid_assign_staff(grid=world.g111, user=world.users.grid1, duty="boss", since=date(2025, 2, 1))
    with pytest.raises(Forbidden):
        grid_assign_staff(grid=world.g111, user=world.users.grid2, since=today, actor=world.users.community1)
    with pytest.raises(NotFound):
        grid_assign_staff(grid=world.g111, user=world.users.grid2, since=today, actor=world.users.street2)
    assert grid_unassign_staff(grid=world.g111, user=world.users.grid1, until=today - timedelta(days=1)) == 1
    assert [s.user for s in grid_staff(grid=world.g111)] == [world.users.member1]
    assert grid_staff(grid=world.g111, on=date(2025, 2, 1)).count() == 1
    with pytest.raises(NotFound):
        grid_unassign_staff(grid=world.g111, user=world.users.grid1, until=today)
    assert AuditEntry.objects.filter(action__startswith="grid.staff_").count() == 3
