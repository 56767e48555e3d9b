import json
from datetime import date

import pytest
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.registry import services
from wangge.registry.models import Resident

from .factories import make_building, make_dwelling, make_id

pytestmark = pytest.mark.django_db

NUMBER = make_id(date(1955, 5, 5))
PHONE = "13912345678"
NOTES = "阿尔茨海默病早期"


@pytest.fixture
def reg(world):
    b1 = make_building(world.g111, "B1")
    b2 = make_building(world.g112, "B2")
    d1, d2 = make_dwelling(b1, "101"), make_dwelling(b2, "201")
    r1 = services.resident_create(
        actor=None,
        name="张三",
        id_number=NUMBER,
        phone=PHONE,
        dwelling=d1,
        health_notes=NOTES,
        is_party_member=True,
        tags=["living_alone"],
    )
    r2 = services.resident_create(
        actor=None, name="张四", id_number=make_id(date(1985, 1, 1), seq=42), dwelling=d2
    )
    return {"b1": b1, "b2": b2, "d1": d1, "d2": d2, "r1": r1, "r2": r2}


def _leaks(resp) -> bool:
    text = resp.content.decode()
    return any(secret in text for secret in (NUMBER, PHONE, NOTES))


def test_list_is_scoped_masked_and_paginated(world, reg, api_for):
    resp = api_for(world.users.grid1).get("/api/v1/residents/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 1 and [r["id"] for r in body["results"]] == [reg["r1"].pk]
    row = body["results"][0]
    assert row["id_number"] == NUMBER[:6] + "********" + NUMBER[-4:] and row["phone"] == "139****5678"
    assert {"code": "elderly_60", "name": "60岁以上老人", "colour": "orange"} in row["tags"]
    assert "is_party_member" not in row and "has_health_notes" not in row
    assert not _leaks(resp)
    body = api_for(world.users.community1).get("/api/v1/residents/?page_size=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    body = api_for(world.users.community1).get(f"/api/v1/residents/?path={world.g112.code}").json()
    assert [r["id"] for r in body["results"]] == [reg["r2"].pk]
    body = api_for(world.users.community1).get("/api/v1/residents/?tag=living_alone").json()
    assert [r["id"] for r in body["results"]] == [reg["r1"].pk]


def test_out_of_scope_resident_is_invisible(world, reg, api_for):
    grid2 = api_for(world.users.grid2)
    r1 = reg["r1"]
    body = assert_error(grid2.get(f"/api/v1/residents/{r1.pk}/"), 404, "not_found")
    assert body["message"]
    assert grid2.get("/api/v1/residents/?q=张三").json()["count"] == 0
    # Personal numbers are refused in URLs; exact search goes through POST.
    assert_error(grid2.get(f"/api/v1/residents/?q={NUMBER}"), 400, "use_post_search")
    assert_error(grid2.get(f"/api/v1/residents/?q={PHONE}"), 400, "use_post_search")
    assert grid2.post("/api/v1/residents/search/", {"q": PHONE}, format="json").json()["count"] == 0
    assert grid2.post("/api/v1/residents/search/", {"q": NUMBER}, format="json").json()["count"] == 0
    assert_error(
        grid2.post(
            f"/api/v1/residents/{r1.pk}/reveal/",
            {"field": "id_number", "reason": "核实身份信息"},
            format="json",
        ),
        404,
        "not_found",
    )
    assert_error(grid2.patch(f"/api/v1/residents/{r1.pk}/", {"name": "x"}, format="json"), 404)
    assert_error(grid2.get(f"/api/v1/buildings/{reg['b1'].pk}/"), 404)
    assert_error(grid2.get("/api/v1/residents/999999/"), 404)
    grid1 = api_for(world.users.grid1)
    assert grid1.post("/api/v1/residents/search/", {"q": NUMBER}, format="json").json()["count"] == 1
    assert grid1.post("/api/v1/residents/search/", {"q": PHONE}, format="json").json()["count"] == 1
    street2 = api_for(world.users.street2)
    assert street2.get("/api/v1/residents/").json()["count"] == 0


@pytest.mark.parametrize("who", ["dept1", "member1", "resident1"])
def test_roles_without_view_register_get_403(world, reg, api_for, who):
    client = api_for(getattr(world.users, who))
    r1 = reg["r1"]
    for url in [
        "/api/v1/residents/",
        f"/api/v1/residents/{r1.pk}/",
        "/api/v1/buildings/",
        f"/api/v1/buildings/{reg['b1'].pk}/",
        "/api/v1/places/",
        "/api/v1/facilities/",
        "/api/v1/organisations/",
        "/api/v1/dwellings/",
        "/api/v1/keygroups/counts/",
    ]:
        assert_error(client.get(url), 403, "permission_denied")
    assert_error(client.post("/api/v1/residents/", {"name": "x", "id_number": NUMBER}, format="json"), 403)
    assert_error(
        client.post(
            f"/api/v1/residents/{r1.pk}/reveal/", {"field": "phone", "reason": "核实身份信息"}, format="json"
        ),
        403,
    )


def test_anonymous_is_401(client, reg):
    resp = client.get("/api/v1/residents/")
    assert resp.status_code in (401, 403)
    assert_error(resp, resp.status_code)


def test_card_and_reveal(world, reg, api_for):
    grid1 = api_for(world.users.grid1)
    r1 = reg["r1"]
    card = grid1.get(f"/api/v1/residents/{r1.pk}/")
    assert card.status_code == 200 and not _leaks(card)
    data = card.json()
    assert data["is_party_member"] is True and data["has_health_notes"] is True
    assert data["occupancies"][0]["dwelling"]["id"] == reg["d1"].pk
    url = f"/api/v1/residents/{r1.pk}/reveal/"
    body = assert_error(grid1.post(url, {"field": "id_number"}, format="json"), 400, "reason_required")
    assert NUMBER not in json.dumps(body)
    assert_error(
        grid1.post(url, {"field": "password", "reason": "核实身份信息"}, format="json"), 400, "invalid_field"
    )
    resp = grid1.post(url, {"field": "health_notes", "reason": "联系家庭医生上门"}, format="json")
    assert resp.status_code == 200 and resp.json() == {"value": NOTES}
    assert resp["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(action="resident.reveal")
    assert (
        entry.actor_name == "grid1"
        and entry.after == {"field": "health_notes"}
        and entry.reason == "联系家庭医生上门"
    )


def test_create_and_patch(world, reg, api_for):
    grid1 = api_for(world.users.grid1)
    d = make_dwelling(reg["b1"], "102")
    number = make_id(date(2000, 2, 29), male=False, seq=88)
    payload = {
        "name": "王芳",
        "id_number": number,
        "phone": "13700001111",
        "dwelling": d.pk,
        "household_role": "head",
        "residence_type": "renting",
        "tags": ["short_rent"],
    }
    resp = grid1.post("/api/v1/residents/", payload, format="json")
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert (
        data["sex"] == "F" and data["residence_type_label"] == "租住" and number not in resp.content.decode()
    )
    assert [t["code"] for t in data["tags"]] == ["short_rent"]
    body = assert_error(grid1.post("/api/v1/residents/", payload, format="json"), 409, "duplicate_id_number")
    assert number not in json.dumps(body, ensure_ascii=False)
    bad = dict(payload, id_number=number[:-1] + ("1" if number[-1] != "1" else "2"))
    body = assert_error(grid1.post("/api/v1/residents/", bad, format="json"), 400, "invalid_id_checksum")
    assert bad["id_number"] not in json.dumps(body, ensure_ascii=False)
    body = assert_error(
        grid1.post("/api/v1/residents/", dict(payload, phone="999"), format="json"), 400, "invalid_phone"
    )
    assert_error(grid1.post("/api/v1/residents/", {"name": "x"}, format="json"), 400, "invalid")
    # A dwelling outside the caller's territory is "not found".
    assert_error(grid1.post("/api/v1/residents/", dict(payload, dwelling=reg["d2"].pk), format="json"), 404)
    rid = data["id"]
    resp = grid1.patch(f"/api/v1/residents/{rid}/", {"ethnicity": "回族", "tags": []}, format="json")
    assert resp.status_code == 200 and resp.json()["ethnicity"] == "回族" and resp.json()["tags"] == []
    r = Resident.objects.get(pk=rid)
    assert r.residence_type == "renting" and r.household_role == "head"  # untouched by the PATCH
    assert_error(
        api_for(world.users.dept1).patch(f"/api/v1/residents/{rid}/", {"name": "x"}, format="json"), 403
    )


def test_moves_via_api(world, reg, api_for):
    community1 = api_for(world.users.community1)
    r1 = reg["r1"]
    today = timezone.localdate().isoformat()
    resp = community1.post(
        f"/api/v1/residents/{r1.pk}/move-in/", {"dwelling": reg["d2"].pk, "on": today}, format="json"
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["dwelling"]["id"] == reg["d2"].pk and len(resp.json()["occupancies"]) == 2
    hist = community1.get(f"/api/v1/residents/{r1.pk}/occupancies/").json()
    assert [h["moved_out"] for h in hist] == [None, today]
    assert_error(
        community1.post(
            f"/api/v1/residents/{r1.pk}/move-in/", {"dwelling": reg["d2"].pk, "on": today}, format="json"
        ),
        409,
        "already_living_here",
    )
    resp = community1.post(f"/api/v1/residents/{r1.pk}/move-out/", {"on": today}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "moved_out"


def test_buildings_and_card(world, reg, api_for):
    grid1 = api_for(world.users.grid1)
    body = grid1.get("/api/v1/buildings/").json()
    assert [b["code"] for b in body["results"]] == ["B1"]
    card = grid1.get(f"/api/v1/buildings/{reg['b1'].pk}/")
    assert card.status_code == 200 and not _leaks(card)
    data = card.json()
    assert data["dwellings"][0]["occupants"][0]["id"] == reg["r1"].pk
    plates = {p["code"]: p for p in data["plates"]}
    assert plates["living_alone"]["households"] == 1 and plates["elderly_60"]["residents"] == 1
    resp = grid1.post(
        "/api/v1/buildings/", {"code": "B3", "name": "3栋", "grid": world.g111.pk}, format="json"
    )
    assert resp.status_code == 201 and resp.json()["path"] == world.g111.code
    assert_error(
        grid1.post("/api/v1/buildings/", {"code": "B3", "name": "x", "grid": world.g111.pk}, format="json"),
        409,
        "duplicate_building_code",
    )
    assert_error(
        grid1.post("/api/v1/buildings/", {"code": "B4", "name": "x", "grid": world.g112.pk}, format="json"),
        404,
    )
    bid = resp.json()["id"]
    resp = grid1.post(
        "/api/v1/dwellings/", {"building": bid, "unit": "2", "room": "301", "use": "rented"}, format="json"
    )
    assert resp.status_code == 201 and resp.json()["use_label"] == "出租"
    did = resp.json()["id"]
    assert (
        grid1.patch(f"/api/v1/dwellings/{did}/", {"use": "vacant"}, format="json").json()["use"] == "vacant"
    )
    assert grid1.get(f"/api/v1/dwellings/{did}/").json()["occupants"] == []
    assert grid1.get(f"/api/v1/dwellings/?building={bid}").json()["count"] == 1
    assert_error(grid1.get(f"/api/v1/dwellings/{reg['d2'].pk}/"), 404)
    counts = grid1.get("/api/v1/keygroups/counts/").json()
    assert {c["code"]: c["count"] for c in counts}["elderly_60"] == 1


def test_places_facilities_organisations(world, reg, api_for):
    grid1, grid2 = api_for(world.users.grid1), api_for(world.users.grid2)
    resp = grid1.post(
        "/api/v1/places/",
        {"name": "便利店", "address": "六合路2号", "phone": PHONE, "building": reg["b1"].pk},
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["phone"] == "139****5678" and not _leaks(resp)
    pid = resp.json()["id"]
    assert grid1.get(f"/api/v1/places/{pid}/").status_code == 200
    assert_error(grid2.get(f"/api/v1/places/{pid}/"), 404)
    assert grid2.get("/api/v1/places/").json()["count"] == 0
    assert (
        grid1.patch(f"/api/v1/places/{pid}/", {"licence_status": "expired"}, format="json").json()[
            "licence_status"
        ]
        == "expired"
    )

    resp = grid1.post(
        "/api/v1/facilities/",
        {"code": "4208020106000001", "lat": 31.0325, "lng": 112.2025, "grid": world.g111.pk},
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["class_name"] == "消防栓"
    assert_error(
        grid1.post(
            "/api/v1/facilities/",
            {"code": "4208020199000001", "lat": 31.0, "lng": 112.2, "grid": world.g111.pk},
            format="json",
        ),
        400,
        "invalid_facility_class",
    )
    fid = resp.json()["id"]
    assert_error(grid2.get(f"/api/v1/facilities/{fid}/"), 404)
    assert grid1.get("/api/v1/facilities/?major=01").json()["count"] == 1

    community1 = api_for(world.users.community1)
    resp = community1.post(
        "/api/v1/organisations/",
        {"name": "六合志愿队", "kind": "volunteer", "community": world.c11.pk},
        format="json",
    )
    assert resp.status_code == 201 and resp.json()["kind_label"] == "志愿服务队"
    oid = resp.json()["id"]
    assert community1.get(f"/api/v1/organisations/{oid}/").status_code == 200
    assert_error(api_for(world.users.community2).get(f"/api/v1/organisations/{oid}/"), 404)
    assert_error(
        community1.post(
            "/api/v1/organisations/",
            {"name": "x", "kind": "volunteer", "community": world.c12.pk},
            format="json",
        ),
        404,
    )


def test_error_bodies_never_hold_personal_values(world, reg, api_for):
    grid1 = api_for(world.users.grid1)
    for payload in (
        {"name": "甲", "id_number": NUMBER, "dwelling": reg["d1"].pk},  # duplicate
        {"name": "甲", "id_number": NUMBER + "1", "dwelling": reg["d1"].pk},  # too long
        {
            "name": "甲",
            "id_number": make_id(date(1990, 1, 1), seq=9),
            "phone": PHONE + "99",
            "dwelling": reg["d1"].pk,
        },
        {
            "name": "甲",
            "id_number": make_id(date(1990, 1, 1), seq=9),
            "phone": PHONE,
            "dwelling": reg["d1"].pk,
            "household_role": NUMBER,
        },
    ):
        resp = grid1.post("/api/v1/residents/", payload, format="json")
        assert resp.status_code in (400, 409), resp.content
        assert not _leaks(resp) and (PHONE + "99") not in resp.content.decode()
    text = json.dumps(
        list(AuditEntry.objects.values("before", "after", "reason", "object_repr")), ensure_ascii=False
    )
    assert NUMBER not in text and PHONE not in text and NOTES not in text


def test_schema_builds(world, api_for):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "/api/v1/residents/{id}/reveal/" in schema["paths"]
    assert "/api/v1/buildings/{id}/" in schema["paths"]
