"""Point → grid location (T4) with an in-process shapely STRtree.

`GridIndex` is the pure part (no database): polygons in priority order, an STRtree over them, and
vectorised look-ups. The benchmark (bench/locate.py) builds it with `build_index` exactly as the
database-backed cache below does.

The cache holds the index of the boundaries valid today. It is built once per process and rebuilt
when `territory.GeometryVersion.version` changes (looked at no more than once every
VERSION_CHECK_SECONDS), when the day changes, or at once in the process that changed a boundary
(`invalidate`, called by the territory services).

Edges: a point exactly on an edge shared by two grids lies in both closed polygons; it is given to
the grid that comes first in the index, i.e. the one with the smallest code. The same rule settles
points in an overlap (which `wangge check-grids` reports as an error of the data).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:  # Django models are imported lazily so that the bench runs without Django settings.
    from .models import Territory

VERSION_CHECK_SECONDS = 1.0
CHUNK = 65536  # points per vectorised query


class GridIndex:
    """Polygons with keys, in priority order (earlier wins on shared edges), behind an STRtree."""

    def __init__(self, keys: Sequence[Hashable], geoms: Sequence[BaseGeometry]) -> None:
        if len(keys) != len(geoms):
            raise ValueError("keys and geoms differ in length")
        self.keys = list(keys)
        self.geoms = np.asarray(geoms, dtype=object)
        shapely.prepare(self.geoms)
        self.tree = STRtree(self.geoms)

    def __len__(self) -> int:
        return len(self.keys)

    def locate_indices(self, lngs: Any, lats: Any) -> np.ndarray:
        """Index (into keys) of the grid holding each point, -1 where none does. Vectorised."""
        xs = np.asarray(lngs, dtype=float).ravel()
        ys = np.asarray(lats, dtype=float).ravel()
        if xs.shape != ys.shape:
            raise ValueError("lngs and lats differ in length")
        out = np.full(xs.shape[0], -1, dtype=np.intp)
        if len(self.keys) == 0:
            return out
        # In chunks: the temporary point geometries stay small (and it is a little faster than all at once).
        for start in range(0, xs.shape[0], CHUNK):
            stop = start + CHUNK
            out[start:stop] = self._locate_chunk(xs[start:stop], ys[start:stop])
        return out

    def _locate_chunk(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = np.full(xs.shape[0], -1, dtype=np.intp)
        # Bounding-box candidates from the tree, then an exact test on the prepared polygons.
        pairs = self.tree.query(shapely.points(xs, ys))
        if pairs.shape[1] == 0:
            return out
        hit = shapely.intersects_xy(self.geoms[pairs[1]], xs[pairs[0]], ys[pairs[0]])
        point_idx, grid_idx = pairs[0][hit], pairs[1][hit]
        if point_idx.size == 0:
            return out
        order = np.argsort(point_idx, kind="stable")
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        starts = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        # Several grids hold the point only on a shared edge (or in an overlap): the first one wins.
        out[point_idx[starts]] = np.minimum.reduceat(grid_idx, starts)
        return out

    def locate_many(self, lngs: Any, lats: Any) -> list[Hashable | None]:
        return [self.keys[i] if i >= 0 else None for i in self.locate_indices(lngs, lats)]

    def locate(self, lng: float, lat: float) -> Hashable | None:
        return self.locate_many([lng], [lat])[0]


def build_index(items: Iterable[tuple[Hashable, BaseGeometry]]) -> GridIndex:
    """A GridIndex from (key, polygon) pairs given in priority order."""
    keys: list[Hashable] = []
    geoms: list[BaseGeometry] = []
    for key, geom in items:
        keys.append(key)
        geoms.append(geom)
    return GridIndex(keys, geoms)


# --- database-backed cache -------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[str, Any] = {"index": None, "version": None, "day": None, "checked": 0.0}


def invalidate() -> None:
    """Drop this process's index; the next look-up rebuilds it."""
    with _lock:
        _cache.update(index=None, version=None, day=None, checked=0.0)


def _current_version() -> int:
    from .models import GeometryVersion

    return GeometryVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def index_from_db(on: date) -> GridIndex:
    """Index of the grid boundaries valid on `on` (grid ids as keys, ordered by grid code)."""
    from .models import GridBoundary

    rows = GridBoundary.objects.valid_on(on).order_by("grid__code").values_list("grid_id", "geojson")
    return build_index((grid_id, shape(geojson)) for grid_id, geojson in rows)


def grid_index(on: date | None = None) -> GridIndex:
    """The index for `on` (default today). Today's is cached per process; other days are built on demand."""
    from django.utils import timezone

    today = timezone.localdate()
    if on is not None and on != today:
        return index_from_db(on)
    with _lock:
        now = time.monotonic()
        index = _cache["index"]
        if index is not None and _cache["day"] == today and now - _cache["checked"] < VERSION_CHECK_SECONDS:
            return index
        version = _current_version()  # read before building: a change during the build triggers a rebuild
        if index is None or _cache["version"] != version or _cache["day"] != today:
            index = index_from_db(today)
            _cache.update(index=index, version=version, day=today)
        _cache["checked"] = now
        return index


def locate_point(*, lat: float, lng: float, crs: str = "wgs84", on: date | None = None) -> Territory | None:
    """The grid (valid on `on`, default today) holding the point, or None. `crs`: wgs84, gcj02 or bd09."""
    from wangge.core.errors import InvalidInput

    from .coords import to_wgs84
    from .models import Territory

    try:
        lat, lng = float(lat), float(lng)
        lng, lat = to_wgs84(lng, lat, crs)
    except (TypeError, ValueError):
        raise InvalidInput("坐标或坐标系无效（坐标系可选 wgs84、gcj02、bd09）", code="invalid_point")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput("经纬度超出范围", code="invalid_point")
    grid_id = grid_index(on).locate(lng, lat)
    if grid_id is None:
        return None
    return Territory.objects.select_related("parent", "parent__parent").filter(pk=cast(int, grid_id)).first()


def locate_points(lngs: Any, lats: Any, *, on: date | None = None) -> list[Any]:
    """Grid ids (None where no grid) for many WGS-84 points at once (vectorised)."""
    return grid_index(on).locate_many(lngs, lats)
