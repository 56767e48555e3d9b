"""Where apps above territory plug in, so territory never imports them (the layer contract in
pyproject.toml: core < audit < accounts < territory < registry < party < …).

An app registers from its AppConfig.ready() (registering twice under one name replaces, so a second
ready() changes nothing):

- a redraw follower: what a grid redraw must also re-path (objects that hang on buildings, objects placed
  by their own coordinates or old grid) and what it must point out (`attention`);
- a grid page section: context the grid page shows about one grid.
- a map layer: a GeoJSON endpoint the grid map fetches for its visible box (events: open events).

Hooks run in INSTALLED_APPS order.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import Territory
    from .redraw import Repath


class BuildingFollower(Protocol):
    def __call__(
        self, *, building_ids: list[int], path: str, grid_id: int | None, community: "Territory"
    ) -> Mapping[str, int]:
        """Move what hangs on these buildings (already moved to `grid_id`, or to the community when None)
        to `path`; returns the rows moved per kind."""
        ...


@dataclass(frozen=True)
class RedrawFollower:
    """What one app moves in a grid redraw, inside the redraw's transaction."""

    name: str
    # Called for every chunk of moved buildings, right after the buildings and their dwellings.
    on_buildings: BuildingFollower | None = None
    # Called once all buildings and compounds have moved: objects placed by coordinates or by old grid.
    after_buildings: Callable[["Repath"], None] | None = None
    # Retired grids -> entries of GridRedraw.moved["attention"] (what someone must look at by hand).
    attention: Callable[[list["Territory"]], Mapping[str, Any]] | None = None


class GridPageSection(Protocol):
    def __call__(self, *, user: Any, grid: "Territory") -> Mapping[str, Any]:
        """Template context about `grid` for `user` (scoped and permission-checked by the section)."""
        ...


_redraw_followers: dict[str, RedrawFollower] = {}
_grid_page_sections: dict[str, GridPageSection] = {}


def register_redraw_follower(follower: RedrawFollower) -> None:
    _redraw_followers[follower.name] = follower


def redraw_followers() -> list[RedrawFollower]:
    return list(_redraw_followers.values())


def register_grid_page_section(name: str, section: GridPageSection) -> None:
    _grid_page_sections[name] = section


def grid_page_sections() -> list[GridPageSection]:
    return list(_grid_page_sections.values())


class MapLayer(Protocol):
    def __call__(self, *, user: Any) -> Mapping[str, Any] | None:
        """What the map page fetches for `user`: {"name", "label", "url"} (a GeoJSON endpoint that takes
        ?bbox=w,s,e,n and scopes to the caller), or None when this user does not get the layer."""
        ...


_map_layers: dict[str, MapLayer] = {}


def register_map_layer(name: str, layer: MapLayer) -> None:
    """A layer drawn over the grid map by an app above territory (events: open events)."""
    _map_layers[name] = layer


def map_layers(*, user: Any) -> list[dict[str, Any]]:
    """The registered layers this user gets, as the map page hands them to its script."""
    out = []
    for name, layer in _map_layers.items():
        spec = layer(user=user)
        if spec:
            out.append({"name": name, **spec})
    return out
