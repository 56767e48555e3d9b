"""The generated district, checked once (generated once for the module, rolled back afterwards)."""

from collections import Counter
from datetime import date
from itertools import combinations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import transaction
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from wangge.accounts.models import User
from wangge.accounts.roles import Role
from wangge.core import crypto
from wangge.demo.generators import generate
from wangge.demo.generators.people import targets
from wangge.party.models import MemberUnit, OrgLevel, PartyOrg
from wangge.registry.models import (
    Facility,
    KeyGroup,
    LicenceStatus,
    Occupancy,
    Organisation,
    Place,
    Resident,
)
from wangge.registry.validation import age_on, normalise_phone, parse_id_number
from wangge.territory.coverage import coverage_check
from wangge.territory.models import (
    Building,
    Dwelling,
    GridAssignment,
    GridBoundary,
    GridDuty,
    GridType,
    Level,
    Territory,
)

N = 600
TODAY = date(2025, 6, 15)
PASSWORD = "demo-test-pass"


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One generated district for the whole module, inside a transaction rolled back at the end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield generate(seed=1, residents=N, today=TODAY, password=PASSWORD)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


pytestmark = pytest.mark.django_db


def _polygons() -> dict[str, object]:
    return {b.grid.code: shape(b.geojson) for b in GridBoundary.objects.select_related("grid")}


def test_territory_shape(demo):
    assert Territory.objects.get(level=Level.DISTRICT).code == "420802"
    streets = Territory.objects.filter(level=Level.STREET)
    assert 3 <= streets.count() <= 4
    for street in streets:
        assert 2 <= street.children.count() <= 4
    communities = Territory.objects.filter(level=Level.COMMUNITY).order_by("code")
    assert communities[0].name == "六合社区"
    for c in communities:
        assert 4 <= c.children.count() <= 8
    types = Counter(Territory.objects.filter(level=Level.GRID).values_list("grid_type", flat=True))
    assert types[GridType.DEDICATED] == 1
    assert types[GridType.BASIC] > types[GridType.COMPREHENSIVE] > 0


def test_grids_tile_each_community_without_gaps_or_overlaps(demo):
    polygons = _polygons()
    for community in Territory.objects.filter(level=Level.COMMUNITY):
        grids = [polygons[g.code] for g in community.children.all()]
        expected = demo.community_polygons[community.code]
        union = unary_union(grids)
        assert union.geom_type == "Polygon" and not union.interiors, community.code
        # Relative 1e-9 of a ~0.5 km² community is ~0.5 mm²: floating-point noise, not a gap or overlap.
        assert union.symmetric_difference(expected).area < 1e-9 * expected.area
        assert abs(sum(g.area for g in grids) - expected.area) < 1e-9 * expected.area
        for a, b in combinations(grids, 2):
            assert a.intersection(b).area < 1e-9 * expected.area
    # The platform's own coverage check (T1) agrees.
    assert all(report.ok for report in coverage_check(on=TODAY))
    # Neighbouring communities do not overlap either.
    for a, b in combinations(demo.community_polygons.values(), 2):
        assert a.intersection(b).area < 1e-9 * a.area


def test_everything_located_lies_in_its_grid(demo):
    polygons = _polygons()
    for model in (Building, Place, Facility):
        rows = list(model.objects.values_list("lat", "lng", "grid__code", "path"))
        assert rows, model
        for lat, lng, grid_code, path in rows:
            assert path == grid_code
            assert polygons[grid_code].contains(Point(lng, lat)), (model.__name__, grid_code)
    for d in Dwelling.objects.select_related("building")[:2000]:
        assert d.path == d.building.path


def test_key_groups_match_liuhe_proportions(demo):
    residents = list(Resident.objects.all())
    assert len(residents) == N
    ages = [age_on(r.birth_date, TODAY) for r in residents]
    elderly, infants = targets(N)
    assert sum(a >= 60 for a in ages) == elderly == round(N * 2347 / 14300)
    assert sum(a < 3 for a in ages) == infants == round(N * 165 / 14300)
    tagged = Counter(Resident.tags.through.objects.values_list("keygroup__code", flat=True))
    assert set(tagged) <= set(KeyGroup.objects.filter(kind=KeyGroup.Kind.SET).values_list("code", flat=True))
    assert 0.01 * N <= tagged["disabled"] <= 0.03 * N
    assert 0 < tagged["living_alone"] <= tagged["empty_nest"] <= elderly
    assert 0 < tagged["low_income"] <= 0.06 * N
    assert 0 < tagged["left_behind_child"] <= 0.04 * N
    assert 0 < tagged["destitute"] <= 0.01 * N
    party = sum(r.is_party_member for r in residents)
    assert abs(party - round(N * 238 / 14300)) <= 1
    assert len({r.residence_type for r in residents}) == 4
    households = Counter(r.dwelling_id for r in residents)
    assert 2.3 <= N / len(households) <= 3.2
    heads = Counter(r.dwelling_id for r in residents if r.household_role == "head")
    assert set(heads.values()) == {1} and len(heads) == len(households)


def test_personal_values_are_stored_as_the_services_store_them(demo):
    for r in Resident.objects.all():
        number = crypto.decrypt(r.id_number_enc)
        info = parse_id_number(number, today=TODAY)
        assert (info.birth_date, info.sex) == (r.birth_date, r.sex)
        assert r.id_hash == crypto.digest(number)
        assert r.path == r.dwelling.path == r.building.path
        phone = crypto.decrypt(r.phone_enc)
        if phone:
            assert normalise_phone(phone) == phone and r.phone_hash == crypto.digest(phone)
        else:
            assert r.phone_hash is None
    for place in Place.objects.all():
        assert crypto.decrypt(place.phone_enc)
        assert bool(place.credit_code) == (place.licence_status != LicenceStatus.NONE)
    assert set(Place.objects.values_list("licence_status", flat=True)) == set(LicenceStatus.values)


def test_occupancies(demo):
    open_rows = Counter(Occupancy.objects.filter(moved_out=None).values_list("resident_id", flat=True))
    assert len(open_rows) == N and set(open_rows.values()) == {1}
    for o in Occupancy.objects.select_related("resident"):
        assert o.moved_in >= o.resident.birth_date and o.moved_in <= TODAY
        if o.moved_out is None:
            assert o.dwelling_id == o.resident.dwelling_id
        else:
            assert o.moved_out > o.moved_in
    assert Occupancy.objects.exclude(moved_out=None).exists()


def test_facility_codes(demo):
    for f in Facility.objects.select_related("facility_class"):
        assert len(f.code) == 16 and f.code.isdigit()
        assert f.code[:6] == "420802"
        assert f.code[6:10] == f.facility_class.major + f.facility_class.minor
        assert f.code[10:] != "000000"


def test_party_tree_and_member_units(demo):
    for org in PartyOrg.objects.select_related("parent", "territory", "building", "dwelling"):
        if org.level == OrgLevel.COMMUNITY_COMMITTEE:
            assert org.parent is None and org.territory.level == Level.COMMUNITY
        elif org.level == OrgLevel.GRID_BRANCH:
            assert org.parent.level == OrgLevel.COMMUNITY_COMMITTEE
            assert org.territory.level == Level.GRID and org.territory.parent_id == org.parent.territory_id
        elif org.level == OrgLevel.BUILDING_GROUP:
            assert org.parent.level == OrgLevel.GRID_BRANCH and org.building.path == org.territory.code
        else:
            assert org.parent.level == OrgLevel.BUILDING_GROUP and org.dwelling.building_id == org.building_id
        assert org.path == org.territory.code
    assert PartyOrg.objects.filter(level=OrgLevel.CENTRE_HOUSEHOLD).exists()
    for unit in MemberUnit.objects.prefetch_related("zones"):
        zones = list(unit.zones.all())
        assert zones and all(z.parent_id == unit.community_id for z in zones)
    kinds = set(Organisation.objects.values_list("kind", flat=True))
    assert kinds == {"social", "owners_committee", "property", "volunteer"}


def test_demo_logins(demo):
    users = {u.username: u for u in User.objects.select_related("territory")}
    c1 = Territory.objects.get(level=Level.COMMUNITY, name="六合社区")
    expect = {
        "admin": (Role.DISTRICT_ADMIN, "420802"),
        "street1": (Role.STREET_STAFF, c1.parent.code),
        "community1": (Role.COMMUNITY_STAFF, c1.code),
        "dept1": (Role.DEPT_HANDLER, "420802"),
        "member1": (Role.PARTY_MEMBER, c1.code),
        "resident1": (Role.RESIDENT, c1.code),
    }
    for name, (role, code) in expect.items():
        assert users[name].role == role and users[name].territory.code == code, name
    # A genuine Argon2 hash of the demo password (tests otherwise run with a fast hasher only).
    assert users["admin"].is_superuser and Argon2PasswordHasher().verify(PASSWORD, users["admin"].password)
    assert User.objects.filter(password=users["admin"].password).count() == len(users)
    assert users["dept1"].department == "城市管理执法"
    g1, g2 = users["grid1"].territory, users["grid2"].territory
    assert g1.level == g2.level == Level.GRID and g1.pk != g2.pk
    assert g1.parent_id == g2.parent_id == c1.pk
    grids = Territory.objects.filter(level=Level.GRID)
    assert User.objects.filter(role=Role.GRID_WORKER).count() == grids.count()
    for grid in grids:
        duties = Counter(GridAssignment.objects.filter(grid=grid).values_list("duty", flat=True))
        assert duties[GridDuty.WORKER] == 1 and duties[GridDuty.LEADER] == 1
    assert GridAssignment.objects.get(grid=g1, duty=GridDuty.WORKER).user == users["grid1"]
    assert GridAssignment.objects.get(grid=g2, duty=GridDuty.LEADER).user == users["community1"]
