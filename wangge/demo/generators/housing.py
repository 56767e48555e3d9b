"""Compounds (小区), buildings (楼栋) and dwellings (户), sized to the household plan (B2).

Each grid gets a share of the dwellings by weight (comprehensive grids more, the dedicated grid few);
a grid holds 1–3 compounds, a compound old walk-ups, mid-rises or towers (Liuhe is an old district, so
walk-ups dominate), small plans get low self-built blocks. About 8 % of homes stay vacant; some
walk-ups have ground-floor shop fronts. Buildings stand inside their grid polygon. Households are then
spread over the homes at random: a renting household makes its home "出租", the others "自住".
"""

from __future__ import annotations

import math

import wangge.demo.generators.names as names
from wangge.territory.models import Building, Compound, Dwelling, DwellingUse

from .base import CITY, DISTRICT_NAME, DemoContext, GridPlan, point_in, split, unique_names

VACANCY = 0.08
STYLES = {
    # style: (floors range, units range, rooms per floor, area range m², building use)
    "old": ((5, 7), (1, 3), 2, (48, 90), "住宅"),
    "mid": ((9, 11), (2, 2), 2, (80, 130), "住宅"),
    "high": ((18, 30), (1, 2), 4, (85, 140), "住宅"),
    "low": ((2, 4), (1, 1), 2, (40, 100), "住宅"),
}


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("housing")
    homes_needed = math.ceil(len(ctx.households) / (1 - VACANCY))
    total_weight = sum(g.weight for g in ctx.grids)
    shares = [max(4, round(homes_needed * g.weight / total_weight)) for g in ctx.grids]
    compound_names = iter(
        unique_names(
            rng,
            [f"{stem}{suffix}" for stem in names.COMPOUND_STEMS for suffix in names.COMPOUND_SUFFIXES],
            sum(3 for _ in ctx.grids),
        )
    )
    dorm_names = iter(unique_names(rng, [f"{unit}宿舍" for unit in names.DORM_UNITS], len(names.DORM_UNITS)))
    house_numbers: dict[str, int] = {}
    compound_seq: dict[str, int] = {}
    plans: list[tuple[Compound, GridPlan, list[tuple[Building, list[Dwelling]]]]] = []

    for grid, target in zip(ctx.grids, shares, strict=True):
        n_compounds = 1 if target < 24 else rng.choice([1, 2, 2, 3])
        building_seq = 0
        for part in split(rng, target, n_compounds):
            community = grid.community
            compound_seq[community.code] = compound_seq.get(community.code, 0) + 1
            if part < 12:
                style = "low"
            else:
                style = rng.choices(["old", "mid", "high"], [55, 30, 15])[0]
                if style == "high" and part < 80:
                    style = "mid"
            road = rng.choice(grid.roads)
            house_numbers[road] = house_numbers.get(road, rng.randint(1, 40)) + rng.randint(2, 30)
            if grid.dedicated_unit:
                cname = f"{grid.dedicated_unit}家属院"
            elif style == "old" and rng.random() < 0.35:
                cname = next(dorm_names, "") or next(compound_names)
            else:
                cname = next(compound_names)
            address = f"{CITY}{DISTRICT_NAME}{road}{house_numbers[road]}号"
            compound = Compound(
                code=f"XQ{community.code}{compound_seq[community.code]:03d}",
                name=cname,
                community=community,
                grid=grid.node,
                path=grid.node.code,
                address=address,
            )
            ctx.compounds.append(compound)
            centre = point_in(rng, grid)
            (flo, fhi), (ulo, uhi), rooms, (alo, ahi), use = STYLES[style]
            remaining = part
            buildings: list[tuple[Building, list[Dwelling]]] = []
            bno = 0
            while remaining > 0 or bno == 0:
                bno += 1
                building_seq += 1
                floors, units = rng.randint(flo, fhi), rng.randint(ulo, uhi)
                per_floor = units * rooms
                if floors * per_floor > remaining:
                    floors = max(2, math.ceil(max(remaining, 1) / per_floor))
                    if floors > fhi:
                        floors = fhi
                lng, lat = point_in(rng, grid, near=centre, radius=0.0007)
                shops = style in ("old", "mid") and bno == 1 and rng.random() < 0.45
                building = Building(
                    code=f"{grid.node.code}{building_seq:03d}",
                    name=f"{bno}栋",
                    compound=compound,
                    grid=grid.node,
                    path=grid.node.code,
                    address=f"{DISTRICT_NAME}{road}{house_numbers[road]}号{cname}{bno}栋",
                    lat=lat,
                    lng=lng,
                    floors=floors,
                    units=units,
                    use="商住" if shops else use,
                )
                homes = []
                for unit in range(1, units + 1):
                    for floor in range(1, floors + 1):
                        for room in range(1, rooms + 1):
                            homes.append(
                                Dwelling(
                                    unit=str(unit),
                                    room=f"{floor}{room:02d}",
                                    floor=floor,
                                    use=DwellingUse.VACANT,
                                    area_m2=round(rng.uniform(alo, ahi), 1),
                                    path=grid.node.code,
                                )
                            )
                if shops:
                    for k in range(1, rng.randint(2, 5)):
                        homes.append(
                            Dwelling(
                                unit="",
                                room=f"门面{k}",
                                floor=1,
                                use=DwellingUse.SHOP,
                                area_m2=round(rng.uniform(20, 80), 1),
                                path=grid.node.code,
                            )
                        )
                buildings.append((building, homes))
                remaining -= floors * per_floor
            plans.append((compound, grid, buildings))

    Compound.objects.bulk_create(ctx.compounds)
    all_buildings: list[Building] = []
    for compound, _grid, buildings in plans:
        for building, _homes in buildings:
            building.compound = compound
            all_buildings.append(building)
    Building.objects.bulk_create(all_buildings)
    ctx.buildings = all_buildings
    dwellings: list[Dwelling] = []
    for _compound, _grid, buildings in plans:
        for building, homes in buildings:
            for d in homes:
                d.building = building
                dwellings.append(d)

    # Households into homes at random; renting households make their home a rented one.
    homes = [d for d in dwellings if d.use != DwellingUse.SHOP]
    if len(homes) < len(ctx.households):
        raise RuntimeError("演示数据：房屋数少于家庭数")
    order = list(range(len(homes)))
    rng.shuffle(order)
    for hh, i in zip(ctx.households, order, strict=False):
        hh.dwelling = homes[i]
        homes[i].use = DwellingUse.RENTED if hh.renting else DwellingUse.SELF
    Dwelling.objects.bulk_create(dwellings, batch_size=2000)
    ctx.dwellings = dwellings

    # Some households moved within their community before: an earlier, closed occupancy elsewhere.
    by_community: dict[str, list[Dwelling]] = {}
    for d in homes:
        by_community.setdefault(d.path[:12], []).append(d)
    for hh in ctx.households:
        if rng.random() < 0.08 and hh.moved_in_days_ago < 20 * 365:
            candidates = by_community[hh.dwelling.path[:12]]
            other = candidates[rng.randrange(len(candidates))]
            if other.pk != hh.dwelling.pk:
                hh.previous_dwelling = other
                hh.previous_days_ago = rng.randint(365, 8 * 365)
    ctx.counts.update(
        compounds=len(ctx.compounds),
        buildings=len(all_buildings),
        dwellings=len(dwellings),
        vacant_dwellings=sum(1 for d in homes if d.use == DwellingUse.VACANT),
    )
