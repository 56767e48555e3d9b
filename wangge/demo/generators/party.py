"""Party organisation tree (T2) and member units with responsibility zones (T3).

Per community: 社区大党委 → one 网格党支部 per grid → 楼栋党小组 in the buildings where party members
live (up to three per grid) → 党员中心户 (one or two members' homes per group). Member counts and
secretaries come from the generated party members. Member units (驻区单位) of each big committee take
one or two grids as their responsibility zone.
"""

from __future__ import annotations

from collections import defaultdict

import wangge.demo.generators.names as names
from wangge.party.models import MemberUnit, MemberUnitKind, OrgLevel, PartyOrg

from .base import DISTRICT_NAME, DemoContext


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("party")
    fake = ctx.faker("party")
    compounds = {c.pk: c for c in ctx.compounds}
    buildings = {b.pk: b for b in ctx.buildings}
    members_by_grid: dict[str, list] = defaultdict(list)
    for resident, dwelling, name in ctx.party_members:
        members_by_grid[dwelling.path].append((resident, dwelling, name))
    grids_by_community: dict[int, list] = defaultdict(list)
    for g in ctx.grids:
        grids_by_community[g.community.pk].append(g)

    committees, branches, groups, households = [], [], [], []
    for community in ctx.communities:
        grids = grids_by_community[community.pk]
        in_community = [m for g in grids for m in members_by_grid[g.node.code]]
        committee = PartyOrg.objects.create(
            name=f"{community.name}大党委",
            level=OrgLevel.COMMUNITY_COMMITTEE,
            territory=community,
            secretary=fake.name(),
            members_count=len(in_community),
            path=community.code,
        )
        committees.append(committee)
        for g in grids:
            members = members_by_grid[g.node.code]
            branch = PartyOrg.objects.create(
                name=f"{g.node.name}党支部",
                level=OrgLevel.GRID_BRANCH,
                parent=committee,
                territory=g.node,
                secretary=members[0][2] if members else fake.name(),
                members_count=len(members),
                path=g.node.code,
            )
            branches.append(branch)
            by_building: dict[int, list] = defaultdict(list)
            for m in members:
                by_building[m[1].building_id].append(m)
            ranked = sorted(by_building.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:3]
            for building_id, ms in ranked:
                b = buildings[building_id]
                label = f"{compounds[b.compound_id].name}{b.name}"
                group = PartyOrg.objects.create(
                    name=f"{label}党小组",
                    level=OrgLevel.BUILDING_GROUP,
                    parent=branch,
                    territory=g.node,
                    building=b,
                    secretary=ms[0][2],
                    members_count=len(ms),
                    path=g.node.code,
                )
                groups.append(group)
                for _resident, d, name in ms[: rng.randint(1, 2)]:
                    households.append(
                        PartyOrg(
                            name=f"{label}{d.unit}单元{d.room}室党员中心户",
                            level=OrgLevel.CENTRE_HOUSEHOLD,
                            parent=group,
                            territory=g.node,
                            building=b,
                            dwelling=d,
                            secretary=name,
                            members_count=1,
                            path=g.node.code,
                        )
                    )
    PartyOrg.objects.bulk_create(households)

    # Member units: named ones first (each serves one community), then local private firms.
    pool = list(names.MEMBER_UNITS)
    rng.shuffle(pool)
    units = 0
    for community in ctx.communities:
        grids = grids_by_community[community.pk]
        taken: set[str] = set()
        for _ in range(rng.randint(3, 6)):
            if pool:
                name, kind = pool.pop()
            else:
                name, kind = f"荆门{fake.company()}", MemberUnitKind.PRIVATE
            if name in taken:
                continue
            taken.add(name)
            unit = MemberUnit.objects.create(
                name=name,
                kind=kind,
                community=community,
                contact_name=fake.name(),
                contact_phone=f"0724{rng.randint(2000000, 8999999)}",
                address=f"{DISTRICT_NAME}{rng.choice(names.ROADS)}{rng.randint(1, 300)}号",
                responsibility=rng.choice(names.RESPONSIBILITIES),
                path=community.code,
            )
            unit.zones.set([g.node for g in rng.sample(grids, min(len(grids), rng.randint(1, 2)))])
            units += 1
    ctx.counts.update(
        party_committees=len(committees),
        party_branches=len(branches),
        party_groups=len(groups),
        party_households=len(households),
        member_units=units,
    )
