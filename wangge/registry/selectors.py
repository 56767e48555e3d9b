"""Reads of the basic information base, always bounded by the caller's territory.

Every selector checks accounts.view_register (else Forbidden) and filters by scope; an id outside the
caller's territory is NotFound. Exact search on ID numbers and phones goes through the keyed hash, never
a LIKE on ciphertext. Age-derived key groups are birth-date ranges computed from `today`, so people age
into and out of them without any stored change.
"""

import re
from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from wangge.accounts.roles import P_VIEW_REGISTER
from wangge.core.crypto import digest
from wangge.core.errors import Forbidden, InvalidInput, NotFound, get_or_not_found
from wangge.core.scope import path_in_scope, scope_queryset, user_scope_path
from wangge.territory.models import Building, Compound, Dwelling, Territory

from .display import derived_groups, resident_display
from .models import Facility, KeyGroup, Occupancy, Organisation, Place, Resident, ResidentStatus
from .validation import birth_date_bounds, normalise_phone

_ID_QUERY = re.compile(r"^\d{17}[\dX]$")


def _require_view(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(P_VIEW_REGISTER):
        raise Forbidden("没有查看人房信息的权限", code="permission_denied")


# --- key groups --------------------------------------------------------------------------------------


def keygroup_q(group: KeyGroup, today: date, prefix: str = "") -> Q:
    """Residents in `group` on `today`: a birth-date range for derived groups, the M2M for set groups."""
    if group.kind == KeyGroup.Kind.DERIVED:
        earliest, latest = birth_date_bounds(group.min_age, group.max_age, today)
        q = Q(**{f"{prefix}birth_date__isnull": False})
        if earliest is not None:
            q &= Q(**{f"{prefix}birth_date__gte": earliest})
        if latest is not None:
            q &= Q(**{f"{prefix}birth_date__lte": latest})
        return q
    return Q(**{f"{prefix}tags": group})


def keygroup_list() -> list[KeyGroup]:
    return list(KeyGroup.objects.all())


# --- residents ---------------------------------------------------------------------------------------


def _resident_base(user: Any) -> QuerySet[Resident]:
    _require_view(user)
    return scope_queryset(Resident.objects.all(), user)


def is_personal_number_query(q: str) -> bool:
    """True when `q` is an ID number or a phone number (exact-match searches that must not go in URLs)."""
    compact = re.sub(r"[\s\-]", "", (q or "").strip()).upper()
    return bool(compact) and (bool(_ID_QUERY.match(compact)) or compact.lstrip("+").isdigit())


def resident_search(
    *,
    user: Any,
    q: str = "",
    tag: str = "",
    path: str = "",
    today: date | None = None,
    status: str = ResidentStatus.ACTIVE,
) -> QuerySet[Resident]:
    """Residents in the caller's scope. `q`: part of a name, or an exact ID number / phone number
    (matched by keyed hash); `tag`: a key-group code; `path`: a territory code to narrow to;
    `status`: "" for all (default: those on the register)."""
    qs = _resident_base(user)
    if status:
        qs = qs.filter(status=status)
    if path:
        qs = qs.filter(path__startswith=path)
    term = (q or "").strip()
    if term:
        compact = re.sub(r"[\s\-]", "", term).upper()
        if _ID_QUERY.match(compact):
            qs = qs.filter(id_hash=digest(compact))
        elif compact.lstrip("+").isdigit():
            try:
                qs = qs.filter(phone_hash=digest(normalise_phone(compact)))
            except InvalidInput:
                qs = qs.none()
        else:
            qs = qs.filter(name__icontains=term)
    if tag:
        group = KeyGroup.objects.filter(code=tag).first()
        if group is None:
            return qs.none()
        qs = qs.filter(keygroup_q(group, today or timezone.localdate()))
    return (
        qs.select_related("building__compound", "dwelling")
        .prefetch_related("tags")
        .order_by("path", "name", "id")
    )


def resident_get(*, user: Any, pk: Any) -> Resident:
    """One resident inside the caller's territory (NotFound otherwise)."""
    qs = _resident_base(user).select_related("building__compound", "dwelling").prefetch_related("tags")
    return get_or_not_found(qs, pk, "居民")


def resident_occupancies(*, user: Any, resident: Resident) -> QuerySet[Occupancy]:
    """A resident's move-in/move-out history (the resident must be in scope)."""
    resident_get(user=user, pk=resident.pk)
    return resident.occupancies.select_related("dwelling__building__compound").order_by("-moved_in", "-id")


def keygroup_counts(*, user: Any, path: str = "", today: date | None = None) -> list[dict[str, Any]]:
    """How many residents on the register under `path` (within scope) are in each key group today."""
    today = today or timezone.localdate()
    base = _resident_base(user).filter(status=ResidentStatus.ACTIVE)
    if path:
        base = base.filter(path__startswith=path)
    groups = keygroup_list()
    derived = [g for g in groups if g.kind == KeyGroup.Kind.DERIVED]
    counts: dict[str, int] = {}
    if derived:
        # Aliases by position: key-group codes are admin-edited data, not safe SQL aliases.
        totals = base.aggregate(
            **{f"g{i}": Count("id", filter=keygroup_q(g, today)) for i, g in enumerate(derived)}
        )
        counts.update({g.code: totals[f"g{i}"] for i, g in enumerate(derived)})
    set_rows = (
        Resident.tags.through.objects.filter(resident__in=base.values("pk"), keygroup__kind=KeyGroup.Kind.SET)
        .values("keygroup__code")
        .annotate(n=Count("resident", distinct=True))
    )
    counts.update({row["keygroup__code"]: row["n"] for row in set_rows})
    return [
        {"code": g.code, "name": g.name, "colour": g.colour, "count": counts.get(g.code, 0)} for g in groups
    ]


# --- buildings and dwellings -------------------------------------------------------------------------


def building_list(*, user: Any, path: str = "", q: str = "") -> QuerySet[Building]:
    """Buildings in scope, optionally under `path` and matching `q` (name, code or address)."""
    _require_view(user)
    qs = scope_queryset(Building.objects.all(), user)
    if path:
        qs = qs.filter(path__startswith=path)
    term = (q or "").strip()
    if term:
        qs = qs.filter(Q(name__icontains=term) | Q(code__icontains=term) | Q(address__icontains=term))
    return qs.select_related("compound", "grid").order_by("path", "code")


def building_get(*, user: Any, pk: Any) -> Building:
    _require_view(user)
    return get_or_not_found(
        scope_queryset(Building.objects.select_related("compound", "grid"), user), pk, "楼栋"
    )


def dwelling_list(*, user: Any, building: Building | None = None, path: str = "") -> QuerySet[Dwelling]:
    _require_view(user)
    qs = scope_queryset(Dwelling.objects.select_related("building__compound"), user)
    if building is not None:
        qs = qs.filter(building=building)
    if path:
        qs = qs.filter(path__startswith=path)
    return qs.order_by("building_id", "unit", "room")


def dwelling_get(*, user: Any, pk: Any) -> Dwelling:
    _require_view(user)
    return get_or_not_found(
        scope_queryset(Dwelling.objects.select_related("building__compound"), user), pk, "房屋"
    )


def _natural(value: str) -> tuple[Any, ...]:
    """Sort key putting room "201" before "1001", and numeric rooms before text ones such as "商铺A".

    Every part is a (kind, number, text) triple so that a number is never compared with a text.
    """
    parts = tuple(
        (0, int(p), "") if p.isascii() and p.isdigit() else (1, 0, p)
        for p in re.split(r"([0-9]+)", value or "")
        if p
    )
    return (0 if parts and parts[0][0] == 0 else 1, parts)


def dwelling_occupants(*, user: Any, dwelling: Dwelling, today: date | None = None) -> list[dict[str, Any]]:
    """The residents living in a dwelling now, as display dicts."""
    dwelling_get(user=user, pk=dwelling.pk)
    residents = (
        _resident_base(user)
        .filter(occupancies__dwelling=dwelling, occupancies__moved_out__isnull=True)
        .select_related("building__compound", "dwelling")
        .prefetch_related("tags")
        .distinct()
        .order_by("id")
    )
    groups = derived_groups()
    return [resident_display(r, today=today, groups=groups) for r in residents]


def building_card(*, user: Any, pk: Any, today: date | None = None) -> dict[str, Any]:
    """一幢一册: a building with its compound, grid, dwellings (by unit and room) and their current
    occupants, and the seven-colour plate (七色信息牌) counts of residents and households per tag."""
    today = today or timezone.localdate()
    b = building_get(user=user, pk=pk)
    groups_all = keygroup_list()
    derived = [g for g in groups_all if g.kind == KeyGroup.Kind.DERIVED]
    occupancies = (
        Occupancy.objects.filter(
            dwelling__building=b, moved_out__isnull=True, resident__status=ResidentStatus.ACTIVE
        )
        .select_related("resident__building__compound", "resident__dwelling")
        .prefetch_related("resident__tags")
        .order_by("resident_id")
    )
    by_dwelling: dict[int, list[dict[str, Any]]] = {}
    seen: set[int] = set()
    for occ in occupancies:
        if occ.resident_id in seen:
            continue
        seen.add(occ.resident_id)
        by_dwelling.setdefault(occ.dwelling_id, []).append(
            resident_display(occ.resident, today=today, groups=derived)
        )
    plates: dict[str, dict[str, Any]] = {
        g.code: {"code": g.code, "name": g.name, "colour": g.colour, "residents": 0, "households": 0}
        for g in groups_all
        if g.colour
    }
    dwellings = []
    for d in sorted(b.dwellings.all(), key=lambda d: (_natural(d.unit), d.floor or 0, _natural(d.room))):
        occupants = by_dwelling.get(d.pk, [])
        present: dict[str, dict[str, str]] = {}
        for person in occupants:
            for tag in person["tags"]:
                if tag["code"] in plates:
                    plates[tag["code"]]["residents"] += 1
                    present[tag["code"]] = tag
        for code in present:
            plates[code]["households"] += 1
        dwellings.append(
            {
                "id": d.pk,
                "unit": d.unit,
                "room": d.room,
                "floor": d.floor,
                "label": str(d),
                "use": d.use,
                "use_label": d.get_use_display(),
                "area_m2": d.area_m2,
                "occupants": occupants,
                "plates": list(present.values()),
            }
        )
    compound = b.compound
    grid = b.grid
    return {
        "building": {
            "id": b.pk,
            "code": b.code,
            "name": b.name,
            "label": str(b),
            "grid_id": b.grid_id,
            "address": b.address,
            "floors": b.floors,
            "units": b.units,
            "use": b.use,
            "lat": b.lat,
            "lng": b.lng,
            "path": b.path,
        },
        "compound": {"id": compound.pk, "code": compound.code, "name": compound.name} if compound else None,
        "grid": {"id": grid.pk, "code": grid.code, "name": grid.name} if grid else None,
        "dwellings": dwellings,
        "plates": list(plates.values()),
        "dwelling_count": len(dwellings),
        "resident_count": len(seen),
    }


# --- places, facilities, organisations -----------------------------------------------------------------


def place_list(
    *, user: Any, path: str = "", q: str = "", licence_status: str = "", kind: str = ""
) -> QuerySet[Place]:
    _require_view(user)
    qs = scope_queryset(Place.objects.all(), user)
    if path:
        qs = qs.filter(path__startswith=path)
    term = (q or "").strip()
    if term:
        qs = qs.filter(Q(name__icontains=term) | Q(address__icontains=term) | Q(credit_code=term.upper()))
    if licence_status:
        qs = qs.filter(licence_status=licence_status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("path", "name", "id")


def place_get(*, user: Any, pk: Any) -> Place:
    _require_view(user)
    return get_or_not_found(scope_queryset(Place.objects.all(), user), pk, "场所")


def facility_list(
    *, user: Any, path: str = "", q: str = "", major: str = "", minor: str = "", condition: str = ""
) -> QuerySet[Facility]:
    _require_view(user)
    qs = scope_queryset(Facility.objects.select_related("facility_class"), user)
    if path:
        qs = qs.filter(path__startswith=path)
    term = (q or "").strip()
    if term:
        qs = qs.filter(Q(code__startswith=term) | Q(name__icontains=term) | Q(address__icontains=term))
    if major:
        qs = qs.filter(facility_class__major=major)
    if minor:
        qs = qs.filter(facility_class__minor=minor)
    if condition:
        qs = qs.filter(condition=condition)
    return qs.order_by("code")


def facility_get(*, user: Any, pk: Any) -> Facility:
    _require_view(user)
    return get_or_not_found(
        scope_queryset(Facility.objects.select_related("facility_class"), user), pk, "部件"
    )


def _organisations(user: Any) -> QuerySet[Organisation]:
    """Organisations of the communities inside the caller's territory (an organisation belongs to its
    community: a grid worker does not see it, like every object placed above the grid)."""
    _require_view(user)
    return scope_queryset(Organisation.objects.prefetch_related("compounds"), user)


def organisation_list(*, user: Any, path: str = "", q: str = "", kind: str = "") -> QuerySet[Organisation]:
    qs = _organisations(user)
    if path:
        qs = qs.filter(path__startswith=path)
    term = (q or "").strip()
    if term:
        qs = qs.filter(name__icontains=term)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("path", "name")


def organisation_get(*, user: Any, pk: Any) -> Organisation:
    return get_or_not_found(_organisations(user), pk, "组织")


# --- references used by forms and the API --------------------------------------------------------------


def territory_node_get(*, user: Any, pk: Any) -> Territory:
    """A district/street/community/grid node inside the caller's territory (NotFound otherwise)."""
    return get_or_not_found(scope_queryset(Territory.objects.all(), user, "code"), pk, "区划/网格")


def compound_get(*, user: Any, pk: Any) -> Compound:
    """A compound inside the caller's territory, or one that contains it (a grid inside a compound)."""
    compound = get_or_not_found(Compound.objects.select_related("community"), pk, "小区")
    prefix = user_scope_path(user)
    path = compound.path or compound.community.code
    if not (
        path_in_scope(user, path) or (prefix and prefix.startswith(path) and path_in_scope(user, prefix))
    ):
        raise NotFound("未找到该小区", code="not_found")
    return compound
