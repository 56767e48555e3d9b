"""Device registration (I3): binding → path, life-safety defaults, scope, API."""

from types import SimpleNamespace
from typing import Any

import pytest

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error, centre
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.events.models import Device
from wangge.events.sos.devices import device_deactivate, device_get, device_list, device_register
from wangge.registry.models import Resident
from wangge.registry.services import building_create, place_create


def make_devworld(world: Any) -> SimpleNamespace:
    """world + a building in g111 with a resident, a shop in g112, and three registered devices."""
    admin = world.users.admin
    lat0, lng0 = centre(0, 0)
    b1 = building_create(
        actor=admin, code="B-001", name="1栋", lat=lat0, lng=lng0, address="六合小区1栋", floors=6
    )
    lat1, lng1 = centre(1, 0)
    p1 = place_create(actor=admin, name="六合小吃店", address="六合路8号", lat=lat1, lng=lng1)
    # A resident row is enough here (the register's own services are tested in wangge.registry).
    r1 = Resident.objects.create(name="王奶奶", building=b1, path=b1.path)
    watch = device_register(
        actor=admin, device_id="W-0001", kind="wearable", name="3号手环", resident_id=r1.pk
    )
    smoke = device_register(actor=admin, device_id="SMK-0001", kind="smoke", place_id=p1.pk)
    water = device_register(actor=admin, device_id="H2O-0001", kind="water", building_id=b1.pk)
    return SimpleNamespace(world=world, b1=b1, p1=p1, r1=r1, watch=watch, smoke=smoke, water=water)


@pytest.fixture
def devworld(world: Any) -> SimpleNamespace:
    return make_devworld(world)


def test_register_paths_and_life_safety_defaults(devworld):
    w = devworld.world
    assert devworld.watch.path == w.g111.code and devworld.watch.resident_id == devworld.r1.pk
    assert devworld.smoke.path == w.g112.code and devworld.smoke.place_id == devworld.p1.pk
    assert devworld.water.path == w.g111.code
    assert devworld.watch.life_safety and devworld.smoke.life_safety and not devworld.water.life_safety
    gas = device_register(actor=w.users.admin, device_id="GAS-1", kind="gas", building_id=devworld.b1.pk)
    assert gas.life_safety
    door = device_register(
        actor=w.users.admin, device_id="DOOR-1", kind="door", building_id=devworld.b1.pk, life_safety=True
    )
    assert door.life_safety
    lat, lng = centre(2, 0)
    pole = device_register(actor=w.users.street1, device_id="PT-1", kind="other", lat=lat, lng=lng)
    assert pole.path == w.g121.code and pole.lat == lat
    entry = AuditEntry.objects.filter(action="device_register", object_id=str(gas.pk)).get()
    assert entry.after["device_id"] == "GAS-1" and entry.path == gas.path


def test_register_validation(devworld):
    admin = devworld.world.users.admin
    with pytest.raises(Conflict):
        device_register(actor=admin, device_id="W-0001", kind="wearable", building_id=devworld.b1.pk)
    for bad in ("", "a/b", "x+y", "#", "a b", "x" * 65):
        with pytest.raises(InvalidInput):
            device_register(actor=admin, device_id=bad, kind="smoke", building_id=devworld.b1.pk)
    with pytest.raises(InvalidInput):
        device_register(actor=admin, device_id="K-1", kind="toaster", building_id=devworld.b1.pk)
    with pytest.raises(InvalidInput) as e:
        device_register(actor=admin, device_id="K-1", kind="smoke")
    assert e.value.code == "binding_required"
    with pytest.raises(InvalidInput) as e:
        device_register(actor=admin, device_id="K-1", kind="smoke", lat=10.0, lng=10.0)
    assert e.value.code == "location_outside_grids"
    with pytest.raises(InvalidInput):
        device_register(actor=admin, device_id="K-1", kind="smoke", lat=31.0, lng=None)


def test_register_scope(devworld):
    w = devworld.world
    # community2 (c12) cannot see the resident or building in c11: 404, and may not place a device there.
    with pytest.raises(NotFound):
        device_register(
            actor=w.users.community2, device_id="X-1", kind="wearable", resident_id=devworld.r1.pk
        )
    with pytest.raises(NotFound):
        device_register(actor=w.users.community2, device_id="X-1", kind="smoke", building_id=devworld.b1.pk)
    lat, lng = centre(0, 0)
    with pytest.raises(InvalidInput) as e:
        device_register(actor=w.users.community2, device_id="X-1", kind="smoke", lat=lat, lng=lng)
    assert e.value.code == "location_out_of_scope"
    with pytest.raises(Forbidden):
        device_register(actor=w.users.dept1, device_id="X-1", kind="smoke", building_id=devworld.b1.pk)
    assert not Device.objects.filter(device_id="X-1").exists()
    # Selectors: the grid worker of g111 sees the two devices there, not the shop's in g112.
    seen = set(device_list(user=w.users.grid1).values_list("device_id", flat=True))
    assert seen == {"W-0001", "H2O-0001"}
    assert set(device_list(user=w.users.street2).values_list("device_id", flat=True)) == set()
    with pytest.raises(NotFound):
        device_get(user=w.users.grid1, pk=devworld.smoke.pk)
    with pytest.raises(NotFound):
        device_deactivate(actor=w.users.grid2, device=devworld.watch)


def test_deactivate(devworld):
    w = devworld.world
    d = device_deactivate(actor=w.users.grid1, device=devworld.watch, reason="手环遗失")
    assert not d.active
    assert AuditEntry.objects.filter(action="device_deactivate", object_id=str(d.pk)).count() == 1
    device_deactivate(actor=w.users.grid1, device=devworld.watch)  # again: no change, no second row
    assert AuditEntry.objects.filter(action="device_deactivate", object_id=str(d.pk)).count() == 1
    assert list(device_list(user=w.users.admin, active=True).values_list("device_id", flat=True)) == [
        "H2O-0001",
        "SMK-0001",
    ]


def test_api(devworld, api_for):
    w = devworld.world
    c = api_for(w.users.community1)
    r = c.post(
        "/api/v1/devices/",
        {"device_id": "GAS-9", "kind": "gas", "name": "厨房燃气", "building_id": devworld.b1.pk},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (
        body["path"] == w.g111.code
        and body["life_safety"] is True
        and body["building"]["id"] == devworld.b1.pk
    )
    assert_error(
        c.post(
            "/api/v1/devices/",
            {"device_id": "GAS-9", "kind": "gas", "building_id": devworld.b1.pk},
            format="json",
        ),
        409,
        "device_exists",
    )
    assert_error(
        c.post(
            "/api/v1/devices/",
            {"device_id": "a/b", "kind": "gas", "building_id": devworld.b1.pk},
            format="json",
        ),
        400,
        "invalid_device_id",
    )
    rows = c.get("/api/v1/devices/").json()["results"]
    assert {row["device_id"] for row in rows} == {"W-0001", "SMK-0001", "H2O-0001", "GAS-9"}
    assert c.get(f"/api/v1/devices/{devworld.smoke.pk}/").json()["place"]["name"] == "六合小吃店"
    r = c.post(f"/api/v1/devices/{body['id']}/deactivate/", {"reason": "拆除"}, format="json")
    assert r.status_code == 200 and r.json()["active"] is False
    assert [row["device_id"] for row in c.get("/api/v1/devices/?active=false").json()["results"]] == ["GAS-9"]
    # Out of scope: 404 on detail and deactivate; community2 registering on c11's resident: 404.
    c2 = api_for(w.users.community2)
    assert_error(c2.get(f"/api/v1/devices/{devworld.watch.pk}/"), 404, "not_found")
    assert_error(c2.post(f"/api/v1/devices/{devworld.watch.pk}/deactivate/", {}, format="json"), 404)
    assert_error(
        c2.post(
            "/api/v1/devices/",
            {"device_id": "Z", "kind": "wearable", "resident_id": devworld.r1.pk},
            format="json",
        ),
        404,
    )
    assert c2.get("/api/v1/devices/").json()["results"] == []
    assert_error(api_for(w.users.dept1).get("/api/v1/devices/"), 403)
    assert Device.objects.get(pk=devworld.watch.pk).active


def test_api_correct_a_device(devworld, api_for):
    """PUT replaces the binding, PATCH changes only what is sent; scope, permission and bad input as
    for registering; the device id never changes and every change is audited once."""
    w = devworld.world
    c = api_for(w.users.community1)
    url = f"/api/v1/devices/{devworld.water.pk}/"
    lat, lng = centre(1, 0)
    r = c.put(url, {"kind": "smoke", "name": "楼道烟感", "lat": lat, "lng": lng}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["kind"] == "smoke" and body["life_safety"] is True and body["building"] is None
    assert body["path"] == w.g112.code and body["device_id"] == "H2O-0001" and body["active"] is True
    r = c.patch(url, {"name": "北门烟感"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "北门烟感"
    assert r.json()["path"] == w.g112.code and r.json()["kind"] == "smoke"  # the rest kept
    r = c.patch(url, {"kind": "door"}, format="json")
    assert r.json()["life_safety"] is False  # a new type takes its own default
    r = c.patch(url, {"life_safety": True, "active": False}, format="json")
    assert r.json()["life_safety"] is True and r.json()["active"] is False
    c.patch(url, {"life_safety": True}, format="json")  # nothing changed: no audit row
    assert AuditEntry.objects.filter(action="device_update", object_id=str(devworld.water.pk)).count() == 4
    assert_error(c.patch(url, {"kind": "toaster"}, format="json"), 400)
    assert_error(c.put(url, {"name": "没有类型"}, format="json"), 400)
    assert_error(c.patch(url, {"building_id": 999999}, format="json"), 404)
    # Out of scope, or without the permission: nothing changes.
    assert_error(api_for(w.users.community2).patch(url, {"name": "x"}, format="json"), 404, "not_found")
    assert_error(api_for(w.users.dept1).patch(url, {"name": "x"}, format="json"), 403)
    assert Device.objects.get(pk=devworld.water.pk).name == "北门烟感"


def test_patch_keeps_what_is_not_sent(devworld):
    from wangge.core.errors import InvalidInput
    from wangge.events.sos.devices import device_patch

    w, smoke = devworld.world, devworld.smoke
    d = device_patch(actor=w.users.admin, device=smoke, changes={"name": "后厨烟感"})
    assert (d.name, d.kind, d.place_id, d.path, d.life_safety) == (
        "后厨烟感",
        "smoke",
        devworld.p1.pk,
        w.g112.code,
        True,
    )
    d = device_patch(actor=w.users.admin, device=d, changes={"kind": "water"})
    assert d.life_safety is False and d.place_id == devworld.p1.pk  # the new type's default
    with pytest.raises(InvalidInput):
        device_patch(actor=w.users.admin, device=d, changes={"device_id": "X-1"})
    assert Device.objects.get(pk=smoke.pk).device_id == "SMK-0001"
