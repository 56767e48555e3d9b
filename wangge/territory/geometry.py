"""Geometry helpers (shapely 2). Coordinates are WGS-84 lng/lat; areas use a local metric projection."""

import math
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from wangge.core.errors import InvalidInput

EARTH_RADIUS_M = 6371008.8


def geometry_from_geojson(data: Any) -> BaseGeometry:
    """A valid Polygon/MultiPolygon from a GeoJSON geometry (or Feature); clear Chinese error otherwise."""
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput("边界必须是 GeoJSON 的 Polygon 或 MultiPolygon", code="invalid_geometry")
    try:
        geom = shape(data)
    except Exception:
        raise InvalidInput("边界坐标格式错误", code="invalid_geometry")
    if geom.is_empty:
        raise InvalidInput("边界不能为空", code="invalid_geometry")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput("边界坐标超出经纬度范围（应为 WGS-84 经度, 纬度）", code="invalid_geometry")
    if not geom.is_valid:
        raise InvalidInput(f"边界几何无效：{shapely.is_valid_reason(geom)}", code="invalid_geometry")
    return geom


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(geom))


def to_metric(geom: BaseGeometry, lat0: float | None = None) -> BaseGeometry:
    """Project to a local equirectangular plane in metres (accurate to <0.1% at grid scale)."""
    if lat0 is None:
        lat0 = geom.centroid.y
    k = math.cos(math.radians(lat0))

    def proj(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = [math.radians(x) * EARTH_RADIUS_M * k for x in coords[:, 0]]
        out[:, 1] = [math.radians(y) * EARTH_RADIUS_M for y in coords[:, 1]]
        return out

    return shapely.transform(geom, proj)


def area_m2(geom: BaseGeometry) -> float:
    return float(to_metric(geom).area)
