"""Map and grid pages. Reads go through the territory selectors (scoped to the caller); what the grid page
shows from apps above territory (buildings, key groups) comes from the sections they registered
(territory.hooks)."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from wangge.accounts.roles import P_VIEW_TERRITORY
from wangge.core.errors import InvalidInput, NotFound

from . import hooks, mapdata, selectors, tiles
from .models import Level, Territory

log = logging.getLogger(__name__)


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
    if not settings.WANGGE_TILE_URL and not tiles.basemap_path():
        # Said to the admin in the log, not to the worker on the page (who cannot change it).
        log.info("map without a base map: set WANGGE_BASEMAP_MBTILES (one file) or WANGGE_TILE_URL")
    return render(
        request,
        "territory/map.html",
        {
            "tree": _tree(nodes),
            "grid_count": sum(1 for n in nodes if n.level == Level.GRID),
            # Scoped: a grid worker gets their grid only, so the map opens on it.
            "features": selectors.grid_feature_collection(user=request.user),
            "layers": [
                {
                    "name": "places",
                    "label": gettext("楼栋/小区"),
                    "url": reverse("map-places"),
                    "min_zoom": 16,
                },
                *hooks.map_layers(user=request.user),
            ],
        },
    )


def _bad_request(exc: InvalidInput) -> JsonResponse:
    return JsonResponse({"code": exc.code, "message": str(exc.message), "details": {}}, status=400)


@require_GET
@login_required
@permission_required(P_VIEW_TERRITORY, raise_exception=True)
def map_places(request: HttpRequest) -> HttpResponse:
    """Buildings and compound outlines in ?bbox=w,s,e,n and the caller's scope (GeoJSON, bounded)."""
    try:
        bbox = mapdata.parse_bbox(
            request.GET.get("bbox"), required=True, max_degrees=mapdata.MAX_BBOX_DEGREES
        )
    except InvalidInput as exc:
        return _bad_request(exc)
    assert bbox is not None
    return JsonResponse(
        mapdata.places_feature_collection(user=request.user, bbox=bbox, limit=mapdata.MAX_BUILDINGS)
    )


@require_GET
@cache_control(public=True, max_age=86400)
def tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    """One base-map tile from the MBTiles file. Public like the report page (我要说) that shows the map to
    anyone: a street map holds nothing of the register."""
    data = tiles.read_tile(z, x, y)
    if data is None:
        return HttpResponse(status=404, content_type="text/plain")
    return HttpResponse(data, content_type=tiles.content_type(data))


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
