"""Organisations of each community (B4): owners' committees, property companies, volunteer teams and
social organisations — among them Liuhe's own: 德正社会工作服务中心 and compound self-management
committees (小区自管委员会) in the old walk-up compounds. Written through registry.services."""

from __future__ import annotations

from datetime import date, timedelta

import wangge.demo.generators.names as names
from wangge.registry.models import OrganisationKind
from wangge.registry.services import organisation_create

from .base import DISTRICT_NAME, DemoContext


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("organisations")
    fake = ctx.faker("organisations")
    created = 0

    def landline() -> str:
        return f"0724{rng.randint(2000000, 8999999)}"

    def make(name: str, kind: str, community, compounds=(), members=(5, 30)) -> None:
        nonlocal created
        founded = date(2008, 1, 1) + timedelta(days=rng.randint(0, 15 * 365))
        organisation_create(
            actor=None,
            name=name,
            kind=kind,
            community=community,
            contact_name=fake.name(),
            contact_phone=landline()
            if rng.random() < 0.5
            else rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            members_count=rng.randint(*members),
            founded=founded,
            compounds=compounds,
        )
        created += 1

    compounds_of: dict[int, list] = {}
    for c in ctx.compounds:
        compounds_of.setdefault(c.community_id, []).append(c)
    tallest: dict[int, int] = {}
    homes: dict[int, int] = {}
    for b in ctx.buildings:
        tallest[b.compound_id] = max(tallest.get(b.compound_id, 0), b.floors)
        homes[b.compound_id] = homes.get(b.compound_id, 0) + b.floors * b.units
    property_stems = list(names.PROPERTY_STEMS)
    for i, community in enumerate(ctx.communities):
        compounds = compounds_of.get(community.pk, [])
        modern = [c for c in compounds if tallest.get(c.pk, 0) >= 8]
        if not modern and compounds:  # only walk-ups: the largest one still has a property company
            modern = [max(compounds, key=lambda c: (homes.get(c.pk, 0), c.code))]
        walkups = [c for c in compounds if c not in modern]
        # Owners' committees in modern estates, a property company for them, self-management in walk-ups.
        for c in modern:
            if rng.random() < 0.6:
                make(f"{c.name}业主委员会", OrganisationKind.OWNERS_COMMITTEE, community, [c], (5, 9))
        if modern:
            rng.shuffle(property_stems)
            for k in range(0, len(modern), 3):
                stem = property_stems[(k // 3) % len(property_stems)]
                make(
                    f"荆门市{stem}物业服务有限公司",
                    OrganisationKind.PROPERTY,
                    community,
                    modern[k : k + 3],
                    (10, 60),
                )
        for c in walkups:
            if rng.random() < 0.5:
                make(f"{c.name}自管委员会", OrganisationKind.SOCIAL, community, [c], (3, 9))
        for team in rng.sample(names.VOLUNTEER_TEAMS, rng.randint(1, 3)):
            make(f"{community.name}{team}", OrganisationKind.VOLUNTEER, community, (), (15, 120))
        socials = rng.sample(names.SOCIAL_ORGS, rng.randint(2, 4))
        for org in socials:
            make(f"{community.name}{org}", OrganisationKind.SOCIAL, community, (), (8, 60))
        if i == 0:
            make(f"{DISTRICT_NAME}德正社会工作服务中心", OrganisationKind.SOCIAL, community, (), (10, 30))
    ctx.counts["organisations"] = created
