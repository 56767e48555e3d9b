"""Writes for the party organisation tree (T2) and the big party committee's member units (T3).

Levels go committee → branch → group → household, each tied to its territory: a community party
committee to a community, a grid branch to a grid, a building group to a building, a party-member
centre household to a dwelling. The node's path comes from that territory, so scope works as everywhere.
Writes need accounts.edit_register (community staff keep these registers) and stay inside the actor's
territory; anything outside it is not found.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from wangge.accounts.roles import P_EDIT_REGISTER
from wangge.audit.services import audit_change, audit_record, snapshot
from wangge.core.errors import Conflict, InvalidInput
from wangge.core.guards import clean_text, require_in_scope, require_perm
from wangge.core.masking import mask_phone
from wangge.registry.services import UNSET
from wangge.registry.validation import normalise_phone
from wangge.territory.models import Building, Dwelling, Level, Territory

from .models import CHILD_LEVEL, MemberUnit, MemberUnitKind, OrgLevel, PartyOrg

_ORG_FIELDS = (
    "name",
    "level",
    "parent",
    "territory",
    "building",
    "dwelling",
    "secretary",
    "members_count",
    "path",
)
_UNIT_FIELDS = (
    "name",
    "kind",
    "community",
    "contact_name",
    "contact_phone",
    "address",
    "responsibility",
    "path",
)


_EDIT_DENIED = "没有维护党组织和成员单位的权限"


def _count(value: Any) -> int:
    n = int(value or 0)
    if n < 0:
        raise InvalidInput("党员数不能为负数", code="invalid_number")
    return n


def partyorg_create(
    *,
    actor: Any,
    name: str,
    level: str,
    parent: PartyOrg | None = None,
    territory: Territory | None = None,
    building: Building | None = None,
    dwelling: Dwelling | None = None,
    secretary: str = "",
    members_count: int = 0,
) -> PartyOrg:
    """Add a node to the party organisation tree under the parent one level above it."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    if level not in OrgLevel.values:
        raise InvalidInput("党组织层级无效", code="invalid_level")
    lvl = OrgLevel(level)
    name = clean_text(name, "名称", 150, required=True)
    if lvl == OrgLevel.COMMUNITY_COMMITTEE:
        if parent is not None:
            raise InvalidInput("社区党委不能有上级党组织", code="invalid_parent")
    elif parent is None or CHILD_LEVEL.get(OrgLevel(parent.level)) != lvl:
        above = next(k for k, v in CHILD_LEVEL.items() if v == lvl)
        raise InvalidInput(f"{lvl.label}的上级必须是{above.label}", code="invalid_parent")
    if parent is not None:
        require_in_scope(actor, parent.path, "上级党组织")

    building_obj: Building | None = None
    dwelling_obj: Dwelling | None = None
    if lvl == OrgLevel.COMMUNITY_COMMITTEE:
        if territory is None or territory.level != Level.COMMUNITY:
            raise InvalidInput("社区党委须对应一个社区", code="territory_mismatch")
        node, path = territory, territory.code
    elif lvl == OrgLevel.GRID_BRANCH:
        if territory is None or territory.level != Level.GRID:
            raise InvalidInput("网格党支部须对应一个网格", code="territory_mismatch")
        assert parent is not None
        if territory.parent_id != parent.territory_id:
            raise InvalidInput("网格不属于上级党委所在的社区", code="territory_mismatch")
        node, path = territory, territory.code
    elif lvl == OrgLevel.BUILDING_GROUP:
        if building is None:
            raise InvalidInput("楼栋党小组须对应一栋楼", code="territory_mismatch")
        assert parent is not None
        if building.grid_id != parent.territory_id:
            raise InvalidInput("楼栋不在上级支部所在的网格内", code="territory_mismatch")
        node, path, building_obj = parent.territory, building.path, building
    else:
        if dwelling is None:
            raise InvalidInput("党员中心户须对应一户房屋", code="territory_mismatch")
        assert parent is not None
        if dwelling.building_id != parent.building_id:
            raise InvalidInput("房屋不在上级党小组所在的楼栋内", code="territory_mismatch")
        node, path, building_obj, dwelling_obj = parent.territory, dwelling.path, dwelling.building, dwelling
    require_in_scope(actor, path, "区划/网格")
    with transaction.atomic():
        if PartyOrg.objects.filter(parent=parent, name=name, level=lvl).exists():
            raise Conflict("同一上级下已有同名党组织", code="duplicate_party_org")
        if (
            lvl == OrgLevel.COMMUNITY_COMMITTEE
            and PartyOrg.objects.filter(level=lvl, territory=node).exists()
        ):
            raise Conflict("该社区已有社区党委", code="duplicate_party_org")
        org = PartyOrg.objects.create(
            name=name,
            level=lvl,
            parent=parent,
            territory=node,
            building=building_obj,
            dwelling=dwelling_obj,
            secretary=clean_text(secretary, "书记/负责人", 50),
            members_count=_count(members_count),
            path=path,
        )
        audit_record(actor=actor, action="partyorg.create", obj=org, after=snapshot(org, _ORG_FIELDS))
    return org


def partyorg_update(
    *, actor: Any, org: PartyOrg, name: str = UNSET, secretary: str = UNSET, members_count: int = UNSET
) -> PartyOrg:
    """Rename a party organisation or change its secretary or member count (its place in the tree stays)."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, org.path, "党组织")
    with transaction.atomic():
        o = PartyOrg.objects.select_for_update().get(pk=org.pk)
        before = snapshot(o, _ORG_FIELDS)
        if name is not UNSET:
            o.name = clean_text(name, "名称", 150, required=True)
            if (
                PartyOrg.objects.filter(parent=o.parent_id, name=o.name, level=o.level)
                .exclude(pk=o.pk)
                .exists()
            ):
                raise Conflict("同一上级下已有同名党组织", code="duplicate_party_org")
        if secretary is not UNSET:
            o.secretary = clean_text(secretary, "书记/负责人", 50)
        if members_count is not UNSET:
            o.members_count = _count(members_count)
        o.save()
        audit_change(
            actor=actor, action="partyorg.update", obj=o, before=before, after=snapshot(o, _ORG_FIELDS)
        )
    return o


def _zones(community: Territory, zones: Iterable[Territory]) -> list[Territory]:
    items = list(zones)
    if any(not z.code.startswith(community.code) for z in items):
        raise InvalidInput("责任片区必须在本社区范围内", code="zone_outside_community")
    return items


def _phone(value: str | None) -> str:
    return normalise_phone(value or "") if (value or "").strip() else ""


def _unit_snapshot(unit: MemberUnit) -> dict[str, Any]:
    """Audit values of a member unit; its contact phone masked like every phone."""
    out = snapshot(unit, _UNIT_FIELDS)
    out["contact_phone"] = mask_phone(unit.contact_phone)
    return out


def memberunit_create(
    *,
    actor: Any,
    name: str,
    community: Territory,
    kind: str = MemberUnitKind.OTHER,
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
    zones: Iterable[Territory] = (),
    responsibility: str = "",
) -> MemberUnit:
    """Register a member unit (驻区单位/共建单位) of a community's big party committee."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    if community.level != Level.COMMUNITY:
        raise InvalidInput("成员单位须属于一个社区大党委", code="not_a_community")
    require_in_scope(actor, community.code, "社区")
    if kind not in MemberUnitKind.values:
        raise InvalidInput("单位类型无效", code="invalid_choice")
    name = clean_text(name, "单位名称", 150, required=True)
    items = _zones(community, zones)
    with transaction.atomic():
        if MemberUnit.objects.filter(community=community, name=name).exists():
            raise Conflict("该社区已有同名成员单位", code="duplicate_member_unit")
        unit = MemberUnit.objects.create(
            name=name,
            kind=kind,
            community=community,
            contact_name=clean_text(contact_name, "联系人", 50),
            contact_phone=_phone(contact_phone),
            address=clean_text(address, "地址", 200),
            responsibility=clean_text(responsibility, "责任内容", 5000),
            path=community.code,
        )
        unit.zones.set(items)
        after = _unit_snapshot(unit)
        after["zones"] = sorted(z.code for z in items)
        audit_record(actor=actor, action="memberunit.create", obj=unit, after=after)
    return unit


def memberunit_update(
    *,
    actor: Any,
    unit: MemberUnit,
    name: str = UNSET,
    kind: str = UNSET,
    contact_name: str = UNSET,
    contact_phone: str = UNSET,
    address: str = UNSET,
    zones: Iterable[Territory] = UNSET,
    responsibility: str = UNSET,
) -> MemberUnit:
    """Change a member unit's details, responsibility zones or responsibility text."""
    require_perm(actor, P_EDIT_REGISTER, _EDIT_DENIED)
    require_in_scope(actor, unit.path, "成员单位")
    with transaction.atomic():
        u = MemberUnit.objects.select_for_update().get(pk=unit.pk)
        before = _unit_snapshot(u)
        before["zones"] = sorted(u.zones.values_list("code", flat=True))
        if name is not UNSET:
            u.name = clean_text(name, "单位名称", 150, required=True)
            if MemberUnit.objects.filter(community=u.community_id, name=u.name).exclude(pk=u.pk).exists():
                raise Conflict("该社区已有同名成员单位", code="duplicate_member_unit")
        if kind is not UNSET:
            if kind not in MemberUnitKind.values:
                raise InvalidInput("单位类型无效", code="invalid_choice")
            u.kind = kind
        if contact_name is not UNSET:
            u.contact_name = clean_text(contact_name, "联系人", 50)
        if contact_phone is not UNSET:
            u.contact_phone = _phone(contact_phone)
        if address is not UNSET:
            u.address = clean_text(address, "地址", 200)
        if responsibility is not UNSET:
            u.responsibility = clean_text(responsibility, "责任内容", 5000)
        u.save()
        if zones is not UNSET:
            u.zones.set(_zones(u.community, zones))
        after = _unit_snapshot(u)
        after["zones"] = sorted(u.zones.values_list("code", flat=True))
        audit_change(actor=actor, action="memberunit.update", obj=u, before=before, after=after)
    return u
