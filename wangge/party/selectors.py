"""Reads of the party organisation tree and member units, bounded by the caller's territory.

The tree is public-facing information (posted on every community's notice board), so any signed-in
account may read the part inside its territory; writes need accounts.edit_register (see services).
"""

from typing import Any

from django.db.models import QuerySet

from wangge.core.errors import get_or_not_found
from wangge.core.scope import scope_queryset

from .models import MemberUnit, PartyOrg


def partyorg_list(*, user: Any, path: str = "", level: str = "") -> QuerySet[PartyOrg]:
    """Party organisations inside the caller's territory (optionally under `path`, at one level)."""
    qs = scope_queryset(PartyOrg.objects.select_related("territory", "building", "dwelling"), user)
    if path:
        qs = qs.filter(path__startswith=path)
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("path", "id")


def partyorg_get(*, user: Any, pk: Any) -> PartyOrg:
    return get_or_not_found(
        scope_queryset(PartyOrg.objects.select_related("territory", "building", "dwelling"), user),
        pk,
        "党组织",
    )


def partyorg_row(org: PartyOrg) -> dict[str, Any]:
    return {
        "id": org.pk,
        "name": org.name,
        "level": org.level,
        "level_label": org.get_level_display(),
        "parent_id": org.parent_id,
        "territory": {"id": org.territory_id, "code": org.territory.code, "name": org.territory.name},
        "building_id": org.building_id,
        "dwelling_id": org.dwelling_id,
        "label": str(org.dwelling) if org.dwelling else (org.building.name if org.building else ""),
        "secretary": org.secretary,
        "members_count": org.members_count,
        "path": org.path,
    }


def partyorg_tree(*, user: Any, path: str = "") -> list[dict[str, Any]]:
    """The scoped tree as nested dicts; nodes whose parent lies outside the scope become roots."""
    rows = [partyorg_row(o) for o in partyorg_list(user=user, path=path)]
    by_id = {r["id"]: r for r in rows}
    roots: list[dict[str, Any]] = []
    for row in rows:
        row["children"] = []
    for row in rows:
        parent = by_id.get(row["parent_id"])
        (parent["children"] if parent is not None else roots).append(row)
    return roots


def _member_units(user: Any) -> QuerySet[MemberUnit]:
    """Member units of the communities inside the caller's territory."""
    return scope_queryset(MemberUnit.objects.select_related("community").prefetch_related("zones"), user)


def memberunit_list(
    *, user: Any, path: str = "", q: str = "", kind: str = "", zone: str = ""
) -> QuerySet[MemberUnit]:
    """Member units in scope; `zone`: only those responsible for a zone under this territory code."""
    qs = _member_units(user)
    if path:
        qs = qs.filter(path__startswith=path)
    if zone:
        qs = qs.filter(pk__in=MemberUnit.objects.filter(zones__code__startswith=zone).values("pk"))
    if q.strip():
        qs = qs.filter(name__icontains=q.strip())
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("path", "name")


def memberunit_get(*, user: Any, pk: Any) -> MemberUnit:
    return get_or_not_found(_member_units(user), pk, "成员单位")


def memberunit_row(unit: MemberUnit) -> dict[str, Any]:
    return {
        "id": unit.pk,
        "name": unit.name,
        "kind": unit.kind,
        "kind_label": unit.get_kind_display(),
        "community": {"id": unit.community_id, "code": unit.community.code, "name": unit.community.name},
        "contact_name": unit.contact_name,
        "contact_phone": unit.contact_phone,
        "address": unit.address,
        "zones": [{"id": z.pk, "code": z.code, "name": z.name} for z in unit.zones.all()],
        "responsibility": unit.responsibility,
        "path": unit.path,
    }
