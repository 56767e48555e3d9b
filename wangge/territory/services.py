"""Writes for the territory tree. Every write is audited in the same transaction."""

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F

from wangge.audit.services import audit_record
from wangge.core.errors import InvalidInput

from .geometry import area_m2, geometry_from_geojson, to_geojson
from .models import CODE_LENGTH, PARENT_LEVEL, GeometryVersion, GridBoundary, GridType, Level, Territory


def geometry_version_bump() -> None:
    """Tell every process that grid geometry changed (they rebuild their STRtree on next use)."""
    updated = GeometryVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        GeometryVersion.objects.get_or_create(pk=1, defaults={"version": 1})


def territory_create(
    *,
    level: str,
    code: str,
    name: str,
    parent: Territory | None = None,
    grid_type: str = "",
    valid_from: date | None = None,
    actor: Any = None,
) -> Territory:
    """Create a district, street, community or grid node; the code must extend its parent's code."""
    if level not in Level.values:
        raise InvalidInput("层级无效", code="invalid_level")
    lvl = Level(level)
    if not code.isdigit() or len(code) != CODE_LENGTH[lvl]:
        raise InvalidInput(f"{lvl.label}编码须为 {CODE_LENGTH[lvl]} 位数字", code="invalid_code")
    if not name.strip():
        raise InvalidInput("名称不能为空", code="invalid_name")
    if lvl == Level.DISTRICT:
        if parent is not None:
            raise InvalidInput("区不能有上级", code="invalid_parent")
    else:
        if parent is None or parent.level != PARENT_LEVEL[lvl]:
            raise InvalidInput(f"{lvl.label}的上级必须是{PARENT_LEVEL[lvl].label}", code="invalid_parent")
        if not code.startswith(parent.code):
            raise InvalidInput("编码必须以上级编码开头", code="invalid_code")
    if lvl == Level.GRID:
        grid_type = grid_type or GridType.BASIC
        if grid_type not in GridType.values:
            raise InvalidInput("网格类型无效", code="invalid_grid_type")
    elif grid_type:
        raise InvalidInput("只有网格有网格类型", code="invalid_grid_type")
    with transaction.atomic():
        if Territory.objects.filter(code=code).exists():
            raise InvalidInput(f"编码 {code} 已存在", code="duplicate_code")
        node = Territory.objects.create(
            level=lvl, code=code, name=name.strip(), parent=parent, grid_type=grid_type, valid_from=valid_from
        )
        audit_record(actor=actor, action="territory.create", obj=node,
                     after={"code": code, "name": node.name, "level": level, "grid_type": grid_type})
    return node


def grid_boundary_set(*, grid: Territory, geojson: Any, valid_from: date, actor: Any = None) -> GridBoundary:
    """Give `grid` a boundary from `valid_from` on, closing the boundary that was valid before.

    Only the geometry history changes here; moving objects to their new grid is grid_redraw's job.
    """
    if grid.level != Level.GRID:
        raise InvalidInput("只有网格有边界", code="not_a_grid")
    geom = geometry_from_geojson(geojson)
    minx, miny, maxx, maxy = geom.bounds
    with transaction.atomic():
        current = GridBoundary.objects.filter(grid=grid, valid_to__isnull=True).first()
        if current is not None:
            if valid_from <= current.valid_from:
                raise InvalidInput("新边界的生效日期必须晚于现有边界", code="invalid_date")
            current.valid_to = valid_from
            current.save(update_fields=["valid_to"])
        boundary = GridBoundary.objects.create(
            grid=grid, geojson=to_geojson(geom), min_lng=minx, min_lat=miny, max_lng=maxx, max_lat=maxy,
            area_m2=area_m2(geom), valid_from=valid_from,
        )
        geometry_version_bump()
        audit_record(actor=actor, action="grid.boundary", obj=grid,
                     after={"valid_from": valid_from.isoformat(), "area_m2": round(boundary.area_m2, 1)})
    return boundary


def grid_create(
    *,
    community: Territory,
    code: str,
    name: str,
    geojson: Any,
    valid_from: date,
    grid_type: str = GridType.BASIC,
    actor: Any = None,
) -> Territory:
    """Create a grid with its first boundary."""
    with transaction.atomic():
        grid = territory_create(level=Level.GRID, code=code, name=name, parent=community, grid_type=grid_type,
                                valid_from=valid_from, actor=actor)
        grid_boundary_set(grid=grid, geojson=geojson, valid_from=valid_from, actor=actor)
    return grid
