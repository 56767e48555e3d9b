"""Writes for the basic information base (B1–B4, B6). Every write is audited in the same transaction.

Personal values (ID number, phone, health notes) are stored only as ciphertext with a keyed hash beside
them; audit rows carry them masked. Errors never repeat a personal value.

`actor=None` means the system itself (migrations, demo data, management commands): no permission or
scope check. A real actor must hold accounts.edit_register and may only touch objects inside its territory;
an object outside it is reported as not found.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from wangge.accounts.roles import P_EDIT_REGISTER, P_REVEAL_PERSONAL
from wangge.audit.services import audit_change, audit_record, diff, snapshot
from wangge.core.crypto import decrypt, digest, encrypt
from wangge.core.errors import Conflict, Forbidden, InvalidInput
from wangge.core.guards import clean_text, require_in_scope, require_perm
from wangge.core.masking import mask_id_number, mask_name, mask_phone
from wangge.territory.locator import locate_point
from wangge.territory.models import Building, Compound, Dwelling, DwellingUse, Level, Territory

from .models import (
    Facility,
    FacilityClass,
    FacilityCondition,
    HouseholdRole,
    KeyGroup,
    LicenceStatus,
    Occupancy,
    OccupancyRelation,
    Organisation,
    OrganisationKind,
    Place,
    ResidenceType,
    Resident,
    ResidentStatus,
)
from .validation import normalise_credit_code, normalise_phone, parse_id_number


class _Unset:
    """Marker for "argument not given" in *_update services (None is a real value there)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

REVEALABLE_FIELDS = ("id_number", "phone", "health_notes")
REVEAL_REASON_MIN = 4
# The audit row keeps the reason whole (AuditEntry.reason holds 500): a longer one is refused, not cut.
REVEAL_REASON_MAX = 500
_EDIT_DENIED = "没有维护人房信息的权限"


# --- shared checks -----------------------------------------------------------------------------------


def _today() -> date:
    return timezone.localdate()


def _choice(value: str, choices: Any, label: str, *, blank: bool = False) -> str:
    value = (value or "").strip()
    if blank and not value:
        return ""
    if value not in choices.values:
        raise InvalidInput(f"{label}无效", code="invalid_choice", details={"field": label})
    return value


def _coords(
    lat: float | None, lng: float | None, *, required: bool = False
) -> tuple[float | None, float | None]:
    if lat is None and lng is None:
        if required:
            raise InvalidInput("必须提供经纬度", code="coordinates_required")
        return None, None
    if lat is None or lng is None:
        raise InvalidInput("经度和纬度须同时提供", code="invalid_coordinates")
    lat, lng = float(lat), float(lng)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput("经纬度超出范围", code="invalid_coordinates")
    return lat, lng


def _coords_required(lat: float | None, lng: float | None) -> tuple[float, float]:
    la, ln = _coords(lat, lng, required=True)
    assert la is not None and ln is not None
    return la, ln


def _locate(lat: float | None, lng: float | None, on: date | None = None) -> Territory | None:
    """The grid containing the WGS-84 point (lat, lng) by point-in-polygon."""
    if lat is None or lng is None:
        return None
    return locate_point(lat=lat, lng=lng, on=on)


def _grid(node: Territory | None) -> Territory | None:
    if node is not None and node.level != Level.GRID:
        raise InvalidInput("所选区划不是网格", code="not_a_grid")
    return node


# --- residents ---------------------------------------------------------------------------------------


def resident_personal_values(
    *,
    id_number: str | None = None,
    phone: str | None = None,
    health_notes: str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Validate and encrypt personal values; returns only the model columns for the values given.

    Pure (no database): the bulk importer uses it too. id_number also yields birth_date and sex.
    """
    out: dict[str, Any] = {}
    if id_number is not None:
        info = parse_id_number(id_number, today=today)
        out.update(
            id_number=info.number,
            id_number_enc=encrypt(info.number),
            id_hash=digest(info.number),
            birth_date=info.birth_date,
            sex=info.sex,
        )
    if phone is not None:
        number = normalise_phone(phone) if phone.strip() else ""
        out.update(phone=number, phone_enc=encrypt(number), phone_hash=digest(number))
    if health_notes is not None:
        notes = clean_text(health_notes, "健康状况", 2000)
        out.update(health_notes=notes, health_notes_enc=encrypt(notes))
    return out


def _resident_plain(r: Resident) -> dict[str, Any]:
    """Every audited field of a resident, personal values decrypted (never stored like this)."""
    return {
        "name": r.name,
        "id_number": decrypt(r.id_number_enc),
        "phone": decrypt(r.phone_enc),
        "health_notes": decrypt(r.health_notes_enc),
        "is_party_member": r.is_party_member,
        "birth_date": r.birth_date.isoformat() if r.birth_date else None,
        "sex": r.sex,
        "ethnicity": r.ethnicity,
        "household_role": r.household_role,
        "residence_type": r.residence_type,
        "status": r.status,
        "dwelling_id": r.dwelling_id,
        "building_id": r.building_id,
        "path": r.path,
        "tags": _tags_label(r.tags.all()) if r.pk else [],
    }


def _tags_label(tags: Iterable[KeyGroup]) -> list[str]:
    """Tag codes for the audit diff; sensitive tags (PIPL art. 28) are only counted."""
    tags = list(tags)
    labels = sorted(t.code for t in tags if not t.sensitive)
    sensitive = sum(1 for t in tags if t.sensitive)
    if sensitive:
        labels.append(f"敏感标签×{sensitive}")
    return labels


_MASK = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "health_notes": lambda v: "（已填写）" if v else "（空）",
    "is_party_member": lambda v: "（敏感信息）",
    "birth_date": lambda v: (v or "")[:4] + "-**-**" if v else v,
}


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (_MASK[k](v) if k in _MASK else v) for k, v in values.items()}


def _audit_resident(*, actor: Any, action: str, r: Resident, before: dict[str, Any] | None) -> None:
    after = _resident_plain(r)
    if before is None:
        audit_record(actor=actor, action=action, obj=r, after=_masked({k: v for k, v in after.items() if v}))
        return
    b, a = diff(before, after)
    if a or b:
        audit_record(actor=actor, action=action, obj=r, before=_masked(b), after=_masked(a))


def _set_tags(codes: Iterable[str] | None) -> list[KeyGroup]:
    codes = sorted({c.strip() for c in (codes or []) if c and c.strip()})
    if not codes:
        return []
    groups = list(KeyGroup.objects.filter(code__in=codes, kind=KeyGroup.Kind.SET))
    unknown = set(codes) - {g.code for g in groups}
    if unknown:
        raise InvalidInput(
            "标签无效（只能标注人工标签，年龄类标签自动计算）",
            code="invalid_tag",
            details={"tags": sorted(unknown)},
        )
    return groups


def _home(
    actor: Any, *, dwelling: Dwelling | None, building: Building | None, grid: Territory | None
) -> tuple[Dwelling | None, Building | None, str]:
    """Where a resident lives: a dwelling (preferred), else a building, else a grid; checked against scope."""
    if dwelling is not None:
        require_in_scope(actor, dwelling.path, "房屋")
        return dwelling, dwelling.building, dwelling.path
    if building is not None:
        require_in_scope(actor, building.path, "楼栋")
        return None, building, building.path
    if grid is not None:
        _grid(grid)
        require_in_scope(actor, grid.code, "网格")
        return None, None, grid.code
    raise InvalidInput("必须指定居住的房屋、楼栋或网格", code="home_required")


def _check_moved_in(on: date, *, birth: date | None, since: date | None = None) -> None:
    if on > _today():
        raise InvalidInput("迁入日期不能晚于今天", code="invalid_date")
    if birth and on < birth:
        raise InvalidInput("迁入日期不能早于出生日期", code="invalid_date")
    if since and on < since:
        raise InvalidInput("迁入日期不能早于上一次迁入日期", code="invalid_date")


def _duplicate_id() -> Conflict:
    return Conflict("该身份证号码已登记，不能重复录入", code="duplicate_id_number")


def _save_resident(r: Resident) -> None:
    try:
        with transaction.atomic():
            r.save()
    except IntegrityError:
        raise _duplicate_id()


def resident_create(
    *,
    actor: Any,
    name: str,
    id_number: str,
    phone: str = "",
    dwelling: Dwelling | None = None,
    building: Building | None = None,
    grid: Territory | None = None,
    household_role: str = "",
    residence_type: str = ResidenceType.PERMANENT,
    ethnicity: str = "",
    is_party_member: bool = False,
    health_notes: str = "",
    tags: Iterable[str] | None = None,
    relation: str = OccupancyRelation.LIVES,
    moved_in: date | None = None,
) -> Resident:
    """Register a resident (一人一表). Birth date and sex come from the ID number; a dwelling opens an occupancy."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    name = clean_text(name, "姓名", 50, required=True)
    personal = resident_personal_values(id_number=id_number, phone=phone, health_notes=health_notes)
    dwelling, building, path = _home(actor, dwelling=dwelling, building=building, grid=grid)
    household_role = _choice(household_role, HouseholdRole, "与户主关系", blank=True)
    residence_type = _choice(residence_type, ResidenceType, "居住类型")
    relation = _choice(relation, OccupancyRelation, "居住关系")
    tag_groups = _set_tags(tags)
    moved_in = moved_in or _today()
    if dwelling is not None:
        _check_moved_in(moved_in, birth=personal["birth_date"])
    with transaction.atomic():
        if Resident.objects.filter(id_hash=personal["id_hash"]).exists():
            raise _duplicate_id()
        r = Resident(
            name=name,
            id_number_enc=personal["id_number_enc"],
            id_hash=personal["id_hash"],
            birth_date=personal["birth_date"],
            sex=personal["sex"],
            phone_enc=personal["phone_enc"],
            phone_hash=personal["phone_hash"],
            health_notes_enc=personal["health_notes_enc"],
            is_party_member=bool(is_party_member),
            ethnicity=clean_text(ethnicity, "民族", 16),
            household_role=household_role,
            residence_type=residence_type,
            dwelling=dwelling,
            building=building,
            path=path,
        )
        _save_resident(r)
        r.tags.set(tag_groups)
        if dwelling is not None:
            Occupancy.objects.create(
                resident=r, dwelling=dwelling, relation=relation, moved_in=moved_in, path=path
            )
        _audit_resident(actor=actor, action="resident.create", r=r, before=None)
    return r


def resident_update(
    *,
    actor: Any,
    resident: Resident,
    name: str = UNSET,
    id_number: str = UNSET,
    phone: str = UNSET,
    dwelling: Dwelling | None = UNSET,
    building: Building | None = UNSET,
    grid: Territory | None = UNSET,
    household_role: str = UNSET,
    residence_type: str = UNSET,
    ethnicity: str = UNSET,
    is_party_member: bool = UNSET,
    health_notes: str = UNSET,
    tags: Iterable[str] = UNSET,
    status: str = UNSET,
) -> Resident:
    """Change the given fields only. A new dwelling is a move (the previous occupancy is closed today)."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, resident.path, "居民")
    with transaction.atomic():
        r = Resident.objects.select_for_update().get(pk=resident.pk)
        before = _resident_plain(r)
        if name is not UNSET:
            r.name = clean_text(name, "姓名", 50, required=True)
        personal = resident_personal_values(
            id_number=None if id_number is UNSET else id_number,
            phone=None if phone is UNSET else (phone or ""),
            health_notes=None if health_notes is UNSET else (health_notes or ""),
        )
        if "id_hash" in personal and personal["id_hash"] != r.id_hash:
            if Resident.objects.filter(id_hash=personal["id_hash"]).exclude(pk=r.pk).exists():
                raise _duplicate_id()
        for column in (
            "id_number_enc",
            "id_hash",
            "birth_date",
            "sex",
            "phone_enc",
            "phone_hash",
            "health_notes_enc",
        ):
            if column in personal:
                # Unchanged values keep their ciphertext so an update does not look like a change.
                plain_key = {
                    "id_number_enc": "id_number",
                    "phone_enc": "phone",
                    "health_notes_enc": "health_notes",
                }
                if column in plain_key and personal[plain_key[column]] == before[plain_key[column]]:
                    continue
                setattr(r, column, personal[column])
        if household_role is not UNSET:
            r.household_role = _choice(household_role, HouseholdRole, "与户主关系", blank=True)
        if residence_type is not UNSET:
            r.residence_type = _choice(residence_type, ResidenceType, "居住类型")
        if ethnicity is not UNSET:
            r.ethnicity = clean_text(ethnicity, "民族", 16)
        if is_party_member is not UNSET:
            r.is_party_member = bool(is_party_member)
        if status is not UNSET:
            r.status = _choice(status, ResidentStatus, "状态")
        if dwelling is not UNSET and dwelling != r.dwelling:
            if dwelling is None:
                _close_occupancy(r, _today())
            else:
                _open_occupancy(actor, r, dwelling, OccupancyRelation.LIVES, _today())
        elif (building is not UNSET and building is not None) or (grid is not UNSET and grid is not None):
            if r.dwelling_id is not None:
                raise InvalidInput("居民有现住房屋，请通过迁入/迁出变更住址", code="use_move")
            _, r.building, r.path = _home(
                actor, dwelling=None, building=building or None, grid=None if building else grid
            )
        if tags is not UNSET:
            r.tags.set(_set_tags(tags))
        if r.status != ResidentStatus.ACTIVE and r.dwelling_id is not None:
            _close_occupancy(r, _today())  # moved out or deceased: nobody lives there any more
        _save_resident(r)
        _audit_resident(actor=actor, action="resident.update", r=r, before=before)
    return r


def _close_occupancy(r: Resident, on: date) -> Occupancy | None:
    current = (
        Occupancy.objects.filter(resident=r, moved_out__isnull=True).order_by("-moved_in", "-id").first()
    )
    r.dwelling = None
    if current is None:
        return None
    if on < current.moved_in:
        raise InvalidInput("迁出日期不能早于迁入日期", code="invalid_date")
    if on > _today():
        raise InvalidInput("迁出日期不能晚于今天", code="invalid_date")
    current.moved_out = on
    current.save(update_fields=["moved_out"])
    return current


def _open_occupancy(actor: Any, r: Resident, dwelling: Dwelling, relation: str, on: date) -> Occupancy:
    require_in_scope(actor, dwelling.path, "房屋")
    relation = _choice(relation, OccupancyRelation, "居住关系")
    current = (
        Occupancy.objects.filter(resident=r, moved_out__isnull=True).order_by("-moved_in", "-id").first()
    )
    if current is not None and current.dwelling_id == dwelling.pk:
        raise Conflict("该居民已住在此房屋", code="already_living_here")
    _check_moved_in(on, birth=r.birth_date, since=current.moved_in if current else None)
    if current is not None:
        current.moved_out = on
        current.save(update_fields=["moved_out"])
    occ = Occupancy.objects.create(
        resident=r, dwelling=dwelling, relation=relation, moved_in=on, path=dwelling.path
    )
    r.dwelling = dwelling
    r.building = dwelling.building
    r.path = dwelling.path
    r.status = ResidentStatus.ACTIVE
    return occ


def resident_move_in(
    *, actor: Any, resident: Resident, dwelling: Dwelling, relation: str = OccupancyRelation.LIVES, on: date
) -> Occupancy:
    """Move a resident into a dwelling on `on`, closing the open occupancy (if any) on the same day."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, resident.path, "居民")
    with transaction.atomic():
        r = Resident.objects.select_for_update().get(pk=resident.pk)
        before = _resident_plain(r)
        occ = _open_occupancy(actor, r, dwelling, relation, on)
        r.save()
        audit_record(
            actor=actor,
            action="resident.move_in",
            obj=r,
            before={"dwelling_id": before["dwelling_id"], "path": before["path"]},
            after={
                "dwelling_id": dwelling.pk,
                "path": r.path,
                "relation": occ.relation,
                "on": on.isoformat(),
            },
        )
    resident.refresh_from_db()
    return occ


def resident_move_out(*, actor: Any, resident: Resident, on: date) -> Occupancy | None:
    """Close the resident's open occupancy on `on`; the resident stays on record as moved out."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, resident.path, "居民")
    if on > _today():
        raise InvalidInput("迁出日期不能晚于今天", code="invalid_date")
    with transaction.atomic():
        r = Resident.objects.select_for_update().get(pk=resident.pk)
        old_dwelling, old_status = r.dwelling_id, r.status
        occ = _close_occupancy(r, on)
        if occ is None and old_dwelling is None:
            raise InvalidInput("该居民当前没有居住记录，无法迁出", code="not_living_anywhere")
        r.status = ResidentStatus.MOVED_OUT
        r.save()
        audit_record(
            actor=actor,
            action="resident.move_out",
            obj=r,
            before={"dwelling_id": old_dwelling, "status": old_status},
            after={"dwelling_id": None, "status": r.status, "on": on.isoformat()},
        )
    resident.refresh_from_db()
    return occ


def resident_reveal(*, actor: Any, resident: Resident, field: str, reason: str) -> str:
    """The full value of one personal field, for an actor allowed to see it, with the reason audited."""
    if field not in REVEALABLE_FIELDS:
        raise InvalidInput("只能查看身份证号、手机号或健康状况", code="invalid_field")
    if actor is None or not actor.has_perm(P_REVEAL_PERSONAL):
        raise Forbidden("没有查看完整个人信息的权限", code="permission_denied")
    require_in_scope(actor, resident.path, "居民")
    reason = (reason or "").strip()
    if len(reason) < REVEAL_REASON_MIN:
        raise InvalidInput(f"请填写查看理由（至少{REVEAL_REASON_MIN}个字）", code="reason_required")
    if len(reason) > REVEAL_REASON_MAX:
        raise InvalidInput(
            f"查看理由不能超过{REVEAL_REASON_MAX}字（现在{len(reason)}字）", code="reason_too_long"
        )
    value = decrypt(getattr(resident, f"{field}_enc"))
    with transaction.atomic():
        audit_record(
            actor=actor, action="resident.reveal", obj=resident, after={"field": field}, reason=reason
        )
    return value


# --- buildings and dwellings -------------------------------------------------------------------------

_BUILDING_FIELDS = (
    "code",
    "name",
    "compound",
    "grid",
    "path",
    "address",
    "lat",
    "lng",
    "floors",
    "units",
    "use",
)
_DWELLING_FIELDS = ("building", "unit", "room", "floor", "use", "area_m2", "path")


def _building_grid(
    actor: Any, *, grid: Territory | None, compound: Compound | None, lat: float | None, lng: float | None
) -> Territory:
    located = _locate(lat, lng)
    chosen = located or grid or (compound.grid if compound is not None else None)
    if chosen is None:
        raise InvalidInput("无法确定楼栋所属网格：请提供位于网格内的坐标或指定网格", code="grid_required")
    _grid(chosen)
    require_in_scope(actor, chosen.code, "网格")
    if compound is not None:
        if not chosen.code.startswith(compound.community.code):
            raise InvalidInput("楼栋所在网格与小区不属于同一社区", code="compound_mismatch")
    return chosen


def building_create(
    *,
    actor: Any,
    code: str,
    name: str,
    compound: Compound | None = None,
    grid: Territory | None = None,
    lat: float | None = None,
    lng: float | None = None,
    address: str = "",
    floors: int = 1,
    units: int = 1,
    use: str = "",
) -> Building:
    """Register a building (楼栋). Its grid comes from its coordinates when they fall in a grid."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    code = clean_text(code, "楼栋编码", 32, required=True)
    lat, lng = _coords(lat, lng)
    chosen = _building_grid(actor, grid=grid, compound=compound, lat=lat, lng=lng)
    if int(floors) < 1 or int(units) < 1:
        raise InvalidInput("层数和单元数至少为1", code="invalid_number")
    with transaction.atomic():
        if Building.objects.filter(code=code).exists():
            raise Conflict("楼栋编码已存在", code="duplicate_building_code")
        b = Building.objects.create(
            code=code,
            name=clean_text(name, "楼栋名称", 100, required=True),
            compound=compound,
            grid=chosen,
            path=chosen.code,
            address=clean_text(address, "地址", 200),
            lat=lat,
            lng=lng,
            floors=int(floors),
            units=int(units),
            use=clean_text(use, "用途", 32),
        )
        audit_record(actor=actor, action="building.create", obj=b, after=snapshot(b, _BUILDING_FIELDS))
    return b


def _repath_building(b: Building, path: str) -> None:
    """A building that moved to another grid takes its dwellings, residents, places and open occupancies."""
    Dwelling.objects.filter(building=b).update(path=path)
    Resident.objects.filter(building=b).update(path=path)
    Occupancy.objects.filter(dwelling__building=b, moved_out__isnull=True).update(path=path)
    Place.objects.filter(building=b).update(path=path, grid_id=b.grid_id)


def building_update(
    *,
    actor: Any,
    building: Building,
    name: str = UNSET,
    compound: Compound | None = UNSET,
    grid: Territory | None = UNSET,
    lat: float | None = UNSET,
    lng: float | None = UNSET,
    address: str = UNSET,
    floors: int = UNSET,
    units: int = UNSET,
    use: str = UNSET,
) -> Building:
    """Change a building; a new grid (given or located from new coordinates) re-paths what is inside it."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, building.path, "楼栋")
    with transaction.atomic():
        b = Building.objects.select_for_update().get(pk=building.pk)
        before = snapshot(b, _BUILDING_FIELDS)
        if name is not UNSET:
            b.name = clean_text(name, "楼栋名称", 100, required=True)
        if address is not UNSET:
            b.address = clean_text(address, "地址", 200)
        if use is not UNSET:
            b.use = clean_text(use, "用途", 32)
        for attr, value in (("floors", floors), ("units", units)):
            if value is not UNSET:
                if int(value) < 1:
                    raise InvalidInput("层数和单元数至少为1", code="invalid_number")
                setattr(b, attr, int(value))
        if compound is not UNSET:
            b.compound = compound
        moved = lat is not UNSET or lng is not UNSET
        if moved:
            b.lat, b.lng = _coords(b.lat if lat is UNSET else lat, b.lng if lng is UNSET else lng)
        if moved or grid is not UNSET or compound is not UNSET:
            located = _locate(b.lat, b.lng) if moved else None
            given = b.grid if grid is UNSET else grid
            chosen = _building_grid(actor, grid=located or given, compound=b.compound, lat=None, lng=None)
            if chosen.pk != b.grid_id:
                b.grid = chosen
                b.path = chosen.code
                _repath_building(b, b.path)
        b.save()
        audit_change(
            actor=actor, action="building.update", obj=b, before=before, after=snapshot(b, _BUILDING_FIELDS)
        )
    return b


def dwelling_create(
    *,
    actor: Any,
    building: Building,
    room: str,
    unit: str = "",
    floor: int | None = None,
    use: str = DwellingUse.SELF,
    area_m2: float | None = None,
) -> Dwelling:
    """Add a dwelling (户) to a building; (building, unit, room) is its natural key."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, building.path, "楼栋")
    room = clean_text(room, "房号", 16, required=True)
    unit = clean_text(unit, "单元", 16)
    use = _choice(use, DwellingUse, "房屋用途")
    if area_m2 is not None and float(area_m2) <= 0:
        raise InvalidInput("面积必须大于0", code="invalid_number")
    with transaction.atomic():
        if Dwelling.objects.filter(building=building, unit=unit, room=room).exists():
            raise Conflict("该楼栋已有相同单元和房号的房屋", code="duplicate_dwelling")
        d = Dwelling.objects.create(
            building=building,
            unit=unit,
            room=room,
            floor=floor,
            use=use,
            area_m2=float(area_m2) if area_m2 is not None else None,
            path=building.path,
        )
        audit_record(actor=actor, action="dwelling.create", obj=d, after=snapshot(d, _DWELLING_FIELDS))
    return d


def dwelling_update(
    *,
    actor: Any,
    dwelling: Dwelling,
    unit: str = UNSET,
    room: str = UNSET,
    floor: int | None = UNSET,
    use: str = UNSET,
    area_m2: float | None = UNSET,
) -> Dwelling:
    """Change a dwelling's number, floor, use (自住/出租/空置/商铺) or area."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, dwelling.path, "房屋")
    with transaction.atomic():
        d = Dwelling.objects.select_for_update().get(pk=dwelling.pk)
        before = snapshot(d, _DWELLING_FIELDS)
        if unit is not UNSET:
            d.unit = clean_text(unit, "单元", 16)
        if room is not UNSET:
            d.room = clean_text(room, "房号", 16, required=True)
        if floor is not UNSET:
            d.floor = floor
        if use is not UNSET:
            d.use = _choice(use, DwellingUse, "房屋用途")
        if area_m2 is not UNSET:
            if area_m2 is not None and float(area_m2) <= 0:
                raise InvalidInput("面积必须大于0", code="invalid_number")
            d.area_m2 = area_m2
        if (
            Dwelling.objects.filter(building=d.building_id, unit=d.unit, room=d.room)
            .exclude(pk=d.pk)
            .exists()
        ):
            raise Conflict("该楼栋已有相同单元和房号的房屋", code="duplicate_dwelling")
        d.save()
        audit_change(
            actor=actor, action="dwelling.update", obj=d, before=before, after=snapshot(d, _DWELLING_FIELDS)
        )
    return d


# --- places --------------------------------------------------------------------------------------------

_PLACE_FIELDS = (
    "natural_key",
    "name",
    "kind",
    "credit_code",
    "licence_status",
    "operator_name",
    "address",
    "building",
    "lat",
    "lng",
    "grid",
    "path",
)


def place_natural_key(*, name: str, address: str = "", credit_code: str = "") -> str:
    """Unified social credit code when there is one, else "name|address" (the same key as bulk import)."""
    if credit_code:
        return credit_code.strip().upper()
    return f"{name.strip()}|{address.strip()}"[:250]


def _place_location(
    actor: Any, *, building: Building | None, grid: Territory | None, lat: float | None, lng: float | None
) -> tuple[Territory | None, str]:
    if building is not None:
        require_in_scope(actor, building.path, "楼栋")
        return building.grid, building.path
    chosen = _locate(lat, lng) or _grid(grid)
    if chosen is None:
        raise InvalidInput("无法确定场所所属网格：请指定楼栋、网格或网格内的坐标", code="grid_required")
    require_in_scope(actor, chosen.code, "网格")
    return chosen, chosen.code


def place_create(
    *,
    actor: Any,
    name: str,
    address: str = "",
    credit_code: str = "",
    kind: str = "",
    licence_status: str = LicenceStatus.VALID,
    operator_name: str = "",
    phone: str = "",
    building: Building | None = None,
    grid: Territory | None = None,
    lat: float | None = None,
    lng: float | None = None,
) -> Place:
    """Register a shop or business (工商户/场所) with its licence status."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    name = clean_text(name, "名称", 150, required=True)
    address = clean_text(address, "地址", 200)
    credit_code = normalise_credit_code(credit_code) if (credit_code or "").strip() else ""
    licence_status = _choice(licence_status, LicenceStatus, "证照状态")
    lat, lng = _coords(lat, lng)
    located_grid, path = _place_location(actor, building=building, grid=grid, lat=lat, lng=lng)
    personal = resident_personal_values(phone=phone or "")
    key = place_natural_key(name=name, address=address, credit_code=credit_code)
    with transaction.atomic():
        if Place.objects.filter(natural_key=key).exists():
            raise Conflict("该场所已登记（统一社会信用代码或名称+地址相同）", code="duplicate_place")
        p = Place.objects.create(
            natural_key=key,
            name=name,
            kind=clean_text(kind, "类别", 50),
            credit_code=credit_code,
            licence_status=licence_status,
            operator_name=clean_text(operator_name, "经营者", 50),
            phone_enc=personal["phone_enc"],
            phone_hash=personal["phone_hash"],
            address=address,
            building=building,
            lat=lat,
            lng=lng,
            grid=located_grid,
            path=path,
        )
        after = snapshot(p, _PLACE_FIELDS)
        after["phone"] = mask_phone(personal["phone"])
        audit_record(actor=actor, action="place.create", obj=p, after=after)
    return p


def place_update(
    *,
    actor: Any,
    place: Place,
    name: str = UNSET,
    address: str = UNSET,
    credit_code: str = UNSET,
    kind: str = UNSET,
    licence_status: str = UNSET,
    operator_name: str = UNSET,
    phone: str = UNSET,
    building: Building | None = UNSET,
    grid: Territory | None = UNSET,
    lat: float | None = UNSET,
    lng: float | None = UNSET,
) -> Place:
    """Change a place; the natural key follows its credit code / name + address."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, place.path, "场所")
    with transaction.atomic():
        p = Place.objects.select_for_update().get(pk=place.pk)
        before = snapshot(p, _PLACE_FIELDS)
        before["phone"] = mask_phone(decrypt(p.phone_enc))
        if name is not UNSET:
            p.name = clean_text(name, "名称", 150, required=True)
        if address is not UNSET:
            p.address = clean_text(address, "地址", 200)
        if credit_code is not UNSET:
            p.credit_code = normalise_credit_code(credit_code) if (credit_code or "").strip() else ""
        if kind is not UNSET:
            p.kind = clean_text(kind, "类别", 50)
        if licence_status is not UNSET:
            p.licence_status = _choice(licence_status, LicenceStatus, "证照状态")
        if operator_name is not UNSET:
            p.operator_name = clean_text(operator_name, "经营者", 50)
        phone_plain = decrypt(p.phone_enc)
        if phone is not UNSET:
            personal = resident_personal_values(phone=phone or "")
            if personal["phone"] != phone_plain:
                p.phone_enc, p.phone_hash, phone_plain = (
                    personal["phone_enc"],
                    personal["phone_hash"],
                    personal["phone"],
                )
        if lat is not UNSET or lng is not UNSET:
            p.lat, p.lng = _coords(p.lat if lat is UNSET else lat, p.lng if lng is UNSET else lng)
        if building is not UNSET or grid is not UNSET or lat is not UNSET or lng is not UNSET:
            p.building = p.building if building is UNSET else building
            p.grid, p.path = _place_location(
                actor,
                building=p.building,
                grid=p.grid if grid is UNSET else grid,
                lat=p.lat if (lat is not UNSET or lng is not UNSET) else None,
                lng=p.lng if (lat is not UNSET or lng is not UNSET) else None,
            )
        p.natural_key = place_natural_key(name=p.name, address=p.address, credit_code=p.credit_code)
        if Place.objects.filter(natural_key=p.natural_key).exclude(pk=p.pk).exists():
            raise Conflict("该场所已登记（统一社会信用代码或名称+地址相同）", code="duplicate_place")
        p.save()
        after = snapshot(p, _PLACE_FIELDS)
        after["phone"] = mask_phone(phone_plain)
        audit_change(actor=actor, action="place.update", obj=p, before=before, after=after)
    return p


# --- facilities (部件) -----------------------------------------------------------------------------------

_FACILITY_FIELDS = (
    "code",
    "facility_class",
    "name",
    "condition",
    "owner_unit",
    "address",
    "lat",
    "lng",
    "grid",
    "path",
)


def facility_code_parse(code: str) -> tuple[str, FacilityClass, str]:
    """Check a 16-digit facility code (6 division + 2 major + 2 minor + 6 serial, GB/T 30428).

    Returns (division, facility class, serial). The division must be an existing district's code and the
    major + minor classes must exist in FacilityClass.
    """
    code = (code or "").strip()
    if len(code) != 16 or not code.isdigit():
        raise InvalidInput(
            "部件编码应为16位数字（6位区划+2位大类+2位小类+6位序号）", code="invalid_facility_code"
        )
    division, major, minor, serial = code[:6], code[6:8], code[8:10], code[10:]
    if not Territory.objects.filter(level=Level.DISTRICT, code=division).exists():
        raise InvalidInput("部件编码的前6位不是本系统已有的区划代码", code="invalid_facility_division")
    fc = FacilityClass.objects.filter(major=major, minor=minor).first()
    if fc is None:
        raise InvalidInput("部件编码中的大类/小类不存在", code="invalid_facility_class")
    if serial == "000000":
        raise InvalidInput("部件编码的序号不能为000000", code="invalid_facility_code")
    return division, fc, serial


def _facility_location(
    actor: Any, *, division: str, grid: Territory | None, lat: float | None, lng: float | None
) -> tuple[Territory | None, str]:
    chosen = _locate(lat, lng) or _grid(grid)
    if chosen is not None and not chosen.code.startswith(division):
        raise InvalidInput("部件所在网格不属于编码中的区划", code="facility_division_mismatch")
    # A facility outside every grid belongs to its district (seen by district-level staff only).
    path = chosen.code if chosen is not None else division
    require_in_scope(actor, path, "网格")
    return chosen, path


def facility_create(
    *,
    actor: Any,
    code: str,
    lat: float,
    lng: float,
    name: str = "",
    condition: str = FacilityCondition.GOOD,
    owner_unit: str = "",
    address: str = "",
    grid: Territory | None = None,
) -> Facility:
    """Register a facility (部件) under its 16-digit code; its grid comes from its location."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    division, fc, _ = facility_code_parse(code)
    code = code.strip()
    lat, lng = _coords_required(lat, lng)
    chosen, path = _facility_location(actor, division=division, grid=grid, lat=lat, lng=lng)
    condition = _choice(condition, FacilityCondition, "部件状态")
    with transaction.atomic():
        if Facility.objects.filter(code=code).exists():
            raise Conflict("部件编码已存在", code="duplicate_facility_code")
        f = Facility.objects.create(
            code=code,
            facility_class=fc,
            name=clean_text(name, "名称", 100) or fc.name,
            condition=condition,
            owner_unit=clean_text(owner_unit, "权属单位", 100),
            address=clean_text(address, "位置描述", 200),
            lat=lat,
            lng=lng,
            grid=chosen,
            path=path,
        )
        audit_record(actor=actor, action="facility.create", obj=f, after=snapshot(f, _FACILITY_FIELDS))
    return f


def facility_update(
    *,
    actor: Any,
    facility: Facility,
    name: str = UNSET,
    condition: str = UNSET,
    owner_unit: str = UNSET,
    address: str = UNSET,
    lat: float = UNSET,
    lng: float = UNSET,
    grid: Territory | None = UNSET,
) -> Facility:
    """Change a facility's condition, owner, description or location (the code never changes)."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, facility.path, "部件")
    with transaction.atomic():
        f = Facility.objects.select_for_update().get(pk=facility.pk)
        before = snapshot(f, _FACILITY_FIELDS)
        if name is not UNSET:
            f.name = clean_text(name, "名称", 100)
        if condition is not UNSET:
            f.condition = _choice(condition, FacilityCondition, "部件状态")
        if owner_unit is not UNSET:
            f.owner_unit = clean_text(owner_unit, "权属单位", 100)
        if address is not UNSET:
            f.address = clean_text(address, "位置描述", 200)
        moved = lat is not UNSET or lng is not UNSET
        if moved:
            f.lat, f.lng = _coords_required(f.lat if lat is UNSET else lat, f.lng if lng is UNSET else lng)
        if moved or grid is not UNSET:
            f.grid, f.path = _facility_location(
                actor,
                division=f.code[:6],
                grid=f.grid if grid is UNSET else grid,
                lat=f.lat if moved else None,
                lng=f.lng if moved else None,
            )
        f.save()
        audit_change(
            actor=actor, action="facility.update", obj=f, before=before, after=snapshot(f, _FACILITY_FIELDS)
        )
    return f


# --- organisations ---------------------------------------------------------------------------------------

_ORG_FIELDS = (
    "name",
    "kind",
    "community",
    "contact_name",
    "contact_phone",
    "members_count",
    "founded",
    "path",
)


def _org_snapshot(o: Organisation) -> dict[str, Any]:
    """Audit values of an organisation; its contact phone masked like every phone."""
    out = snapshot(o, _ORG_FIELDS)
    out["contact_phone"] = mask_phone(o.contact_phone)
    return out


def _community(actor: Any, node: Territory) -> Territory:
    if node.level != Level.COMMUNITY:
        raise InvalidInput("所选区划不是社区", code="not_a_community")
    require_in_scope(actor, node.code, "社区")
    return node


def _compounds_of(community: Territory, compounds: Iterable[Compound]) -> list[Compound]:
    items = list(compounds)
    if any(c.community_id != community.pk for c in items):
        raise InvalidInput("所选小区不属于该社区", code="compound_mismatch")
    return items


def organisation_create(
    *,
    actor: Any,
    name: str,
    kind: str,
    community: Territory,
    contact_name: str = "",
    contact_phone: str = "",
    members_count: int = 0,
    founded: date | None = None,
    compounds: Iterable[Compound] = (),
) -> Organisation:
    """Register a social organisation, owners' committee, property company or volunteer team."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    community = _community(actor, community)
    name = clean_text(name, "名称", 150, required=True)
    kind = _choice(kind, OrganisationKind, "组织类型")
    phone = normalise_phone(contact_phone) if (contact_phone or "").strip() else ""
    if int(members_count) < 0:
        raise InvalidInput("成员数不能为负数", code="invalid_number")
    if founded and founded > _today():
        raise InvalidInput("成立日期不能晚于今天", code="invalid_date")
    items = _compounds_of(community, compounds)
    with transaction.atomic():
        if Organisation.objects.filter(community=community, name=name).exists():
            raise Conflict("该社区已有同名组织", code="duplicate_organisation")
        o = Organisation.objects.create(
            name=name,
            kind=kind,
            community=community,
            contact_name=clean_text(contact_name, "联系人", 50),
            contact_phone=phone,
            members_count=int(members_count),
            founded=founded,
            path=community.code,
        )
        o.compounds.set(items)
        after = _org_snapshot(o)
        after["compounds"] = sorted(c.pk for c in items)
        audit_record(actor=actor, action="organisation.create", obj=o, after=after)
    return o


def organisation_update(
    *,
    actor: Any,
    organisation: Organisation,
    name: str = UNSET,
    kind: str = UNSET,
    contact_name: str = UNSET,
    contact_phone: str = UNSET,
    members_count: int = UNSET,
    founded: date | None = UNSET,
    compounds: Iterable[Compound] = UNSET,
) -> Organisation:
    """Change an organisation (its community stays; register a new one to move it)."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, organisation.path, "组织")
    with transaction.atomic():
        o = Organisation.objects.select_for_update().get(pk=organisation.pk)
        before = _org_snapshot(o)
        before["compounds"] = sorted(o.compounds.values_list("pk", flat=True))
        if name is not UNSET:
            o.name = clean_text(name, "名称", 150, required=True)
        if kind is not UNSET:
            o.kind = _choice(kind, OrganisationKind, "组织类型")
        if contact_name is not UNSET:
            o.contact_name = clean_text(contact_name, "联系人", 50)
        if contact_phone is not UNSET:
            o.contact_phone = normalise_phone(contact_phone) if (contact_phone or "").strip() else ""
        if members_count is not UNSET:
            if int(members_count) < 0:
                raise InvalidInput("成员数不能为负数", code="invalid_number")
            o.members_count = int(members_count)
        if founded is not UNSET:
            if founded and founded > _today():
                raise InvalidInput("成立日期不能晚于今天", code="invalid_date")
            o.founded = founded
        if Organisation.objects.filter(community=o.community_id, name=o.name).exclude(pk=o.pk).exists():
            raise Conflict("该社区已有同名组织", code="duplicate_organisation")
        o.save()
        if compounds is not UNSET:
            o.compounds.set(_compounds_of(o.community, compounds))
        after = _org_snapshot(o)
        after["compounds"] = sorted(o.compounds.values_list("pk", flat=True))
        audit_change(actor=actor, action="organisation.update", obj=o, before=before, after=after)
    return o
