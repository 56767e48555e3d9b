import json

import pytest

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.party import selectors, services
from wangge.registry.tests.factories import make_building, make_dwelling

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(world):
    u = world.users.community1
    b1 = make_building(world.g111, "B1")
    d1 = make_dwelling(b1, "101")
    committee = services.partyorg_create(actor=u, name="六合社区党委", level="committee", territory=world.c11)
    branch1 = services.partyorg_create(
        actor=u, name="第一网格党支部", level="branch", parent=committee, territory=world.g111
    )
    branch2 = services.partyorg_create(
        actor=u, name="第二网格党支部", level="branch", parent=committee, territory=world.g112
    )
    group = services.partyorg_create(actor=u, name="1栋党小组", level="group", parent=branch1, building=b1)
    household = services.partyorg_create(
        actor=u, name="党员中心户", level="household", parent=group, dwelling=d1, members_count=2
    )
    return {
        "committee": committee,
        "branch1": branch1,
        "branch2": branch2,
        "group": group,
        "household": household,
        "b1": b1,
        "d1": d1,
    }


def test_levels_and_paths(world, tree):
    assert tree["committee"].path == world.c11.code
    assert tree["branch1"].path == world.g111.code
    assert tree["group"].path == world.g111.code and tree["group"].territory == world.g111
    assert tree["household"].dwelling == tree["d1"] and tree["household"].building == tree["b1"]
    assert AuditEntry.objects.filter(action="partyorg.create").count() == 5


def test_level_rules(world, tree):
    u = world.users.community1
    with pytest.raises(InvalidInput) as err:  # a group cannot hang under the committee
        services.partyorg_create(
            actor=u, name="x", level="group", parent=tree["committee"], building=tree["b1"]
        )
    assert err.value.code == "invalid_parent"
    with pytest.raises(InvalidInput):
        services.partyorg_create(
            actor=u, name="x", level="committee", parent=tree["committee"], territory=world.c11
        )
    with pytest.raises(InvalidInput):  # a branch must sit on a grid
        services.partyorg_create(
            actor=u, name="x", level="branch", parent=tree["committee"], territory=world.c11
        )
    with pytest.raises(InvalidInput):  # grid of another community
        services.partyorg_create(
            actor=world.users.street1,
            name="x",
            level="branch",
            parent=tree["committee"],
            territory=world.g121,
        )
    with pytest.raises(InvalidInput):  # building outside the branch's grid
        other = make_building(world.g112, "B2")
        services.partyorg_create(actor=u, name="x", level="group", parent=tree["branch1"], building=other)
    with pytest.raises(InvalidInput):
        services.partyorg_create(
            actor=u,
            name="x",
            level="household",
            parent=tree["group"],
            dwelling=make_dwelling(make_building(world.g111, "B3"), "1"),
        )
    with pytest.raises(Conflict):
        services.partyorg_create(actor=u, name="另一个党委", level="committee", territory=world.c11)
    with pytest.raises(InvalidInput):
        services.partyorg_create(actor=u, name="x", level="cell", territory=world.c11)
    with pytest.raises(NotFound):
        services.partyorg_create(
            actor=world.users.community2, name="x", level="committee", territory=world.c11
        )
    with pytest.raises(Forbidden):
        services.partyorg_create(actor=world.users.member1, name="x", level="committee", territory=world.c12)


def test_scoped_tree(world, tree):
    roots = selectors.partyorg_tree(user=world.users.community1)
    assert [r["name"] for r in roots] == ["六合社区党委"]
    assert [c["name"] for c in roots[0]["children"]] == ["第一网格党支部", "第二网格党支部"]
    assert roots[0]["children"][0]["children"][0]["children"][0]["level"] == "household"
    roots = selectors.partyorg_tree(user=world.users.grid1)
    assert [r["name"] for r in roots] == ["第一网格党支部"]
    assert not selectors.partyorg_list(user=world.users.community2).exists()
    with pytest.raises(NotFound):
        selectors.partyorg_get(user=world.users.grid2, pk=tree["branch1"].pk)


def test_member_units(world):
    u = world.users.community1
    unit = services.memberunit_create(
        actor=u,
        name="区人民医院",
        kind="hospital",
        community=world.c11,
        contact_phone="027-84512345",
        zones=[world.g111],
        responsibility="义诊",
    )
    assert unit.path == world.c11.code and unit.contact_phone == "02784512345"
    with pytest.raises(InvalidInput) as err:
        services.memberunit_create(actor=u, name="x", community=world.c11, zones=[world.g121])
    assert err.value.code == "zone_outside_community"
    with pytest.raises(Conflict):
        services.memberunit_create(actor=u, name="区人民医院", community=world.c11)
    with pytest.raises(NotFound):
        services.memberunit_create(actor=u, name="y", community=world.c12)
    # A unit belongs to its community: community staff see it, grid workers and other communities do not.
    assert list(selectors.memberunit_list(user=u)) == [unit]
    assert not selectors.memberunit_list(user=world.users.grid1).exists()
    assert not selectors.memberunit_list(user=world.users.community2).exists()
    assert list(selectors.memberunit_list(user=u, zone=world.g111.code)) == [unit]
    assert not selectors.memberunit_list(user=u, zone=world.g112.code).exists()
    services.memberunit_update(actor=u, unit=unit, zones=[world.g112], responsibility="义诊、健康讲座")
    assert list(selectors.memberunit_list(user=u, zone=world.g112.code)) == [unit]
    assert AuditEntry.objects.get(action="memberunit.update").after["zones"] == [world.g112.code]


def test_member_unit_audit_masks_contact_phone(world):
    u = world.users.community1
    unit = services.memberunit_create(
        actor=u, name="区人民医院", community=world.c11, contact_phone="13900001111"
    )
    services.memberunit_update(actor=u, unit=unit, contact_phone="13900002222")
    created = AuditEntry.objects.get(action="memberunit.create")
    updated = AuditEntry.objects.get(action="memberunit.update")
    assert created.after["contact_phone"] == "139****1111"
    assert (updated.before["contact_phone"], updated.after["contact_phone"]) == ("139****1111", "139****2222")
    assert "13900001111" not in json.dumps([created.after, updated.before, updated.after])


def test_api(world, tree, api_for):
    c1 = api_for(world.users.community1)
    body = c1.get("/api/v1/party-orgs/").json()
    assert body["count"] == 5
    assert {r["name"]: r["parent_id"] for r in body["results"]}["第一网格党支部"] == tree["committee"].pk
    roots = c1.get("/api/v1/party-orgs/?tree=1").json()
    assert len(roots) == 1 and len(roots[0]["children"]) == 2
    assert api_for(world.users.grid2).get("/api/v1/party-orgs/").json()["count"] == 1
    assert_error(
        api_for(world.users.grid2).get(f"/api/v1/party-orgs/{tree['branch1'].pk}/"), 404, "not_found"
    )
    resp = c1.post(
        "/api/v1/party-orgs/",
        {
            "name": "2栋党小组",
            "level": "group",
            "parent": tree["branch1"].pk,
            "building": make_building(world.g111, "B9").pk,
        },
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["path"] == world.g111.code
    assert_error(
        c1.post(
            "/api/v1/party-orgs/",
            {"name": "x", "level": "household", "parent": tree["branch1"].pk, "dwelling": tree["d1"].pk},
            format="json",
        ),
        400,
        "invalid_parent",
    )
    assert_error(
        api_for(world.users.member1).post(
            "/api/v1/party-orgs/",
            {"name": "x", "level": "committee", "territory": world.c11.pk},
            format="json",
        ),
        403,
    )
    resp = c1.post(
        "/api/v1/member-units/",
        {"name": "区税务局", "community": world.c11.pk, "kind": "government", "zones": [world.g112.pk]},
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["zones"][0]["code"] == world.g112.code
    uid = resp.json()["id"]
    assert c1.get("/api/v1/member-units/").json()["count"] == 1
    assert api_for(world.users.grid1).get("/api/v1/member-units/").json()["count"] == 0
    assert_error(api_for(world.users.community2).get(f"/api/v1/member-units/{uid}/"), 404)
    resp = c1.patch(f"/api/v1/member-units/{uid}/", {"responsibility": "税法宣传"}, format="json")
    assert resp.status_code == 200 and resp.json()["responsibility"] == "税法宣传"
    assert resp.json()["zones"][0]["code"] == world.g112.code
