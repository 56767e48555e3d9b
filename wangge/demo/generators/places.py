"""Places (商户/场所, with licence status) and facilities (部件, 16-digit GB/T 30428 codes) — B3.

Shops fill most ground-floor shop fronts and line the roads; about 12 % have an expired licence and
6 % none (those have no credit code either). The dedicated grid holds its school or market, and the
first community has Liuhe's 幸福里食堂, nursery and elderly-care centre. Facilities are drawn per grid
from the seeded facility classes (lamps, manhole covers, hydrants, cameras, bins, …; lifts in towers),
coded "420802" + major + minor + a 6-digit serial per class, and located inside their grid.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import wangge.demo.generators.names as names
from wangge.registry.models import Facility, FacilityClass, FacilityCondition, LicenceStatus, Place
from wangge.registry.services import place_natural_key, resident_personal_values
from wangge.registry.validation import normalise_credit_code
from wangge.territory.models import Building, DwellingUse

from .base import DISTRICT_CODE, DISTRICT_NAME, DemoContext, GridPlan, point_in

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# (major, minor) → (count range per grid, owner unit)
FACILITY_PLAN: dict[tuple[str, str], tuple[tuple[int, int], str]] = {
    ("01", "01"): ((2, 4), "荆门市自来水公司"),
    ("01", "02"): ((2, 5), "东宝区住房和城乡建设局"),
    ("01", "03"): ((2, 5), "东宝区住房和城乡建设局"),
    ("01", "04"): ((1, 3), "国网荆门供电公司"),
    ("01", "05"): ((1, 3), "中国电信荆门分公司"),
    ("01", "06"): ((1, 3), "东宝区消防救援大队"),
    ("01", "07"): ((4, 10), "东宝区城市管理执法局"),
    ("01", "08"): ((1, 4), "国网荆门供电公司"),
    ("01", "09"): ((2, 5), "荆门市公安局东宝分局"),
    ("02", "01"): ((0, 1), "荆门市公共交通集团"),
    ("02", "03"): ((0, 2), "荆门市公安局交通警察支队"),
    ("02", "04"): ((0, 2), "东宝区城市管理执法局"),
    ("03", "01"): ((0, 1), "东宝区城市管理执法局"),
    ("03", "02"): ((3, 8), "东宝区环境卫生管理处"),
    ("03", "03"): ((0, 2), "东宝区环境卫生管理处"),
    ("04", "02"): ((2, 6), "东宝区园林局"),
    ("04", "03"): ((0, 2), "东宝区园林局"),
    ("05", "01"): ((1, 1), "社区居委会"),
    ("06", "01"): ((0, 2), "社区居委会"),
    ("06", "02"): ((0, 2), "物业服务企业"),
}
LIFT = ("01", "10")
GATE = ("06", "03")


def credit_code(rng: random.Random, individual: bool) -> str:
    """A valid unified social credit code (GB 32100) registered in the district."""
    body = ("92" if individual else "91") + DISTRICT_CODE + "".join(rng.choice(USCC_CHARS) for _ in range(9))
    from stdnum.cn import uscc

    return normalise_credit_code(body + uscc.calc_check_digit(body))


def _mobile(rng: random.Random) -> str:
    return rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _place(
    rng: random.Random,
    fake: Any,
    *,
    name: str,
    kind: str,
    grid: GridPlan,
    address: str,
    building: Building | None = None,
    near: tuple[float, float] | None = None,
    licence: str | None = None,
) -> Place:
    if licence is None:
        r = rng.random()
        licence = (
            LicenceStatus.VALID if r < 0.82 else LicenceStatus.EXPIRED if r < 0.94 else LicenceStatus.NONE
        )
    code = (
        "" if licence == LicenceStatus.NONE else credit_code(rng, individual=kind not in ("学校", "农贸市场"))
    )
    phone = resident_personal_values(phone=_mobile(rng))
    lng, lat = point_in(rng, grid, near=near, radius=0.00015) if near else point_in(rng, grid)
    return Place(
        natural_key=place_natural_key(name=name, address=address, credit_code=code),
        name=name,
        kind=kind,
        credit_code=code,
        licence_status=licence,
        operator_name=fake.name(),
        phone_enc=phone["phone_enc"],
        phone_hash=phone["phone_hash"],
        address=address,
        building=building,
        lat=lat,
        lng=lng,
        grid=grid.node,
        path=grid.node.code,
    )


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("places")
    fake = ctx.faker("places")
    kinds = list(names.PLACE_KINDS)
    kind_weights = [names.PLACE_KINDS[k][0] for k in kinds]
    used_names: set[str] = set()

    def shop_name(kind: str) -> str:
        for _ in range(50):
            prefix = rng.choice(names.SHOP_PREFIXES) if rng.random() < 0.6 else f"{fake.last_name()}记"
            candidate = prefix + rng.choice(names.PLACE_KINDS[kind][1])
            if candidate not in used_names:
                break
        used_names.add(candidate)
        return candidate

    places: list[Place] = []
    by_grid = {g.node.code: g for g in ctx.grids}
    buildings = {b.pk: b for b in ctx.buildings}
    # Shop fronts on the ground floor of walk-ups.
    for d in ctx.dwellings:
        if d.use != DwellingUse.SHOP or rng.random() < 0.1:
            continue
        b = buildings[d.building_id]
        kind = rng.choices(kinds, kind_weights)[0]
        places.append(
            _place(
                rng,
                fake,
                name=shop_name(kind),
                kind=kind,
                grid=by_grid[b.path],
                address=f"{b.address}{d.room}",
                building=b,
                near=(b.lng, b.lat),
            )
        )
    # Street shops along each grid's roads.
    numbers: Counter[str] = Counter()
    for grid in ctx.grids:
        for _ in range(rng.randint(2, 6)):
            kind = rng.choices(kinds, kind_weights)[0]
            road = rng.choice(grid.roads)
            numbers[road] += rng.randint(1, 6)
            places.append(
                _place(
                    rng,
                    fake,
                    name=shop_name(kind),
                    kind=kind,
                    grid=grid,
                    address=f"{DISTRICT_NAME}{road}{200 + numbers[road]}号",
                )
            )
        if grid.dedicated_unit:
            kind = "学校" if grid.dedicated_unit in names.SCHOOLS else "农贸市场"
            places.append(
                _place(
                    rng,
                    fake,
                    name=grid.dedicated_unit,
                    kind=kind,
                    grid=grid,
                    address=f"{DISTRICT_NAME}{grid.roads[0]}1号",
                    licence=LicenceStatus.VALID,
                )
            )
    first = ctx.grids[0]
    for name, kind in (
        ("幸福里食堂", "助餐服务"),
        (f"{first.community.name}托育服务中心", "托育服务"),
        (f"{first.community.name}养老服务中心", "养老服务"),
    ):
        places.append(
            _place(
                rng,
                fake,
                name=name,
                kind=kind,
                grid=first,
                address=f"{DISTRICT_NAME}{first.roads[0]}9号",
                licence=LicenceStatus.VALID,
            )
        )
    Place.objects.bulk_create(places, batch_size=1000)

    facilities = _facilities(ctx, rng)
    Facility.objects.bulk_create(facilities, batch_size=2000)
    ctx.counts.update(places=len(places), facilities=len(facilities))


def _facilities(ctx: DemoContext, rng: random.Random) -> list[Facility]:
    classes = {(c.major, c.minor): c for c in FacilityClass.objects.all()}
    serial: Counter[tuple[str, str]] = Counter()
    conditions = [
        FacilityCondition.GOOD,
        FacilityCondition.DAMAGED,
        FacilityCondition.MISSING,
        FacilityCondition.OCCUPIED,
    ]
    condition_weights = [90, 6, 1, 3]
    out: list[Facility] = []

    def add(
        key: tuple[str, str],
        grid: GridPlan,
        name: str,
        owner: str,
        address: str,
        at: tuple[float, float] | None = None,
    ) -> None:
        cls = classes.get(key)
        if cls is None:  # a class removed in the admin: nothing of that kind
            return
        serial[key] += 1
        lng, lat = at or point_in(rng, grid)
        out.append(
            Facility(
                code=f"{DISTRICT_CODE}{key[0]}{key[1]}{serial[key]:06d}",
                facility_class=cls,
                name=name[:100],
                condition=rng.choices(conditions, condition_weights)[0],
                owner_unit=owner,
                address=address[:200],
                lat=lat,
                lng=lng,
                grid=grid.node,
                path=grid.node.code,
            )
        )

    for grid in ctx.grids:
        for key, ((lo, hi), owner) in FACILITY_PLAN.items():
            cls = classes.get(key)
            for _ in range(rng.randint(lo, hi)):
                road = rng.choice(grid.roads)
                add(
                    key, grid, f"{road}{cls.name if cls else ''}", owner, f"{road}{rng.randint(1, 300)}号附近"
                )
    by_grid = {g.node.code: g for g in ctx.grids}
    for compound in ctx.compounds:
        grid = by_grid[compound.path]
        add(GATE, grid, f"{compound.name}智能门禁", "物业服务企业", compound.address)
    for b in ctx.buildings:
        if b.floors >= 8:
            grid = by_grid[b.path]
            for unit in range(1, b.units + 1):
                add(
                    LIFT,
                    grid,
                    f"{b.compound.name}{b.name}{unit}单元电梯",
                    "物业服务企业",
                    f"{b.address}{unit}单元",
                    at=(b.lng, b.lat),
                )
    return out
