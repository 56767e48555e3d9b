"""District → streets → communities → grids, with grid polygons that tile each community exactly.

Layout (WGS-84, around Jingmen lng 112.2, lat 31.03): streets are vertical bands between slanted straight
lines; inside a band, communities are stacked between slanted straight lines, so each community is an
irregular convex quadrilateral. A community is cut into 4–8 grids: `cols` slanted cuts across and one
kinked cut along (2 rows), each lattice point computed once, so neighbouring grids share their vertices
exactly; for an odd count two cells of one column are merged. Nodes are written through the territory
services, which validate codes and record boundaries and audit rows.
"""

from __future__ import annotations

import math

from shapely.geometry import Polygon, mapping

import wangge.demo.generators.names as names
from wangge.territory.models import GridType, Level
from wangge.territory.services import grid_create, territory_create

from .base import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    VALID_FROM,
    DemoContext,
    GridPlan,
    chinese_number,
    unique_names,
)

LNG0, LAT0 = 112.200, 31.030
BAND_W = 0.0075  # ≈ 715 m of longitude
ROW_H = 0.0065  # ≈ 720 m of latitude

Pt = tuple[float, float]


def _cross(vertical: tuple[float, float], horizontal: tuple[float, float, float]) -> Pt:
    """Intersection of x = X + a·(y − LAT0) with y = Y + b·(x − xm)."""
    X, a = vertical
    Y, b, xm = horizontal
    x = (X + a * (Y - b * xm - LAT0)) / (1 - a * b)
    return x, Y + b * (x - xm)


def _bilinear(q: tuple[Pt, Pt, Pt, Pt], u: float, v: float) -> Pt:
    bl, br, tr, tl = q
    bx, by = bl[0] + u * (br[0] - bl[0]), bl[1] + u * (br[1] - bl[1])
    tx, ty = tl[0] + u * (tr[0] - tl[0]), tl[1] + u * (tr[1] - tl[1])
    return bx + v * (tx - bx), by + v * (ty - by)


def subdivide(rng, quad: tuple[Pt, Pt, Pt, Pt], n: int) -> list[Polygon]:
    """`n` (4–8) polygons that tile the convex quadrilateral `quad` (bl, br, tr, tl) without gap or overlap."""
    cols = math.ceil(n / 2)
    merges = 2 * cols - n
    us = [0.0] + [i / cols + rng.uniform(-0.18, 0.18) / cols for i in range(1, cols)] + [1.0]
    vs = [[0.0, 0.5 + rng.uniform(-0.12, 0.12), 1.0] for _ in range(cols + 1)]
    pts = [[_bilinear(quad, us[i], vs[i][j]) for j in range(3)] for i in range(cols + 1)]
    merged = rng.randrange(cols) if merges else -1
    cells: list[Polygon] = []
    for i in range(cols):
        if i == merged:
            cells.append(
                Polygon([pts[i][0], pts[i + 1][0], pts[i + 1][1], pts[i + 1][2], pts[i][2], pts[i][1]])
            )
            continue
        for j in range(2):
            cells.append(Polygon([pts[i][j], pts[i + 1][j], pts[i + 1][j + 1], pts[i][j + 1]]))
    return cells


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("territory")
    fake = ctx.faker("territory")
    n_streets = rng.choice([3, 4])
    per_street = [rng.randint(2, 4) for _ in range(n_streets)]
    street_names = names.STREETS[:1] + unique_names(rng, names.STREETS[1:], n_streets - 1)
    community_names = [names.FIRST_COMMUNITY] + unique_names(rng, names.COMMUNITIES, sum(per_street) - 1)
    # Local roads plus a few Faker street names ("<城市名>路"), as the roads the addresses hang on.
    road_pool = list(dict.fromkeys(names.ROADS + [f"{fake.city_name()}路" for _ in range(10)]))

    district = territory_create(
        level=Level.DISTRICT, code=DISTRICT_CODE, name=DISTRICT_NAME, valid_from=VALID_FROM
    )
    ctx.district = district

    x0 = LNG0 - n_streets * BAND_W / 2
    verticals = [
        (x0 + i * BAND_W + rng.uniform(-0.12, 0.12) * BAND_W, rng.uniform(-0.12, 0.12))
        for i in range(n_streets + 1)
    ]
    quads: list[tuple[int, tuple[Pt, Pt, Pt, Pt]]] = []
    for s in range(n_streets):
        street = territory_create(
            level=Level.STREET,
            code=f"{DISTRICT_CODE}{s + 1:03d}",
            name=street_names[s],
            parent=district,
            valid_from=VALID_FROM,
        )
        ctx.streets.append(street)
        k = per_street[s]
        left, right = verticals[s], verticals[s + 1]
        xm = (left[0] + right[0]) / 2
        y_bottom = LAT0 - k * ROW_H / 2 + rng.uniform(-0.3, 0.3) * ROW_H
        horizontals = [
            (y_bottom + j * ROW_H + rng.uniform(-0.15, 0.15) * ROW_H, rng.uniform(-0.1, 0.1), xm)
            for j in range(k + 1)
        ]
        for j in range(k):
            name = community_names[len(ctx.communities)]
            community = territory_create(
                level=Level.COMMUNITY,
                code=f"{street.code}{j + 1:03d}",
                name=name,
                parent=street,
                valid_from=VALID_FROM,
            )
            ctx.communities.append(community)
            quad = (
                _cross(left, horizontals[j]),
                _cross(right, horizontals[j]),
                _cross(right, horizontals[j + 1]),
                _cross(left, horizontals[j + 1]),
            )
            ctx.community_polygons[community.code] = Polygon(quad)
            quads.append((len(ctx.communities) - 1, quad))

    # One dedicated grid (a school or a market), in a community other than the first.
    dedicated_community = rng.randrange(1, len(ctx.communities))
    dedicated_unit = rng.choice(names.SCHOOLS + names.MARKETS)
    for index, quad in quads:
        community = ctx.communities[index]
        cells = subdivide(rng, quad, rng.randint(4, 8))
        roads = rng.sample(road_pool, 3)
        dedicated_cell = rng.randrange(len(cells)) if index == dedicated_community else -1
        for n, cell in enumerate(cells, start=1):
            if n - 1 == dedicated_cell:
                grid_type, grid_name, unit, weight = (
                    GridType.DEDICATED,
                    f"{dedicated_unit}专属网格",
                    dedicated_unit,
                    0.15,
                )
            elif rng.random() < 0.15:
                grid_type, grid_name, unit, weight = GridType.COMPREHENSIVE, "", "", 1.5
            else:
                grid_type, grid_name, unit, weight = GridType.BASIC, "", "", 1.0
            grid_name = grid_name or f"{community.name}第{chinese_number(n)}网格"
            node = grid_create(
                community=community,
                code=f"{community.code}{n:03d}",
                name=grid_name,
                geojson=mapping(cell),
                valid_from=VALID_FROM,
                grid_type=grid_type,
            )
            ctx.grids.append(
                GridPlan(
                    node=node,
                    community=community,
                    polygon=cell,
                    roads=rng.sample(roads, rng.randint(1, 2)),
                    weight=weight * rng.uniform(0.6, 1.4),
                    dedicated_unit=unit,
                )
            )
    ctx.counts.update(streets=len(ctx.streets), communities=len(ctx.communities), grids=len(ctx.grids))
