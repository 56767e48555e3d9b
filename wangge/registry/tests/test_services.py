import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.core import crypto
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.registry import selectors, services
from wangge.registry.display import resident_card, resident_display
from wangge.registry.models import Facility, KeyGroup, Occupancy, Place, Resident, ResidentStatus
from wangge.territory.models import Compound

from .factories import make_building, make_dwelling, make_id

pytestmark = pytest.mark.django_db

BIRTH = date(1990, 3, 15)
PHONE = "13912345678"
NOTES = "高血压，需定期随访"


@pytest.fixture
def home(world):
    b1 = make_building(world.g111, "B-111-1")
    b2 = make_building(world.g112, "B-112-1")
    return {
        "b1": b1,
        "b2": b2,
        "d101": make_dwelling(b1, "101"),
        "d102": make_dwelling(b1, "102"),
        "d201": make_dwelling(b2, "201"),
    }


def _resident(world, home, **kw):
    kw.setdefault("name", "张三丰")
    kw.setdefault("id_number", make_id(BIRTH))
    kw.setdefault("dwelling", home["d101"])
    return services.resident_create(actor=kw.pop("actor", world.users.grid1), **kw)


def _audit_text() -> str:
    return json.dumps(
        list(AuditEntry.objects.values("before", "after", "reason", "object_repr")), ensure_ascii=False
    )


# --- ID rules, personal values ---------------------------------------------------------------------


def test_create_derives_birth_and_sex_and_encrypts(world, home):
    number = make_id(BIRTH, male=False)
    r = _resident(
        world,
        home,
        id_number=number.lower(),
        phone="139-1234-5678",
        health_notes=NOTES,
        is_party_member=True,
        tags=["empty_nest"],
    )
    r.refresh_from_db()
    assert r.birth_date == BIRTH and r.sex == "F"
    assert number not in r.id_number_enc and crypto.decrypt(r.id_number_enc) == number
    assert crypto.decrypt(r.phone_enc) == PHONE and r.phone_hash == crypto.digest(PHONE)
    assert crypto.decrypt(r.health_notes_enc) == NOTES
    assert r.id_hash == crypto.digest(number)
    assert r.path == world.g111.code and r.building == home["b1"]
    assert [t.code for t in r.tags.all()] == ["empty_nest"]
    occ = Occupancy.objects.get(resident=r)
    assert occ.dwelling == home["d101"] and occ.moved_out is None


@pytest.mark.parametrize(
    "bad, code",
    [
        ("42080219900315123", "invalid_id_length"),
        ("4208021990031512X3", "invalid_id_format"),
        ("990802199003151230", "invalid_id_region"),
        ("42080219901315123", "invalid_id_birth_date"),  # month 13; check digit added below
    ],
)
def test_invalid_id_numbers(world, home, bad, code):
    if code == "invalid_id_birth_date":
        from stdnum.cn import ric

        bad = bad + ric.calc_check_digit(bad + "0")
    with pytest.raises(InvalidInput) as err:
        _resident(world, home, id_number=bad)
    assert err.value.code == code and bad not in err.value.message


def test_bad_checksum(world, home):
    good = make_id(BIRTH)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as err:
        _resident(world, home, id_number=bad)
    assert err.value.code == "invalid_id_checksum" and bad not in err.value.message
    assert not Resident.objects.exists()


def test_duplicate_id_number_is_conflict_without_the_number(world, home):
    number = make_id(BIRTH)
    _resident(world, home, id_number=number)
    with pytest.raises(Conflict) as err:
        _resident(world, home, id_number=number, name="李四", dwelling=home["d102"])
    assert err.value.code == "duplicate_id_number"
    assert number not in err.value.message and number not in str(err.value.details)
    other = _resident(world, home, id_number=make_id(BIRTH, seq=200), name="李四")
    with pytest.raises(Conflict):
        services.resident_update(actor=world.users.grid1, resident=other, id_number=number)


def test_invalid_phone_and_tags(world, home):
    with pytest.raises(InvalidInput) as err:
        _resident(world, home, phone="12345")
    assert err.value.code == "invalid_phone" and "12345" not in err.value.message
    with pytest.raises(InvalidInput) as err:
        _resident(world, home, tags=["elderly_60"])  # derived groups are never stored
    assert err.value.code == "invalid_tag"
    with pytest.raises(InvalidInput):
        _resident(world, home, household_role="boss")


def test_update_changes_id_and_recomputes(world, home):
    r = _resident(world, home)
    new = make_id(date(1950, 1, 2), male=False)
    services.resident_update(actor=world.users.grid1, resident=r, id_number=new, phone="", tags=["disabled"])
    r.refresh_from_db()
    assert r.birth_date == date(1950, 1, 2) and r.sex == "F" and r.phone_enc == "" and r.phone_hash is None
    assert r.id_hash == crypto.digest(new)
    assert list(r.tags.values_list("code", flat=True)) == ["disabled"]


def test_permissions_and_scope_on_writes(world, home):
    with pytest.raises(Forbidden):
        _resident(world, home, actor=world.users.dept1)
    with pytest.raises(NotFound):  # grid1 cannot register someone in grid2's building
        _resident(world, home, actor=world.users.grid1, dwelling=home["d201"])
    r = _resident(world, home, actor=world.users.community1, dwelling=home["d201"])
    with pytest.raises(NotFound):
        services.resident_update(actor=world.users.grid1, resident=r, name="王五")
    with pytest.raises(InvalidInput):
        _resident(world, home, dwelling=None)


# --- move in / move out ----------------------------------------------------------------------------


def test_move_in_and_out_keep_history(world, home):
    today = timezone.localdate()
    r = _resident(world, home, actor=world.users.community1, moved_in=today - timedelta(days=100))
    with pytest.raises(InvalidInput):  # before the current move-in
        services.resident_move_in(
            actor=world.users.community1, resident=r, dwelling=home["d201"], on=today - timedelta(days=200)
        )
    with pytest.raises(InvalidInput):  # in the future
        services.resident_move_in(
            actor=world.users.community1, resident=r, dwelling=home["d201"], on=today + timedelta(days=1)
        )
    with pytest.raises(Conflict):
        services.resident_move_in(
            actor=world.users.community1, resident=r, dwelling=home["d101"], on=today - timedelta(days=10)
        )
    services.resident_move_in(
        actor=world.users.community1,
        resident=r,
        dwelling=home["d201"],
        relation="tenant",
        on=today - timedelta(days=50),
    )
    r.refresh_from_db()
    assert r.dwelling == home["d201"] and r.path == world.g112.code and r.building == home["b2"]
    history = list(Occupancy.objects.filter(resident=r).order_by("moved_in"))
    assert [(o.dwelling_id, o.moved_out) for o in history] == [
        (home["d101"].pk, today - timedelta(days=50)),
        (home["d201"].pk, None),
    ]
    assert history[1].relation == "tenant" and history[1].path == world.g112.code
    # grid1 no longer sees the resident: the move re-pathed it into grid2.
    with pytest.raises(NotFound):
        selectors.resident_get(user=world.users.grid1, pk=r.pk)
    with pytest.raises(InvalidInput):
        services.resident_move_out(actor=world.users.grid2, resident=r, on=today - timedelta(days=60))
    services.resident_move_out(actor=world.users.grid2, resident=r, on=today)
    r.refresh_from_db()
    assert r.status == ResidentStatus.MOVED_OUT and r.dwelling is None
    assert Occupancy.objects.get(resident=r, dwelling=home["d201"]).moved_out == today
    with pytest.raises(InvalidInput) as err:
        services.resident_move_out(actor=world.users.grid2, resident=r, on=today)
    assert err.value.code == "not_living_anywhere"
    assert not selectors.resident_search(user=world.users.grid2).exists()
    assert selectors.resident_search(user=world.users.grid2, status="").count() == 1
    assert AuditEntry.objects.filter(action__in=["resident.move_in", "resident.move_out"]).count() == 2


def test_update_dwelling_moves(world, home):
    r = _resident(world, home, moved_in=date(2020, 1, 1))
    services.resident_update(actor=world.users.grid1, resident=r, dwelling=home["d102"])
    assert Occupancy.objects.filter(resident=r).count() == 2
    assert Occupancy.objects.get(resident=r, moved_out__isnull=True).dwelling == home["d102"]
    services.resident_update(actor=world.users.grid1, resident=r, status="deceased")
    r.refresh_from_db()
    assert r.dwelling is None and not Occupancy.objects.filter(resident=r, moved_out__isnull=True).exists()
    with pytest.raises(InvalidInput):
        services.resident_update(actor=world.users.grid1, resident=r, status="lost")


# --- key groups with a fixed today -----------------------------------------------------------------


def test_derived_groups_follow_the_calendar(world, home):
    today = date(2026, 6, 1)
    r = _resident(world, home, id_number=make_id(date(1966, 6, 2)))  # 60 tomorrow
    young = _resident(
        world, home, id_number=make_id(date(2024, 1, 1), seq=300), name="小明", dwelling=home["d102"]
    )
    u = world.users.grid1
    assert not selectors.resident_search(user=u, tag="elderly_60", today=today).filter(pk=r.pk).exists()
    tomorrow = today + timedelta(days=1)
    assert list(selectors.resident_search(user=u, tag="elderly_60", today=tomorrow)) == [r]
    assert list(selectors.resident_search(user=u, tag="infant_0_3", today=today)) == [young]
    assert not selectors.resident_search(user=u, tag="infant_0_3", today=date(2027, 1, 1)).exists()
    assert "elderly_60" not in [t["code"] for t in resident_display(r, today=today)["tags"]]
    assert "elderly_60" in [t["code"] for t in resident_display(r, today=tomorrow)["tags"]]
    assert resident_display(r, today=today)["age"] == 59
    assert not r.tags.exists()  # nothing stored for derived groups

    counts = {
        c["code"]: c["count"] for c in selectors.keygroup_counts(user=u, path=world.g111.code, today=tomorrow)
    }
    assert counts["elderly_60"] == 1 and counts["infant_0_3"] == 1 and counts["elderly_80"] == 0
    services.resident_update(actor=u, resident=r, tags=["empty_nest", "disabled"])
    counts = {c["code"]: c["count"] for c in selectors.keygroup_counts(user=u, path="", today=today)}
    assert counts["empty_nest"] == 1 and counts["disabled"] == 1 and counts["elderly_60"] == 0
    assert list(selectors.resident_search(user=u, tag="empty_nest")) == [r]
    # Another grid's counts do not include grid1's residents.
    other = selectors.keygroup_counts(user=world.users.grid2, path="", today=tomorrow)
    assert all(c["count"] == 0 for c in other)


def test_keygroup_definitions_are_data(world, home):
    r = _resident(world, home, id_number=make_id(date(1980, 1, 1)))
    KeyGroup.objects.create(code="over_40", name="40岁以上", kind="derived", min_age=40)
    assert list(selectors.resident_search(user=world.users.grid1, tag="over_40", today=date(2021, 1, 1))) == [
        r
    ]
    assert not selectors.resident_search(
        user=world.users.grid1, tag="over_40", today=date(2019, 12, 31)
    ).exists()
    assert not selectors.resident_search(user=world.users.grid1, tag="no_such_tag").exists()


# --- search ------------------------------------------------------------------------------------------


def test_search_by_name_id_and_phone_is_scoped(world, home):
    number = make_id(BIRTH)
    r = _resident(world, home, id_number=number, phone=PHONE)
    other = _resident(
        world,
        home,
        actor=world.users.community1,
        id_number=make_id(BIRTH, seq=500),
        name="张无忌",
        dwelling=home["d201"],
        phone="13700000000",
    )
    g1, g2, c1 = world.users.grid1, world.users.grid2, world.users.community1
    assert list(selectors.resident_search(user=g1, q="张")) == [r]
    assert set(selectors.resident_search(user=c1, q="张")) == {r, other}
    assert list(selectors.resident_search(user=g1, q=number)) == [r]
    assert list(selectors.resident_search(user=g1, q=number.lower()[:6] + " " + number[6:])) == [r]
    assert not selectors.resident_search(user=g2, q=number).exists()
    assert list(selectors.resident_search(user=g1, q=PHONE)) == [r]
    assert not selectors.resident_search(user=g1, q=PHONE[:7]).exists()  # no partial match on personal values
    assert list(selectors.resident_search(user=c1, path=world.g112.code)) == [other]
    with pytest.raises(Forbidden):
        selectors.resident_search(user=world.users.dept1)
    with pytest.raises(Forbidden):
        selectors.resident_get(user=world.users.member1, pk=r.pk)
    with pytest.raises(NotFound):
        selectors.resident_get(user=g2, pk=r.pk)
    with pytest.raises(NotFound):
        selectors.resident_get(user=g1, pk="abc")


# --- reveal ------------------------------------------------------------------------------------------


def test_reveal_needs_permission_scope_and_reason(world, home):
    number = make_id(BIRTH)
    r = _resident(world, home, id_number=number, phone=PHONE, health_notes=NOTES)
    before = AuditEntry.objects.count()
    with pytest.raises(Forbidden):
        services.resident_reveal(
            actor=world.users.dept1, resident=r, field="id_number", reason="核实身份信息"
        )
    with pytest.raises(NotFound):
        services.resident_reveal(
            actor=world.users.grid2, resident=r, field="id_number", reason="核实身份信息"
        )
    for reason in ("", "   ", "核实"):
        with pytest.raises(InvalidInput) as err:
            services.resident_reveal(actor=world.users.grid1, resident=r, field="id_number", reason=reason)
        assert err.value.code == "reason_required"
    with pytest.raises(InvalidInput):
        services.resident_reveal(actor=world.users.grid1, resident=r, field="name_enc", reason="核实身份信息")
    assert AuditEntry.objects.count() == before
    assert (
        services.resident_reveal(
            actor=world.users.grid1, resident=r, field="id_number", reason="核实身份信息"
        )
        == number
    )
    assert (
        services.resident_reveal(actor=world.users.grid1, resident=r, field="phone", reason="联系走访对象")
        == PHONE
    )
    assert (
        services.resident_reveal(
            actor=world.users.community1, resident=r, field="health_notes", reason="安排家庭医生"
        )
        == NOTES
    )
    rows = list(AuditEntry.objects.filter(action="resident.reveal").order_by("id"))
    assert [(e.actor_name, e.after, e.reason) for e in rows] == [
        ("grid1", {"field": "id_number"}, "核实身份信息"),
        ("grid1", {"field": "phone"}, "联系走访对象"),
        ("community1", {"field": "health_notes"}, "安排家庭医生"),
    ]
    assert all(e.object_id == str(r.pk) and e.path == r.path for e in rows)


# --- masking everywhere ----------------------------------------------------------------------------


def test_display_masks_and_hides_sensitive(world, home):
    number = make_id(BIRTH)
    r = _resident(
        world,
        home,
        id_number=number,
        phone=PHONE,
        health_notes=NOTES,
        is_party_member=True,
        household_role="head",
    )
    row = resident_display(r, today=date(2025, 1, 1))
    assert row["id_number"] == number[:6] + "********" + number[-4:]
    assert row["phone"] == "139****5678"
    assert row["age"] == 34 and row["sex_label"] == "男" and row["household_role_label"] == "户主"
    assert row["dwelling"]["label"] == "1单元101室" and row["building"]["id"] == home["b1"].pk
    assert "is_party_member" not in row and not any("health" in k for k in row)
    text = json.dumps(row, ensure_ascii=False, default=str)
    assert number not in text and PHONE not in text and NOTES not in text
    card = resident_card(r, today=date(2025, 1, 1))
    assert card["is_party_member"] is True and card["has_health_notes"] is True
    assert len(card["occupancies"]) == 1
    text = json.dumps(card, ensure_ascii=False, default=str)
    assert number not in text and PHONE not in text and NOTES not in text


def test_audit_rows_hold_no_personal_plaintext(world, home):
    number, new_number = make_id(BIRTH), make_id(date(1961, 7, 8), seq=777)
    r = _resident(
        world,
        home,
        id_number=number,
        phone=PHONE,
        health_notes=NOTES,
        is_party_member=True,
        tags=["low_income"],
    )
    services.resident_update(
        actor=world.users.grid1,
        resident=r,
        id_number=new_number,
        phone="13811112222",
        health_notes="糖尿病",
        is_party_member=False,
        name="张君宝",
    )
    services.resident_reveal(actor=world.users.grid1, resident=r, field="id_number", reason="核实身份信息")
    text = _audit_text()
    for secret in (
        number,
        new_number,
        PHONE,
        "13811112222",
        NOTES,
        "糖尿病",
        "low_income",
        "张三丰",
        "张君宝",
    ):
        assert secret not in text, secret
    upd = AuditEntry.objects.get(action="resident.update")
    assert upd.before["id_number"] == number[:6] + "********" + number[-4:]
    assert upd.after["phone"] == "138****2222"
    assert upd.after["name"] == "张*宝" and "health_notes" in upd.after and "is_party_member" in upd.after
    create = AuditEntry.objects.get(action="resident.create")
    assert create.after["tags"] == ["敏感标签×1"] and create.object_repr == f"居民#{r.pk}"


def test_update_without_changes_writes_no_audit(world, home):
    r = _resident(world, home, phone=PHONE)
    before = AuditEntry.objects.count()
    services.resident_update(actor=world.users.grid1, resident=r, phone=PHONE, name="张三丰")
    assert AuditEntry.objects.count() == before
    token = Resident.objects.get(pk=r.pk).phone_enc
    assert token == r.phone_enc  # unchanged values keep their ciphertext


# --- buildings, dwellings, card ----------------------------------------------------------------------


def test_building_create_and_card(world, home):
    compound = Compound.objects.create(
        code="C1", name="六合小区", community=world.c11, grid=world.g111, path=world.g111.code
    )
    b = services.building_create(actor=world.users.grid1, code="B-NEW", name="3栋", compound=compound)
    assert b.grid == world.g111 and b.path == world.g111.code
    with pytest.raises(Conflict) as err:
        services.building_create(actor=world.users.grid1, code="B-NEW", name="x", grid=world.g111)
    assert err.value.code == "duplicate_building_code"
    with pytest.raises(NotFound):
        services.building_create(actor=world.users.grid1, code="B-X", name="x", grid=world.g112)
    with pytest.raises(InvalidInput):
        services.building_create(actor=world.users.grid1, code="B-Y", name="x")
    with pytest.raises(InvalidInput):  # compound of another community
        services.building_create(
            actor=world.users.street1, code="B-Z", name="x", grid=world.g121, compound=compound
        )
    d_big = services.dwelling_create(actor=world.users.grid1, building=b, unit="1", room="1001", use="rented")
    d_small = services.dwelling_create(actor=world.users.grid1, building=b, unit="1", room="201")
    assert d_big.path == b.path
    with pytest.raises(Conflict):
        services.dwelling_create(actor=world.users.grid1, building=b, unit="1", room="201")
    with pytest.raises(InvalidInput):
        services.dwelling_create(actor=world.users.grid1, building=b, room="301", use="palace")
    services.dwelling_update(actor=world.users.grid1, dwelling=d_small, use="vacant")
    old = _resident(world, home, id_number=make_id(date(1940, 1, 1)), dwelling=d_big, tags=["empty_nest"])
    _resident(world, home, id_number=make_id(date(1942, 1, 1), seq=400), dwelling=d_big, name="老伴")
    card = selectors.building_card(user=world.users.grid1, pk=b.pk, today=date(2025, 1, 1))
    assert card["compound"]["name"] == "六合小区" and card["grid"]["code"] == world.g111.code
    assert [d["room"] for d in card["dwellings"]] == ["201", "1001"]
    assert card["dwellings"][0]["use"] == "vacant" and card["dwellings"][0]["occupants"] == []
    assert {o["id"] for o in card["dwellings"][1]["occupants"]} == {old.pk, old.pk + 1}
    plates = {p["code"]: p for p in card["plates"]}
    assert plates["elderly_60"]["residents"] == 2 and plates["elderly_60"]["households"] == 1
    assert plates["empty_nest"]["residents"] == 1 and plates["disabled"]["residents"] == 0
    assert card["resident_count"] == 2
    text = json.dumps(card, ensure_ascii=False, default=str)
    assert make_id(date(1940, 1, 1)) not in text
    with pytest.raises(NotFound):
        selectors.building_card(user=world.users.grid2, pk=b.pk)


def test_building_regrid_repaths_contents(world, home):
    r = _resident(world, home, actor=world.users.community1)
    services.building_update(actor=world.users.community1, building=home["b1"], grid=world.g112)
    r.refresh_from_db()
    home["d101"].refresh_from_db()
    assert r.path == world.g112.code and home["d101"].path == world.g112.code
    assert Occupancy.objects.get(resident=r).path == world.g112.code
    assert AuditEntry.objects.filter(action="building.update").exists()


def test_building_located_from_coordinates(world):
    from wangge.conftest import centre

    lat, lng = centre(1, 0)
    b = services.building_create(
        actor=world.users.community1, code="B-LOC", name="x", lat=lat, lng=lng, grid=world.g111
    )
    assert b.grid == world.g112 and b.path == world.g112.code
    d = services.dwelling_create(actor=world.users.community1, building=b, room="101")
    lat2, lng2 = centre(0, 0)
    services.building_update(actor=world.users.community1, building=b, lat=lat2, lng=lng2)
    b.refresh_from_db()
    d.refresh_from_db()
    assert b.grid == world.g111 and d.path == world.g111.code
    f = services.facility_create(actor=world.users.community1, code="4208020109000001", lat=lat, lng=lng)
    assert f.grid == world.g112 and f.path == world.g112.code
    p = services.place_create(actor=world.users.community1, name="店", lat=lat2, lng=lng2)
    assert p.grid == world.g111
    with pytest.raises(NotFound):  # located into a grid outside the actor's territory
        services.place_create(actor=world.users.grid2, name="店2", lat=lat2, lng=lng2)


# --- places, facilities, organisations ----------------------------------------------------------------

CREDIT = "91110000600037341L"


def test_place_natural_key_licence_and_phone(world, home):
    p = services.place_create(
        actor=world.users.grid1,
        name="老王面馆",
        address="六合路1号",
        phone=PHONE,
        building=home["b1"],
        licence_status="expired",
    )
    assert p.path == world.g111.code and p.natural_key == "老王面馆|六合路1号"
    assert crypto.decrypt(p.phone_enc) == PHONE and PHONE not in _audit_text()
    with pytest.raises(Conflict):
        services.place_create(actor=world.users.grid1, name="老王面馆", address="六合路1号", grid=world.g111)
    q = services.place_create(
        actor=world.users.grid1, name="某公司", credit_code=CREDIT.lower(), grid=world.g111
    )
    assert q.credit_code == CREDIT and q.natural_key == CREDIT
    with pytest.raises(Conflict):
        services.place_create(actor=world.users.grid1, name="另一个名字", credit_code=CREDIT, grid=world.g111)
    with pytest.raises(InvalidInput) as err:
        services.place_create(
            actor=world.users.grid1, name="x", credit_code="91110000600037341A", grid=world.g111
        )
    assert err.value.code == "invalid_credit_code"
    with pytest.raises(InvalidInput):
        services.place_create(actor=world.users.grid1, name="x", grid=world.g111, licence_status="maybe")
    services.place_update(actor=world.users.grid1, place=p, licence_status="valid", phone="")
    p.refresh_from_db()
    assert p.licence_status == "valid" and p.phone_hash is None
    assert set(selectors.place_list(user=world.users.grid1, licence_status="valid")) == {p, q}
    assert not selectors.place_list(user=world.users.grid1, licence_status="expired").exists()
    assert list(selectors.place_list(user=world.users.grid1, q=CREDIT)) == [q]
    assert not selectors.place_list(user=world.users.grid2).exists()
    assert Place.objects.count() == 2


def test_facility_code_rules(world):
    u = world.users.community1
    lat, lng = 31.0325, 112.2025
    f = services.facility_create(actor=u, code="4208020107000001", lat=lat, lng=lng, grid=world.g111)
    assert f.facility_class.name == "路灯" and f.name == "路灯" and f.path == world.g111.code
    for code, err_code in [
        ("420802010700001", "invalid_facility_code"),  # 15 digits
        ("42080201070000a1", "invalid_facility_code"),
        ("1101010107000001", "invalid_facility_division"),  # not an existing district
        ("4208029907000001", "invalid_facility_class"),  # no major 99
        ("4208020199000001", "invalid_facility_class"),  # no minor 99 in major 01
        ("4208020107000000", "invalid_facility_code"),
    ]:
        with pytest.raises(InvalidInput) as err:
            services.facility_create(actor=u, code=code, lat=lat, lng=lng, grid=world.g111)
        assert err.value.code == err_code, code
    with pytest.raises(Conflict):
        services.facility_create(actor=u, code="4208020107000001", lat=lat, lng=lng, grid=world.g111)
    with pytest.raises(InvalidInput):
        services.facility_create(actor=u, code="4208020107000002", lat=None, lng=None, grid=world.g111)
    with pytest.raises(NotFound):
        services.facility_create(
            actor=world.users.grid2, code="4208020107000003", lat=lat, lng=lng, grid=world.g111
        )
    services.facility_update(actor=u, facility=f, condition="damaged")
    assert Facility.objects.get(pk=f.pk).condition == "damaged"
    assert list(selectors.facility_list(user=world.users.grid1, major="01", condition="damaged")) == [f]


def test_organisations(world):
    compound = Compound.objects.create(
        code="C9", name="六合小区", community=world.c11, grid=world.g111, path=world.g111.code
    )
    o = services.organisation_create(
        actor=world.users.community1,
        name="六合业委会",
        kind="owners_committee",
        community=world.c11,
        contact_phone="13900001111",
        compounds=[compound],
    )
    assert o.path == world.c11.code
    with pytest.raises(Conflict):
        services.organisation_create(
            actor=world.users.community1, name="六合业委会", kind="social", community=world.c11
        )
    with pytest.raises(NotFound):
        services.organisation_create(
            actor=world.users.community1, name="x", kind="social", community=world.c12
        )
    with pytest.raises(InvalidInput):
        services.organisation_create(
            actor=world.users.community2, name="x", kind="social", community=world.c12, compounds=[compound]
        )
    with pytest.raises(InvalidInput):
        services.organisation_create(actor=world.users.community1, name="x", kind="club", community=world.c11)
    # An organisation belongs to its community: not listed to grid workers or other communities.
    assert list(selectors.organisation_list(user=world.users.community1)) == [o]
    assert not selectors.organisation_list(user=world.users.grid1).exists()
    assert not selectors.organisation_list(user=world.users.community2).exists()
    services.organisation_update(actor=world.users.community1, organisation=o, members_count=7, compounds=[])
    o.refresh_from_db()
    assert o.members_count == 7 and not o.compounds.exists()


# --- key rotation ----------------------------------------------------------------------------------


def test_rotate_keys_with_two_keys(world, home, settings):
    from django.core.management import call_command

    number = make_id(BIRTH)
    r = _resident(world, home, id_number=number, phone=PHONE, health_notes=NOTES)
    r2 = _resident(world, home, id_number=make_id(BIRTH, seq=600), name="李四", dwelling=home["d102"])
    p = services.place_create(actor=None, name="店", phone=PHONE, grid=world.g111)
    old_id = settings.WANGGE_ENCRYPTION_KEYS[0].partition(":")[0]
    settings.WANGGE_ENCRYPTION_KEYS = [f"k2:{crypto.new_key()}", settings.WANGGE_ENCRYPTION_KEYS[0]]
    call_command("rotate-keys", "--batch-size", "1", stdout=open("/dev/null", "w"))
    r.refresh_from_db()
    r2.refresh_from_db()
    p.refresh_from_db()
    for token in (r.id_number_enc, r.phone_enc, r.health_notes_enc, r2.id_number_enc, p.phone_enc):
        assert token.startswith("k2:"), token[:8]
    assert r.id_number_enc and r2.phone_enc == ""  # empty stays empty
    # The old key can go: everything decrypts with the new one alone.
    settings.WANGGE_ENCRYPTION_KEYS = settings.WANGGE_ENCRYPTION_KEYS[:1]
    assert crypto.decrypt(r.id_number_enc) == number and crypto.decrypt(r.health_notes_enc) == NOTES
    assert crypto.decrypt(p.phone_enc) == PHONE
    assert list(selectors.resident_search(user=world.users.grid1, q=number)) == [r]
    entry = AuditEntry.objects.get(action="crypto.rotate_keys")
    assert entry.after["reencrypted"]["registry.Resident"] == 4 and old_id not in entry.after["key_id"]

    # A new hash key: exact search breaks until --rehash recomputes the hashes.
    settings.WANGGE_HASH_KEY = "a-brand-new-hash-key"
    assert not selectors.resident_search(user=world.users.grid1, q=number).exists()
    call_command("rotate-keys", "--rehash", stdout=open("/dev/null", "w"))
    assert list(selectors.resident_search(user=world.users.grid1, q=number)) == [r]
    assert list(selectors.resident_search(user=world.users.grid1, q=PHONE)) == [r]
    p.refresh_from_db()
    assert p.phone_hash == crypto.digest(PHONE)


def test_organisation_audit_masks_contact_phone(world):
    u = world.users.community1
    o = services.organisation_create(
        actor=u, name="六合志愿队", kind="social", community=world.c11, contact_phone="13900001111"
    )
    services.organisation_update(actor=u, organisation=o, contact_phone="13900002222")
    created = AuditEntry.objects.get(action="organisation.create")
    updated = AuditEntry.objects.get(action="organisation.update")
    assert created.after["contact_phone"] == "139****1111"
    assert (updated.before["contact_phone"], updated.after["contact_phone"]) == ("139****1111", "139****2222")
    assert "13900001111" not in json.dumps([created.after, updated.before, updated.after])
