"""Households and residents (B1): a plan first (pure), written after housing exists.

Ages: the plan draws an age in whole years plus a day offset for everyone, and birth dates are counted
back from the reference day (`ctx.today`, by default the day the demo is generated). So the key groups
hit their targets on that day: exactly round(N·2347/14300) residents are 60 or older and
round(N·165/14300) are under 3, as in Liuhe (seed 001); a month later a few have moved up a band,
as real people do. The same seed and reference day always give the same data.

Household types (elderly alone, elderly couple, young family with an infant, family with children,
three generations, grandparents raising left-behind grandchildren, singles, couples, …) are drawn with
fixed weights; a household that would overshoot the remaining quota of elderly, infants or others is
redrawn, and the last places are filled with households that fit exactly.

Stored fields are computed by registry.services.resident_personal_values, the same function the
resident services and the bulk importer use (ciphertext, keyed hash, birth date and sex from the ID).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum.cn import ric

import wangge.demo.generators.names as names
from wangge.registry.models import (
    HouseholdRole,
    KeyGroup,
    Occupancy,
    OccupancyRelation,
    ResidenceType,
    Resident,
)
from wangge.registry.services import resident_personal_values

from .base import DemoContext, weighted_pick, years_before

# Liuhe (seed 001): 14,300 residents, 2,347 aged 60+, 165 aged 0–3, 238 party members.
LIUHE_RESIDENTS = 14300
LIUHE_ELDERLY = 2347
LIUHE_INFANTS = 165
LIUHE_PARTY = 238

ELDER, INFANT, OTHER = "E", "I", "O"  # age bands: 60+, under 3, everyone else

HOUSEHOLD_WEIGHTS = {
    "elderly_alone": 7,
    "elderly_couple": 9,
    "young_infant": 2.2,
    "family_kids": 28,
    "three_gen": 10,
    "skip_gen": 2.5,
    "single": 10,
    "couple": 10,
    "adult_child": 12,
    "elder_with_child": 6,
}
RENTING_SHARE = {"single": 0.45, "couple": 0.4, "young_infant": 0.15, "family_kids": 0.12}


def targets(n: int) -> tuple[int, int]:
    """(aged 60+, aged under 3) among n residents, in Liuhe's proportions."""
    return round(n * LIUHE_ELDERLY / LIUHE_RESIDENTS), round(n * LIUHE_INFANTS / LIUHE_RESIDENTS)


@dataclass
class PersonPlan:
    role: str
    age: int
    sex: str
    days: int = 0  # days past the last birthday on the reference day
    surname: str = ""
    given: str = ""
    residence_type: str = ResidenceType.REGISTERED
    tags: list[str] = field(default_factory=list)
    party: bool = False
    health: list[str] = field(default_factory=list)
    phone: str = ""
    ethnicity: str = ""
    id_number: str = ""
    birth: date | None = None

    @property
    def band(self) -> str:
        return ELDER if self.age >= 60 else INFANT if self.age < 3 else OTHER

    @property
    def name(self) -> str:
        return self.surname + self.given


@dataclass
class HouseholdPlan:
    kind: str
    members: list[PersonPlan]
    renting: bool = False
    moved_in_days_ago: int = 0
    dwelling: Any = None
    previous_dwelling: Any = None
    previous_days_ago: int = 0


def _other_sex(sex: str) -> str:
    return "F" if sex == "M" else "M"


def _elder_age(rng: random.Random, lo: int = 60, hi: int = 95, mode: int = 68) -> int:
    return max(lo, min(hi, int(rng.triangular(lo, hi + 1, mode))))


def _band_age(rng: random.Random, lo: int, hi: int) -> int:
    return rng.randint(max(0, lo), max(max(0, lo), hi))


def _compose(rng: random.Random, kind: str) -> list[PersonPlan]:
    """Members of one household of `kind`: roles, ages and sexes."""
    P = PersonPlan
    head_sex = "M" if rng.random() < 0.7 else "F"
    if kind == "elderly_alone":
        return [P(HouseholdRole.HEAD, _elder_age(rng, 65, 95, 76), "F" if rng.random() < 0.65 else "M")]
    if kind == "elderly_couple":
        a = _elder_age(rng, 60, 90, 67)
        return [P(HouseholdRole.HEAD, a, "M"), P(HouseholdRole.SPOUSE, max(60, a - rng.randint(-2, 5)), "F")]
    if kind == "single":
        return [P(HouseholdRole.HEAD, rng.randint(20, 45), head_sex)]
    if kind == "couple":
        a = rng.randint(23, 40)
        return [P(HouseholdRole.HEAD, a, "M"), P(HouseholdRole.SPOUSE, max(21, a - rng.randint(-2, 4)), "F")]
    if kind == "young_infant":
        a = rng.randint(25, 38)
        out = [
            P(HouseholdRole.HEAD, a, "M"),
            P(HouseholdRole.SPOUSE, max(22, a - rng.randint(-2, 4)), "F"),
            P(HouseholdRole.CHILD, rng.randint(0, 2), rng.choice("MF")),
        ]
        if rng.random() < 0.35:
            out.append(P(HouseholdRole.PARENT, min(75, a + rng.randint(24, 34)), rng.choice("MF")))
        return out
    if kind == "family_kids":
        a = rng.randint(30, 50)
        out = [
            P(HouseholdRole.HEAD, a, head_sex),
            P(HouseholdRole.SPOUSE, max(24, a - rng.randint(-3, 4)), _other_sex(head_sex)),
        ]
        for _ in range(1 if rng.random() < 0.7 else 2):
            out.append(P(HouseholdRole.CHILD, _band_age(rng, 3, min(17, a - 22)), rng.choice("MF")))
        return out
    if kind == "three_gen":
        a = rng.randint(32, 48)
        out = [P(HouseholdRole.HEAD, a, "M"), P(HouseholdRole.SPOUSE, max(26, a - rng.randint(-2, 4)), "F")]
        for _ in range(1 if rng.random() < 0.55 else 2):
            age = rng.randint(0, 2) if rng.random() < 0.08 else _band_age(rng, 3, min(16, a - 24))
            out.append(P(HouseholdRole.CHILD, age, rng.choice("MF")))
        parent = min(92, a + rng.randint(24, 34))
        out.append(P(HouseholdRole.PARENT, parent, "F" if rng.random() < 0.6 else "M"))
        if rng.random() < 0.4:
            mate = out[-1]
            out.append(P(HouseholdRole.PARENT, min(95, parent + rng.randint(-2, 4)), _other_sex(mate.sex)))
        return out
    if kind == "skip_gen":
        a = rng.randint(55, 76)
        out = [P(HouseholdRole.HEAD, a, head_sex)]
        if rng.random() < 0.6:
            out.append(P(HouseholdRole.SPOUSE, max(52, a - rng.randint(-2, 4)), _other_sex(head_sex)))
        for _ in range(1 if rng.random() < 0.6 else 2):
            out.append(P(HouseholdRole.GRANDCHILD, rng.randint(3, 14), rng.choice("MF")))
        return out
    if kind == "adult_child":
        a = rng.randint(45, 59)
        return [
            P(HouseholdRole.HEAD, a, "M"),
            P(HouseholdRole.SPOUSE, max(42, min(59, a - rng.randint(-2, 4))), "F"),
            P(HouseholdRole.CHILD, rng.randint(18, min(30, a - 20)), rng.choice("MF")),
        ]
    # elder_with_child: an adult child heads the household, an old parent lives with them
    a = rng.randint(35, 55)
    out = [
        P(HouseholdRole.HEAD, a, head_sex),
        P(
            HouseholdRole.PARENT,
            max(60, min(95, a + rng.randint(22, 35))),
            "F" if rng.random() < 0.65 else "M",
        ),
    ]
    if rng.random() < 0.5:
        out.insert(1, P(HouseholdRole.SPOUSE, max(30, a - rng.randint(-3, 4)), _other_sex(head_sex)))
    return out


def _fallback(rng: random.Random, left: dict[str, int]) -> list[PersonPlan]:
    """A household that fits the remaining quotas exactly (used when random draws keep overshooting)."""
    P = PersonPlan
    if left[INFANT] > 0:
        if left[OTHER] > 0:
            return [
                P(HouseholdRole.HEAD, rng.randint(24, 36), "F"),
                P(HouseholdRole.CHILD, rng.randint(0, 2), "M"),
            ]
        return [
            P(HouseholdRole.HEAD, _elder_age(rng, 60, 72, 63), "F"),
            P(HouseholdRole.GRANDCHILD, rng.randint(0, 2), rng.choice("MF")),
        ]
    if left[ELDER] > 0:
        if left[ELDER] >= 2 and rng.random() < 0.5:
            return _compose(rng, "elderly_couple")
        return _compose(rng, "elderly_alone")
    if left[OTHER] >= 2 and rng.random() < 0.5:
        return _compose(rng, "couple")
    return _compose(rng, "single")


def plan(ctx: DemoContext) -> None:
    """Decide every household and person (no database)."""
    rng = ctx.rng("households")
    n = ctx.residents
    elderly, infants = targets(n)
    left = {ELDER: elderly, INFANT: infants, OTHER: n - elderly - infants}
    kinds = list(HOUSEHOLD_WEIGHTS)
    weights = [HOUSEHOLD_WEIGHTS[k] for k in kinds]
    households: list[HouseholdPlan] = []
    while sum(left.values()) > 0:
        for _ in range(40):
            kind = rng.choices(kinds, weights)[0]
            members = _compose(rng, kind)
            need = {ELDER: 0, INFANT: 0, OTHER: 0}
            for m in members:
                need[m.band] += 1
            rest = {b: left[b] - need[b] for b in left}
            # Every infant still to come needs an adult (other or elderly) left to live with.
            if (
                min(rest.values()) >= 0
                and rest[OTHER] + rest[ELDER] >= rest[INFANT]
                and (rest[INFANT] == 0 or rest[OTHER] + rest[ELDER] > 0)
            ):
                break
        else:
            kind = "fallback"
            members = _fallback(rng, left)
        for m in members:
            left[m.band] -= 1
        renting = rng.random() < RENTING_SHARE.get(kind, 0.04)
        days = rng.randint(30, 5 * 365) if renting else rng.randint(60, 30 * 365)
        households.append(HouseholdPlan(kind=kind, members=members, renting=renting, moved_in_days_ago=days))
    ctx.households = households
    _people(ctx, rng)


def _given(rng: random.Random, fake: Any, sex: str) -> str:
    if rng.random() < 0.45:
        return fake.first_name_male() if sex == "M" else fake.first_name_female()
    pool = names.GIVEN_MALE if sex == "M" else names.GIVEN_FEMALE
    return "".join(rng.sample(pool, 2 if rng.random() < 0.7 else 1))


def _id_number(rng: random.Random, region: str, birth: date, sex: str, used: set[str]) -> str:
    while True:
        seq = rng.randint(0, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if sex == "M" else (0, 2, 4, 6, 8))
        body = f"{region}{birth:%Y%m%d}{seq:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in used:
            used.add(number)
            return number


def _region(rng: random.Random, residence_type: str) -> str:
    r = rng.random()
    if residence_type == ResidenceType.REGISTERED:
        pool = names.REGION_LOCAL if r < 0.85 else names.REGION_HUBEI
    elif residence_type == ResidenceType.PERMANENT:
        pool = names.REGION_LOCAL if r < 0.3 else names.REGION_HUBEI if r < 0.8 else names.REGION_OTHER
    else:
        pool = names.REGION_LOCAL if r < 0.2 else names.REGION_HUBEI if r < 0.55 else names.REGION_OTHER
    return rng.choice(pool)


def _people(ctx: DemoContext, rng: random.Random) -> None:
    """Names, dates, ID numbers, phones, residence types, tags and party membership for the plan."""
    fake = ctx.faker("people")
    today = ctx.today
    used: set[str] = set()
    ethnic_names = [e for e, _ in names.ETHNICITIES]
    ethnic_weights = [w for _, w in names.ETHNICITIES]
    for hh in ctx.households:
        family = fake.last_name()
        region_home = _region(rng, ResidenceType.REGISTERED)
        for m in hh.members:
            m.days = rng.randint(1, 364)
            # days <= 364 keeps the age on the reference day exactly m.age.
            m.birth = years_before(today, m.age) - timedelta(days=m.days)
            if m.role in (HouseholdRole.SPOUSE,) or (m.role == HouseholdRole.PARENT and m.sex == "F"):
                m.surname = fake.last_name()
            else:
                m.surname = family if rng.random() < 0.95 else fake.last_name()
            m.given = _given(rng, fake, m.sex)
            if hh.renting:
                m.residence_type = ResidenceType.FLOATING if rng.random() < 0.3 else ResidenceType.RENTING
            else:
                m.residence_type = (
                    ResidenceType.REGISTERED if rng.random() < 0.78 else ResidenceType.PERMANENT
                )
            region = region_home if m.age < 18 and rng.random() < 0.7 else _region(rng, m.residence_type)
            m.id_number = _id_number(rng, region, m.birth, m.sex, used)
            if m.age >= 16 and rng.random() < (0.5 if m.age >= 85 else 0.95):
                m.phone = rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if m.band == ELDER and rng.random() < 0.35:
                m.health = rng.sample(names.HEALTH_NOTES, rng.randint(1, 2))
            m.ethnicity = rng.choices(ethnic_names, ethnic_weights)[0]
        if all(m.band == ELDER for m in hh.members):
            for m in hh.members:
                m.tags.append("empty_nest")
                if len(hh.members) == 1:
                    m.tags.append("living_alone")
        if hh.kind == "skip_gen":
            for m in hh.members:
                if m.role == HouseholdRole.GRANDCHILD and m.age < 16:
                    m.tags.append("left_behind_child")
        if hh.renting:
            tag = "short_rent" if rng.random() < 0.3 else "long_rent"
            for m in hh.members:
                m.tags.append(tag)

    n = ctx.residents
    people = [m for hh in ctx.households for m in hh.members]
    # 低保 is a household matter: every member of ~2.5 % of households (older and one-person homes likelier).
    for hh in weighted_pick(
        rng,
        ctx.households,
        lambda h: 3.0 if h.kind in ("elderly_alone", "skip_gen", "fallback") else 1.0,
        round(len(ctx.households) * 0.025),
    ):
        for m in hh.members:
            m.tags.append("low_income")
    alone = [hh.members[0] for hh in ctx.households if hh.kind == "elderly_alone"]
    for m in weighted_pick(rng, alone, lambda m: 1.0, round(n * 0.0025)):
        m.tags.append("destitute")
    for m in weighted_pick(
        rng, people, lambda m: 3.0 if m.band == ELDER else 0.3 if m.age < 18 else 1.0, round(n * 0.02)
    ):
        m.tags.append("disabled")
        m.health.append(rng.choice(names.DISABILITY_NOTES))
    for m in weighted_pick(rng, people, lambda m: 1.0 if "empty_nest" in m.tags else 0.0, round(n * 0.002)):
        m.tags.append("bereaved")
    for m in weighted_pick(rng, people, lambda m: 1.0 if m.age >= 75 else 0.0, round(n * 0.004)):
        m.tags.append("dementia")
    party_weight = lambda m: 3.0 if m.age >= 50 else 1.5 if m.age >= 30 else 0.5 if m.age >= 18 else 0.0  # noqa: E731
    for m in weighted_pick(rng, people, party_weight, round(n * LIUHE_PARTY / LIUHE_RESIDENTS)):
        m.party = True


def _relation(hh: HouseholdPlan, m: PersonPlan) -> str:
    if hh.renting:
        return OccupancyRelation.TENANT if m.age >= 18 else OccupancyRelation.LIVES
    if m.role in (HouseholdRole.HEAD, HouseholdRole.SPOUSE):
        return OccupancyRelation.OWNER
    return OccupancyRelation.LIVES


def generate(ctx: DemoContext) -> None:
    """Write residents, their occupancies (with some earlier moves) and their set tags."""
    today = ctx.today
    tag_ids = dict(KeyGroup.objects.filter(kind=KeyGroup.Kind.SET).values_list("code", "id"))
    households = sorted(ctx.households, key=lambda h: h.dwelling.pk)
    rows: list[Resident] = []
    for hh in households:
        d = hh.dwelling
        for m in hh.members:
            personal = resident_personal_values(
                id_number=m.id_number, phone=m.phone, health_notes="；".join(m.health), today=today
            )
            if personal["birth_date"] != m.birth or personal["sex"] != m.sex:
                raise RuntimeError("演示数据：身份证号与出生日期/性别不一致")
            rows.append(
                Resident(
                    name=m.name,
                    id_number_enc=personal["id_number_enc"],
                    id_hash=personal["id_hash"],
                    birth_date=personal["birth_date"],
                    sex=personal["sex"],
                    phone_enc=personal["phone_enc"],
                    phone_hash=personal["phone_hash"],
                    health_notes_enc=personal["health_notes_enc"],
                    ethnicity=m.ethnicity,
                    dwelling=d,
                    building_id=d.building_id,
                    path=d.path,
                    household_role=m.role,
                    residence_type=m.residence_type,
                    is_party_member=m.party,
                )
            )
    Resident.objects.bulk_create(rows, batch_size=2000)

    occupancies: list[Occupancy] = []
    through = Resident.tags.through
    tag_rows = []
    it = iter(rows)
    for hh in households:
        moved_in = today - timedelta(days=hh.moved_in_days_ago)
        for m in hh.members:
            r = next(it)
            assert m.birth is not None
            r_in = max(moved_in, m.birth)
            if hh.previous_dwelling is not None and m.birth < moved_in - timedelta(days=hh.previous_days_ago):
                prev_in = moved_in - timedelta(days=hh.previous_days_ago)
                occupancies.append(
                    Occupancy(
                        resident=r,
                        dwelling=hh.previous_dwelling,
                        relation=_relation(hh, m),
                        moved_in=prev_in,
                        moved_out=moved_in,
                        path=hh.previous_dwelling.path,
                    )
                )
            occupancies.append(
                Occupancy(
                    resident=r,
                    dwelling=hh.dwelling,
                    relation=_relation(hh, m),
                    moved_in=r_in,
                    path=hh.dwelling.path,
                )
            )
            for code in dict.fromkeys(m.tags):
                if code in tag_ids:
                    tag_rows.append(through(resident_id=r.pk, keygroup_id=tag_ids[code]))
            if m.party:
                ctx.party_members.append((r, hh.dwelling, m.name))
    Occupancy.objects.bulk_create(occupancies, batch_size=2000)
    through.objects.bulk_create(tag_rows, batch_size=2000)
    ctx.counts.update(
        households=len(households),
        residents=len(rows),
        occupancies=len(occupancies),
        resident_tags=len(tag_rows),
        party_members=len(ctx.party_members),
    )
