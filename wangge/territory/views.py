"""Map and grid pages. Reads go through the territory selectors (scoped to the caller); what the grid page
shows from apps above territory (buildings, key groups) comes from the sections they registered
(territory.hooks)."""

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from wangge.accounts.roles import P_VIEW_TERRITORY
from wangge.core.errors import NotFound

from . import hooks, selectors
from .models import Level, Territory


def _tree(nodes: list[Territory]) -> list[dict[str, Any]]:
    """Nest a flat list of territory nodes; nodes whose parent is not in the list become roots."""
    by_id: dict[int, dict[str, Any]] = {n.pk: {"node": n, "children": []} for n in nodes}
    roots: list[dict[str, Any]] = []
    for n in nodes:
        parent = by_id.get(n.parent_id) if n.parent_id else None
        (parent["children"] if parent else roots).append(by_id[n.pk])
    return roots


@login_required
@permission_required(P_VIEW_TERRITORY, raise_exception=True)
def map_page(request: HttpRequest) -> HttpResponse:
    """Territory tree (the caller's subtree only) beside a map of the grids in scope."""
    nodes = list(selectors.territory_nodes(user=request.user))
    return render(
        request,
        "territory/map.html",
        {
            "tree": _tree(nodes),
            "grid_count": sum(1 for n in nodes if n.level == Level.GRID),
            "features": selectors.grid_feature_collection(user=request.user),
        },
    )


@login_required
@permission_required(P_VIEW_TERRITORY, raise_exception=True)
def grid_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One grid: code, type, community/street, staff, buildings, key-group counts, a small map."""
    try:
        grid = selectors.grid_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    boundary = selectors.grid_boundary_of(grid)
    features = (
        [
            {
                "type": "Feature",
                "id": grid.pk,
                "geometry": boundary.geojson,
                "properties": {"id": grid.pk, "code": grid.code, "name": grid.name},
            }
        ]
        if boundary is not None
        else []
    )
    community = grid.parent
    context: dict[str, Any] = {
        "grid": grid,
        "community": community,
        "street": community.parent if community is not None else None,
        "staff": selectors.grid_staff(grid=grid),
        "features": {"type": "FeatureCollection", "features": features},
    }
    for section in hooks.grid_page_sections():
        context.update(section(user=request.user, grid=grid))
    return render(request, "territory/grid.html", context)
