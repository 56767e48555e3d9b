"""Reads of the territory tree. Every selector that takes a user is limited to the user's territory.

Territory nodes are scoped by their code (which is their path): a grid worker sees their grid, community
staff their community and its grids, a street official the street, and so on down.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from wangge.core.errors import NotFound
from wangge.core.scope import scope_queryset

from .models import GridAssignment, GridBoundary, GridRedraw, Level, Territory


def _today() -> date:
    return timezone.localdate()


def territory_nodes(*, user: Any, on: date | None = None) -> QuerySet[Territory]:
    """Territory nodes in force today (or on `on`) inside the caller's scope, in code order."""
    qs = Territory.objects.active_on(on or _today()).select_related("parent")
    return scope_queryset(qs, user, field="code").order_by("code")


def territory_get(*, user: Any, pk: Any) -> Territory:
    """One node (current or retired) inside the caller's scope; NotFound otherwise."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("未找到该区划/网格", code="not_found")
    node = (
        scope_queryset(Territory.objects.select_related("parent", "parent__parent"), user, field="code")
        .filter(pk=pk)
        .first()
    )
    if node is None:
        raise NotFound("未找到该区划/网格", code="not_found")
    return node


def _boundaries_on(on: date) -> Prefetch:
    qs = GridBoundary.objects.filter(valid_from__lte=on).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    return Prefetch("boundaries", queryset=qs.order_by("-valid_from"), to_attr="active_boundaries")


def grid_list(*, user: Any, active_on: date | None = None) -> QuerySet[Territory]:
    """Grids in force on `active_on` (today) inside the caller's scope, with their boundary on that day.

    Each grid carries `active_boundaries` (a list with at most one GridBoundary); use `grid_boundary_of`.
    """
    on = active_on or _today()
    qs = (
        Territory.objects.filter(level=Level.GRID)
        .active_on(on)
        .select_related("parent", "parent__parent")
        .prefetch_related(_boundaries_on(on))
    )
    return scope_queryset(qs, user, field="code").order_by("code")


def grid_get(*, user: Any, pk: Any, active_on: date | None = None) -> Territory:
    """One grid (current or retired) inside the caller's scope, with its boundary on `active_on`."""
    node = territory_get(user=user, pk=pk)
    if node.level != Level.GRID:
        raise NotFound("未找到该网格", code="not_found")
    on = active_on or _today()
    if node.valid_to is not None and node.valid_to <= on:
        # A retired grid is shown with the last boundary it had.
        on = node.valid_to - timedelta(days=1)
    return (
        Territory.objects.select_related("parent", "parent__parent")
        .prefetch_related(_boundaries_on(on))
        .get(pk=node.pk)
    )


def grid_boundary_of(grid: Territory) -> GridBoundary | None:
    """The boundary prefetched by grid_list / grid_get (or the open one, read now)."""
    prefetched = getattr(grid, "active_boundaries", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return GridBoundary.objects.filter(grid=grid, valid_to__isnull=True).first()


def _node_ref(node: Territory | None) -> dict[str, str] | None:
    return {"code": node.code, "name": node.name} if node is not None else None


def grid_feature_collection(*, user: Any, active_on: date | None = None) -> dict[str, Any]:
    """The caller's grids as a GeoJSON FeatureCollection (WGS-84) for the map."""
    features = []
    for grid in grid_list(user=user, active_on=active_on):
        boundary = grid_boundary_of(grid)
        if boundary is None:
            continue
        community = grid.parent
        street = community.parent if community is not None else None
        features.append(
            {
                "type": "Feature",
                "id": grid.pk,
                "geometry": boundary.geojson,
                "properties": {
                    "id": grid.pk,
                    "code": grid.code,
                    "name": grid.name,
                    "grid_type": grid.grid_type,
                    "community": _node_ref(community),
                    "street": _node_ref(street),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def grid_staff(*, grid: Territory, on: date | None = None) -> QuerySet[GridAssignment]:
    """Staff assigned to `grid` on `on` (today): since ≤ on and (no end or end ≥ on)."""
    on = on or _today()
    return (
        GridAssignment.objects.filter(grid=grid, since__lte=on)
        .filter(Q(until__isnull=True) | Q(until__gte=on))
        .select_related("user")
        .order_by("duty", "since", "id")
    )


def grid_coverage(*, user: Any, community_code: str | None = None, on: date | None = None) -> list[Any]:
    """Gaps and overlaps per community inside the caller's scope (see territory.coverage)."""
    from .coverage import coverage_check

    communities = scope_queryset(Territory.objects.filter(level=Level.COMMUNITY), user, field="code")
    if community_code:
        communities = communities.filter(code=community_code)
    return coverage_check(community_codes=list(communities.values_list("code", flat=True)), on=on)


def grid_redraws(*, user: Any) -> QuerySet[GridRedraw]:
    """Redraws of communities inside the caller's scope, newest first."""
    return scope_queryset(GridRedraw.objects.all(), user).order_by("-effective_date", "-id")


def path_on(*, kind: str, pk: int, current_path: str, on: date) -> str:
    """The path an object had on day `on`, undoing the redraws that moved it after that day.

    kind is one of the keys of GridRedraw.moved["objects"]: building, compound, place, facility, party_org.
    (Dwellings, residents and occupancies follow their building.)
    """
    path = current_path
    for redraw in GridRedraw.objects.filter(effective_date__gt=on).order_by("-effective_date", "-id"):
        move = (redraw.moved.get("objects", {}).get(kind) or {}).get(str(pk))
        if move:
            path = move[0]
    return path
