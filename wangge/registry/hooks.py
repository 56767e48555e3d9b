"""What the register plugs into territory (registered by RegistryConfig.ready(); territory never imports
the registry): residents, occupancies, places and facilities follow a grid redraw, and the grid page
shows the grid's buildings and key-group counts."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from wangge.accounts.roles import P_VIEW_REGISTER
from wangge.territory import hooks
from wangge.territory.models import Territory
from wangge.territory.redraw import Repath

from . import selectors
from .models import Facility, Occupancy, Place, Resident


def _follow_buildings(
    *, building_ids: list[int], path: str, grid_id: int | None, community: Territory
) -> Mapping[str, int]:
    """Residents (of a dwelling in, or registered at, these buildings) and occupancies follow them."""
    return {
        "resident": Resident.objects.filter(
            Q(dwelling__building_id__in=building_ids) | Q(dwelling__isnull=True, building_id__in=building_ids)
        ).update(path=path),
        "occupancy": Occupancy.objects.filter(dwelling__building_id__in=building_ids).update(path=path),
    }


def _after_buildings(run: Repath) -> None:
    # Residents with neither dwelling nor building: only their old grid tells where they belong.
    for pk, old in Resident.objects.filter(
        path__in=run.changed_codes, dwelling__isnull=True, building__isnull=True
    ).values_list("pk", "path"):
        grid = run.placer.place(lng=None, lat=None, old_grid_id=run.placer.id_of_code.get(old))
        target = run.record("resident", pk, old, grid)
        if target is not None:
            Resident.objects.filter(pk=pk).update(path=target[1])
    # Places by coordinates, else by their building (moved already); facilities by coordinates.
    run.repath_located(Place, "place", by_building=True)
    run.repath_located(Facility, "facility")


def _grid_page(*, user: Any, grid: Territory) -> Mapping[str, Any]:
    """The grid's buildings and key-group counts, for those who may see the register."""
    can_view_register = user.has_perm(P_VIEW_REGISTER)
    context: dict[str, Any] = {"can_view_register": can_view_register}
    if can_view_register:
        context["buildings"] = selectors.building_list(user=user, path=grid.path)
        counts = selectors.keygroup_counts(user=user, path=grid.path)
        context["keygroups_present"] = [k for k in counts if k["count"]]
        context["keygroups_zero"] = [k for k in counts if not k["count"]]
    return context


def register() -> None:
    hooks.register_redraw_follower(
        hooks.RedrawFollower(
            name="registry", on_buildings=_follow_buildings, after_buildings=_after_buildings
        )
    )
    hooks.register_grid_page_section("registry", _grid_page)
