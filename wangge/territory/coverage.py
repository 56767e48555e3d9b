"""Coverage of a community by its grids (T1): overlaps and gaps between sibling grids.

- overlap: two sibling grids whose polygons intersect in more than `min_area_m2` square metres;
- gap: a hole (interior ring) in the union of the siblings' polygons larger than `min_area_m2`.

Areas are in square metres (territory.geometry.area_m2). The analysis is pure (`analyse_siblings`), the
database part (`coverage_check`) only gathers the boundaries in force on a day, community by community.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import shapely
from shapely import STRtree
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry

from .geometry import area_m2

MIN_AREA_M2 = 1.0
# Grids whose boundary comes within this many degrees (~1 cm) of a hole are named as its neighbours.
_TOUCH_DEGREES = 1e-7


@dataclass(frozen=True)
class Overlap:
    codes: tuple[str, str]
    area_m2: float

    def as_dict(self) -> dict:
        return {"codes": list(self.codes), "area_m2": round(self.area_m2, 1)}


@dataclass(frozen=True)
class Gap:
    codes: tuple[str, ...]  # the grids around the hole
    area_m2: float
    point: tuple[float, float]  # (lng, lat) of a point inside the hole

    def as_dict(self) -> dict:
        return {
            "codes": list(self.codes),
            "area_m2": round(self.area_m2, 1),
            "point": [round(self.point[0], 7), round(self.point[1], 7)],
        }


@dataclass
class CommunityCoverage:
    code: str
    name: str
    grid_codes: list[str] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.overlaps and not self.gaps

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "grids": len(self.grid_codes),
            "ok": self.ok,
            "overlaps": [o.as_dict() for o in self.overlaps],
            "gaps": [g.as_dict() for g in self.gaps],
        }


def analyse_siblings(
    items: Sequence[tuple[str, BaseGeometry]], *, min_area_m2: float = MIN_AREA_M2
) -> tuple[list[Overlap], list[Gap]]:
    """Overlaps and gaps among sibling polygons given as (code, geometry)."""
    if not items:
        return [], []
    codes = [code for code, _ in items]
    geoms = [geom for _, geom in items]
    tree = STRtree(geoms)

    overlaps: list[Overlap] = []
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        inter = geoms[i].intersection(geoms[j])
        if inter.is_empty or inter.area == 0:
            continue
        area = area_m2(inter)
        if area > min_area_m2:
            a, b = sorted((codes[i], codes[j]))
            overlaps.append(Overlap(codes=(a, b), area_m2=area))

    gaps: list[Gap] = []
    union = shapely.union_all(geoms)
    for part in shapely.get_parts(union):
        if not isinstance(part, Polygon):
            continue
        for ring in part.interiors:
            hole = Polygon(ring)
            area = area_m2(hole)
            if area <= min_area_m2:
                continue
            around = sorted(
                codes[k] for k in tree.query(hole).tolist() if geoms[k].distance(hole) < _TOUCH_DEGREES
            )
            inside = hole.representative_point()
            gaps.append(Gap(codes=tuple(around), area_m2=area, point=(inside.x, inside.y)))
    overlaps.sort(key=lambda o: o.codes)
    gaps.sort(key=lambda g: (g.codes, -g.area_m2))
    return overlaps, gaps


def coverage_check(
    *, community_codes: Iterable[str] | None = None, on: date | None = None, min_area_m2: float = MIN_AREA_M2
) -> list[CommunityCoverage]:
    """Coverage of every community (or the given ones) by the grid boundaries in force on `on` (today)."""
    from django.utils import timezone

    from .models import GridBoundary, Level, Territory

    on = on or timezone.localdate()
    communities = Territory.objects.filter(level=Level.COMMUNITY).active_on(on).order_by("code")
    if community_codes is not None:
        communities = communities.filter(code__in=list(community_codes))
    by_community: dict[int, list[tuple[str, BaseGeometry]]] = defaultdict(list)
    rows = (
        GridBoundary.objects.valid_on(on)
        .filter(grid__parent__in=communities)
        .order_by("grid__code")
        .values_list("grid__parent_id", "grid__code", "geojson")
    )
    for parent_id, code, geojson in rows:
        by_community[parent_id].append((code, shape(geojson)))
    out = []
    for community in communities:
        items = by_community.get(community.pk, [])
        overlaps, gaps = analyse_siblings(items, min_area_m2=min_area_m2)
        out.append(
            CommunityCoverage(
                code=community.code,
                name=community.name,
                grid_codes=[c for c, _ in items],
                overlaps=overlaps,
                gaps=gaps,
            )
        )
    return out
