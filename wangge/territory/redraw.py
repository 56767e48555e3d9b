"""The moving part of a grid redraw: where each object goes, and the record of what moved.

`territory.services.grid_redraw` builds one `Repath` per redraw; territory's own objects (buildings,
dwellings, compounds) are moved there, and the apps above territory move theirs through the followers
they registered (`territory.hooks`), with the same placement rules and the same record.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import models
from django.db.models import Q
from shapely.geometry.base import BaseGeometry

from . import locator
from .models import Building, Territory


class Placer:
    """Decides the grid of each object after a redraw (by coordinates first, then by its old grid)."""

    def __init__(
        self,
        *,
        community: Territory,
        after: list[tuple[Territory, BaseGeometry]],
        retired: list[Territory],
        merged_into: Territory | None,
    ) -> None:
        self.community = community
        self.by_id = {grid.pk: grid for grid, _ in after}
        self.id_of_code = {grid.code: grid.pk for grid in [*retired, *self.by_id.values()]}
        self.index = locator.build_index(
            (grid.pk, geom) for grid, geom in sorted(after, key=lambda t: t[0].code)
        )
        self.retired_ids = {grid.pk for grid in retired}
        self.merged_into = merged_into

    def place(self, *, lng: float | None, lat: float | None, old_grid_id: int | None) -> Territory | None:
        """The grid the object belongs to after the redraw; None = only the community (unplaced)."""
        if lng is not None and lat is not None:
            found = self.index.locate(lng, lat)
            if found is not None:
                return self.by_id[cast(int, found)]
        if self.merged_into is not None and old_grid_id in self.retired_ids:
            return self.merged_into
        if lng is None and old_grid_id is not None and old_grid_id in self.by_id:
            return self.by_id[old_grid_id]  # no coordinates and its grid still exists (a reshape)
        return None

    def path_of(self, grid: Territory | None) -> str:
        return grid.code if grid is not None else self.community.code


@dataclass
class Repath:
    """One redraw's moves: the placement rules and the record kept in GridRedraw.moved."""

    community: Territory
    changed_codes: set[str]
    placer: Placer
    # Moved buildings: pk -> (grid id or None, new path).
    building_target: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    objects: defaultdict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(dict))
    unplaced: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    flows: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def in_changed(self) -> Q:
        """Objects (with `path` and a `grid`) that lay in a changed grid or directly on the community."""
        return (
            Q(path__in=self.changed_codes)
            | Q(path=self.community.code)
            | Q(grid__code__in=self.changed_codes)
        )

    def record(self, kind: str, pk: int, old: str, grid: Territory | None) -> tuple[int | None, str] | None:
        """Note where one object goes; its (grid id, new path), or None when its path stays."""
        new_path = self.placer.path_of(grid)
        if grid is None:
            self.unplaced[kind].append(pk)
        if new_path == old:
            return None
        self.objects[kind][str(pk)] = [old, new_path]
        self.counts[kind] += 1
        if kind == "building":
            self.flows[f"{old}→{new_path}"] += 1
        return (grid.pk if grid is not None else None, new_path)

    def repath_located(self, model: type[models.Model], kind: str, *, by_building: bool = False) -> None:
        """Move objects that carry their own grid and coordinates (places, facilities): by coordinates;
        without coordinates, by their building (moved already) when `by_building`; else by the old grid."""
        manager = model._default_manager
        rows: list[tuple[Any, ...]]
        if by_building:
            rows = list(
                manager.filter(self.in_changed | Q(building_id__in=list(self.building_target))).values_list(
                    "pk", "path", "grid_id", "lng", "lat", "building_id"
                )
            )
        else:
            rows = [
                (*row, None)
                for row in manager.filter(self.in_changed).values_list("pk", "path", "grid_id", "lng", "lat")
            ]
        grid_of_building = dict(
            Building.objects.filter(pk__in={row[5] for row in rows if row[5]}).values_list("pk", "grid_id")
        )
        for pk, old, grid_id, lng, lat, building_id in rows:
            if (lng is None or lat is None) and building_id is not None:
                b_grid = grid_of_building.get(building_id)
                grid = self.placer.by_id.get(b_grid) if b_grid is not None else None
            else:
                grid = self.placer.place(lng=lng, lat=lat, old_grid_id=grid_id)
            target = self.record(kind, pk, old, grid)
            if target is not None or grid_id != (grid.pk if grid else None):
                manager.filter(pk=pk).update(grid=grid, path=self.placer.path_of(grid))

    def moved(self, attention: dict[str, Any]) -> dict[str, Any]:
        """The value of GridRedraw.moved."""
        return {
            "counts": dict(self.counts),
            "flows": dict(self.flows),
            "objects": {k: v for k, v in self.objects.items()},
            "unplaced": {k: v for k, v in self.unplaced.items()},
            "attention": attention,
        }
