"""What the grid map draws besides the grids: the bounding box a map asks for, and the buildings and
compounds inside it (so a resident's home can be found on the map). Reads are scoped to the caller."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet

from wangge.core.errors import InvalidInput
from wangge.core.scope import scope_queryset

from .models import Building

# A map at street zoom shows a few hundred buildings; more would only be a blur of dots.
MAX_BUILDINGS = 1000
# Widest box (degrees) the buildings layer answers: about a district. The map asks for it from zoom 15.
MAX_BBOX_DEGREES = 0.5

Bbox = tuple[float, float, float, float]


def parse_bbox(raw: str | None, *, required: bool = False, max_degrees: float | None = None) -> Bbox | None:
    """`w,s,e,n` in WGS-84 degrees (what Leaflet's toBBoxString gives), or None when absent and optional."""
    if raw is None or raw.strip() == "":
        if required:
            raise InvalidInput("缺少地图范围参数 bbox（西,南,东,北）", code="bbox_required")
        return None
    parts = raw.split(",")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput("地图范围 bbox 应为四个数：西,南,东,北", code="bbox_invalid") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise InvalidInput("地图范围 bbox 应为四个数：西,南,东,北", code="bbox_invalid")
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidInput("地图范围 bbox 超出经纬度范围或西/南不小于东/北", code="bbox_invalid")
    if max_degrees is not None and (e - w > max_degrees or n - s > max_degrees):
        raise InvalidInput("地图范围过大，请放大地图后再查看", code="bbox_too_large")
    return (w, s, e, n)


def _buildings(*, user: Any, bbox: Bbox) -> QuerySet[Building]:
    w, s, e, n = bbox
    qs = Building.objects.filter(
        lat__isnull=False, lng__isnull=False, lat__gte=s, lat__lte=n, lng__gte=w, lng__lte=e
    )
    return scope_queryset(qs, user).select_related("compound").order_by("code")


def _hull(points: list[tuple[Any, Any]]) -> dict[str, Any]:
    """A compound's outline from its buildings' points (compounds carry no polygon of their own):
    the convex hull, widened by about 20 m so a one- or two-building compound is still an area."""
    from shapely.geometry import MultiPoint, mapping

    return dict(mapping(MultiPoint(points).convex_hull.buffer(0.0002, quad_segs=2)))


def places_feature_collection(*, user: Any, bbox: Bbox, limit: int = MAX_BUILDINGS) -> dict[str, Any]:
    """Buildings (points with names) and compound outlines inside `bbox` and the caller's scope, at most
    `limit` buildings; `truncated` tells the map that it should zoom in for the rest."""
    rows = list(_buildings(user=user, bbox=bbox)[: limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit]
    features: list[dict[str, Any]] = []
    by_compound: dict[int, list[Building]] = {}
    for b in rows:
        if b.compound_id:
            by_compound.setdefault(b.compound_id, []).append(b)
    # Outlines from every building of the compound in scope (not only those in the box), so a compound
    # cut by the map's edge keeps its shape.
    if by_compound:
        all_points: dict[int, list[tuple[Any, Any]]] = {}
        qs = scope_queryset(
            Building.objects.filter(compound_id__in=list(by_compound), lat__isnull=False, lng__isnull=False),
            user,
        ).values_list("compound_id", "lng", "lat")
        for cid, lng, lat in qs[: limit * 4]:
            all_points.setdefault(cid, []).append((lng, lat))
        for cid, members in by_compound.items():
            compound = members[0].compound
            assert compound is not None
            features.append(
                {
                    "type": "Feature",
                    "geometry": _hull(all_points.get(cid) or [(b.lng, b.lat) for b in members]),
                    "properties": {"kind": "compound", "id": cid, "name": compound.name},
                }
            )
    for b in rows:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [b.lng, b.lat]},
                "properties": {
                    "kind": "building",
                    "id": b.pk,
                    "name": b.name,
                    "compound": b.compound.name if b.compound else "",
                    "address": b.address,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}
