"""Reads of events, always bounded by what the caller may see.

Visible = inside the caller's territory (event.path, staff roles only; a report not located to a grid
has the path of the office that entered it, and one entered by nobody's office none: the district level),
OR the caller handles it (handler_user, a member of handler_unit, or of a unit a whistle summoned), OR the
caller is the staff account that entered it (reporter_user). Anything else is a 404. Residents follow
their reports through the tracking code.
"""

import functools
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.db.queries import Prepared, one_or_none, related_rows_json
from wangge.core.errors import NotFound
from wangge.core.scope import q_everything, scope_q
from wangge.territory.models import CODE_LENGTH, Level, Territory

from .common.visibility import MAX_ID, may_see, unit_ids
from .display import event_public_display
from .models import (
    Attachment,
    Category,
    Event,
    HandlingUnit,
    ReturnVisit,
    StageDeadline,
    TimelineEntry,
    Warning,
    WhistleSummon,
)
from .reference import reference

_RELATED = ("status", "category", "suggested_category", "grid", "handler_unit", "handler_user")


_SUMMONED_AS_IDS = 5000


def visible_q(user: Any) -> Q:
    """The Q of events `user` may see."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    if getattr(user, "is_superuser", False):
        return q_everything()  # not Q(): an empty Q vanishes when a caller ORs it with more
    q = Q(handler_user=user)
    units = unit_ids(user)
    if units:
        q |= Q(handler_unit_id__in=units)
        # The events its units were summoned to, as ids: an OR with a subquery cannot use the indexes,
        # and over a long history PostgreSQL then filtered every event (2.4 s for a department's list
        # over 1,000,000 events, 6 ms with the ids).
        summoned = (
            WhistleSummon.objects.filter(unit_id__in=units)
            .order_by()
            .values_list("whistle__event_id", flat=True)
            .distinct()
        )
        ids = list(summoned[:_SUMMONED_AS_IDS])  # distinct: a full slice means there may be more
        if len(ids) >= _SUMMONED_AS_IDS:
            q |= Q(pk__in=summoned)  # a department summoned this often: the subquery after all
        elif ids:
            q |= Q(pk__in=ids)
    if getattr(user, "role", "") in STAFF_ROLES:
        q |= Q(reporter_user=user)  # the staff account that entered it (`visibility.seen_by_columns`)
        q |= scope_q(user) & ~Q(path="")
        territory = getattr(user, "territory", None)
        if territory is not None and territory.level == "district":
            q |= Q(path="")
    return q


def events_visible(*, user: Any) -> QuerySet[Event]:
    return Event.objects.filter(visible_q(user)).select_related(*_RELATED)


def _truthy(value: Any) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


def event_list(
    *,
    user: Any,
    status: str = "",
    category: str = "",
    grid: str = "",
    overdue: Any = None,
    warning: str = "",
    channel: str = "",
    q: str = "",
    needs_triage: Any = None,
    level: str = "",
    path: str = "",
    mine: Any = None,
    merged: Any = None,
) -> QuerySet[Event]:
    """Scoped list with filters: status (codes, comma-separated), category (code, with subcategories),
    grid (id or code), overdue, warning (yellow/red), channel, q (text or tracking code), needs_triage,
    level, path prefix, mine (I handle it), merged (duplicates merged into a master)."""
    qs = events_visible(user=user)
    if status:
        qs = qs.filter(status__code__in=[s.strip() for s in status.split(",") if s.strip()])
    if category:
        codes = _category_codes(category)
        qs = qs.filter(category__code__in=codes) if codes else qs.none()
    if grid:
        # A number shorter than a grid code is the grid's id.
        by_id = grid.isdigit() and len(grid) < CODE_LENGTH[Level.GRID]
        qs = qs.filter(grid_id=int(grid)) if by_id else qs.filter(grid__code=grid)
    now = timezone.now()
    flag = _truthy(overdue)
    if flag is True:
        qs = qs.filter(deadline__lt=now, status__is_closed=False)
    elif flag is False:
        qs = qs.exclude(deadline__lt=now, status__is_closed=False)
    if warning:
        if warning == Warning.RED:
            qs = qs.filter(Q(warning=Warning.RED) | Q(deadline__lt=now), status__is_closed=False)
        elif warning == Warning.YELLOW:
            qs = qs.filter(
                Q(warning=Warning.YELLOW) | Q(warn_at__lt=now, deadline__gte=now), status__is_closed=False
            ).exclude(warning=Warning.RED)
        else:
            qs = qs.filter(warning=warning)
    if channel:
        qs = qs.filter(channel=channel)
    q = q.strip()
    if q:
        qs = qs.filter(text_q(q))
    flag = _truthy(needs_triage)
    if flag is not None:
        qs = qs.filter(needs_triage=flag)
    if level:
        qs = qs.filter(level=level)
    if path:
        qs = qs.filter(path__startswith=path)
    flag = _truthy(merged)
    if flag is not None:
        qs = qs.filter(master__isnull=not flag)
    if _truthy(mine):
        units = unit_ids(user)
        qs = qs.filter(Q(handler_user=user) | Q(handler_unit_id__in=units))
    return newest_first(qs, searched=bool(q))


def text_q(term: str) -> Q:
    """Events with `term` as tracking code, or in the title or description (a stripped, non-empty term)."""
    # Chinese has no letter case: a term without cased letters finds the same rows with a plain LIKE, and
    # PostgreSQL need not upper-case every title and description (2–3x less time per row).
    like = "icontains" if term.lower() != term.upper() else "contains"
    return Q(tracking_code=term.upper()) | Q(**{f"title__{like}": term}) | Q(**{f"description__{like}": term})


def newest_first(qs: QuerySet[Event], *, searched: bool) -> QuerySet[Event]:
    """Newest first. A text search matches few rows and the planner cannot tell how few: ordered by
    created_at, PostgreSQL walked that index backwards through every event hoping to fill a page (2.5 s
    over 1,000,000 for a term found 24 times). Sorted by an expression, it filters first (in parallel),
    then sorts the matches."""
    if searched:
        return qs.order_by(Coalesce("created_at", "created_at").desc(), "-pk")
    return qs.order_by("-created_at", "-pk")


def _category_codes(code: str) -> list[str]:
    """The category and all its descendants."""
    root = Category.objects.filter(code=code).first()
    if root is None:
        return []
    by_parent: dict[int | None, list[Category]] = {}
    for cat in Category.objects.all():
        by_parent.setdefault(cat.parent_id, []).append(cat)
    out, todo = [], [root]
    while todo:
        node = todo.pop()
        out.append(node.code)
        todo.extend(by_parent.get(node.pk, []))
    return out


def merged_events(*, user: Any, master: Event) -> QuerySet[Event]:
    """The reports merged into `master` that `user` may see (a duplicate from another grid is left out)."""
    return events_visible(user=user).filter(master=master).order_by("pk")


def _event_or_404(user: Any, pk: Any, fetch: Any) -> Event:
    """`fetch(pk)` (one event or None) for a well-formed id, if `user` may see it; else NotFound."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("事件不存在", code="not_found") from None
    event = fetch(pk) if 0 < pk <= MAX_ID else None
    if event is None or not may_see(user, event):
        raise NotFound("事件不存在", code="not_found")
    return event


def event_get(*, user: Any, pk: Any) -> Event:
    """One event the user may see (NotFound otherwise, also for ids that do not exist)."""
    return _event_or_404(
        user, pk, lambda pk: one_or_none(Event.objects.select_related(*_RELATED).filter(pk=pk))
    )


def related_count(model: Any, fk: str) -> Coalesce:
    """COUNT(*) of `model` rows whose `fk` is the outer event, as a subquery (0 when none)."""
    rows = model.objects.filter(**{fk: OuterRef("pk")}).order_by().values(fk)
    return Coalesce(Subquery(rows.annotate(c=Count("pk")).values("c")[:1]), 0)


def event_reloaded(event: Event, *, created: bool = False) -> Event:
    """The event with its related rows for display. A report intake has just `created` carries all of
    them already (status, categories, grid, timeline, clocks; no handler yet) and is returned as is;
    otherwise it is read fresh, keeping what intake left prefetched."""
    if created and "timeline" in getattr(event, "_prefetched_objects_cache", {}):
        return event
    fresh = Event.objects.select_related(*_RELATED).get(pk=event.pk)
    cached = getattr(event, "_prefetched_objects_cache", None)
    if cached:
        fresh._prefetched_objects_cache = dict(cached)  # type: ignore[attr-defined]
    return fresh


# Children the detail read brings along as JSON on PostgreSQL (`display._related` unpacks them):
# every detail shows them, and each separate read was a round trip of its own.
DETAIL_JSON = {"clocks": StageDeadline, "timeline": TimelineEntry}


@functools.cache
def _detail_queryset(vendor: str) -> QuerySet[Event]:
    """Built once per process and cloned per request (building the three count subqueries cost as much
    as running the query). Status and categories come from the reference cache, not joins."""
    packed = {
        f"{name}_json": related_rows_json(model, "event", vendor) for name, model in DETAIL_JSON.items()
    }
    return Event.objects.select_related("grid", "handler_unit", "handler_user").annotate(
        attachments_n=related_count(Attachment, "event"),
        return_visits_n=related_count(ReturnVisit, "event"),
        merged_n=related_count(Event, "master"),
        **{name: sub for name, sub in packed.items() if sub is not None},
    )


def _attach_reference(event: Event) -> None:
    """Set status, category and suggested category from this process's reference copy (shared,
    read-only objects); one it does not know yet (created in another process moments ago) is left to
    load from the database on first use."""
    ref = reference()
    for name in ("status", "category", "suggested_category"):
        pk = getattr(event, f"{name}_id")
        obj = (ref.status_by_pk if name == "status" else ref.by_pk).get(pk) if pk is not None else None
        if pk is None or obj is not None:
            setattr(event, name, obj)


# The detail read is the busiest query of the API; compiled once (see core.queries.Prepared).
_DETAIL = Prepared(lambda pk: _detail_queryset(connection.vendor).filter(pk=pk)[:1], pk=int)


def event_get_detail(*, user: Any, pk: Any) -> Event:
    """`event_get` for the detail view: also how many attachments, return visits and merged duplicates
    it has (`display.event_detail` skips the query for any that has none)."""
    event = _event_or_404(user, pk, lambda pk: _DETAIL.one(pk=pk))
    _attach_reference(event)
    return event


_TRACKING_CODE_MAX = Event._meta.get_field("tracking_code").max_length or 16
_BY_TRACKING_CODE = Prepared(
    lambda code: Event.objects.select_related(
        "status", "category", "master", "master__status", "master__category"
    ).filter(tracking_code=code)[:1],
    code=str,
)


def event_by_tracking_code(*, tracking_code: str) -> Event:
    """The event of a public tracking code (unique; compiled once: residents look codes up often)."""
    code = (tracking_code or "").strip().upper()
    # A code no event can have (too long, control characters such as NUL, which PostgreSQL refuses
    # in text) is simply not found.
    if len(code) > _TRACKING_CODE_MAX or not code.isprintable():
        raise NotFound("查询码不存在", code="not_found")
    event = _BY_TRACKING_CODE.one(code=code)
    if event is None:
        raise NotFound("查询码不存在", code="not_found")
    return event


def event_public(*, tracking_code: str) -> dict[str, Any]:
    """The anonymised tracking view (a merged duplicate shows its master's progress)."""
    return event_public_display(event_by_tracking_code(tracking_code=tracking_code))


def my_reports(*, user: Any) -> QuerySet[Event]:
    """The reports the signed-in account filed itself (我的上报), newest first. Scoped by identity, not
    territory: a resident sees exactly what they reported, wherever it happened, and nothing else."""
    if not getattr(user, "is_authenticated", False):
        return Event.objects.none()
    return (
        Event.objects.filter(reporter_user=user)
        .select_related("status", "category", "master__status", "master__category")
        .order_by("-created_at", "-pk")
    )


def my_tasks(*, user: Any) -> QuerySet[Event]:
    """Open events waiting for this user: what they handle, plus (staff) events in their territory that
    wait for acceptance, dispatch at their level, or verification."""
    units = unit_ids(user)
    mine = Q(handler_user=user) | Q(handler_unit_id__in=units)
    q = mine & Q(status__code__in=["dispatched", "handling", "suspended"])
    if getattr(user, "role", "") in STAFF_ROLES:
        territory = getattr(user, "territory", None)
        level = territory.level if territory is not None else ""
        # Waiting for 核查: not the handler's own work, which someone else verifies (common.actions).
        verify = Q(status__code__in=["handled", "verifying"]) & ~Q(handler_user=user)
        here = Q(status__code="accepted", level=level) | verify
        if level == "grid":
            here |= Q(status__code="pending")
        q |= here & visible_q(user)
    return (
        Event.objects.filter(q & visible_q(user), master__isnull=True)
        .select_related(*_RELATED)
        .order_by("deadline", "created_at")
    )


def triage_queue(*, user: Any) -> QuerySet[Event]:
    """Events waiting for a person to locate/classify them (below the confidence threshold)."""
    return (
        events_visible(user=user)
        .filter(needs_triage=True, status__is_initial=True, master__isnull=True)
        .order_by("created_at")
    )


def overdue_board(*, user: Any) -> QuerySet[Event]:
    """Open events with a yellow warning or past their deadline, most urgent first."""
    now = timezone.now()
    return (
        events_visible(user=user)
        .filter(status__is_closed=False, master__isnull=True)
        .filter(Q(warning__in=[Warning.YELLOW, Warning.RED]) | Q(warn_at__lt=now))
        .order_by("deadline")
    )


def open_counts_queryset(*, user: Any) -> QuerySet[Any]:
    """Open and overdue counts per grid id, as a queryset (the dashboard; EXPLAIN in bench/intake)."""
    return (
        Event.objects.filter(visible_q(user))
        .filter(closed_at__isnull=True, master__isnull=True, grid__isnull=False)
        .values("grid_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(deadline__lt=timezone.now())))
        .order_by()
    )


def open_counts_by_grid(*, user: Any) -> list[dict[str, Any]]:
    """Per grid: open and overdue counts (dashboard).

    `closed_at IS NULL` is "open" (services set it on entering a closed status and clear it on leaving),
    so the count reads the partial index `event_open_grid_idx` instead of joining statuses over every
    event ever reported.
    """
    rows = list(open_counts_queryset(user=user))
    grids = {g.pk: g for g in Territory.objects.filter(pk__in=[r["grid_id"] for r in rows])}
    out = [
        {
            "grid": r["grid_id"],
            "grid_code": grids[r["grid_id"]].code,
            "grid_name": grids[r["grid_id"]].name,
            "open": r["open"],
            "overdue": r["overdue"],
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: r["grid_code"])


def return_visits_open(*, user: Any) -> QuerySet[ReturnVisit]:
    """Return visits (回访) not done yet on events the user may see. Being the assignee is not enough: a
    visit whose assignee has since moved out of the event's territory is listed for the staff who now
    hold it (and can complete it), not for the former assignee, who could not."""
    return (
        ReturnVisit.objects.filter(done_at__isnull=True)
        .filter(event__in=Event.objects.filter(visible_q(user)))
        .select_related("event", "assigned_to")
        .order_by("due", "pk")
    )


def units_for_event(*, event: Event) -> list[HandlingUnit]:
    """Active handling units that cover where the event happened (their path is a prefix of it)."""
    path = event.path or ""
    units = HandlingUnit.objects.filter(active=True).order_by("kind", "name")
    return [u for u in units if path.startswith(u.path) or not path]


def dispatch_units(*, event: Event) -> QuerySet[HandlingUnit]:
    """Units that can take this event: those at or above its place, and those inside its community."""
    prefixes = {event.path[:n] for n in CODE_LENGTH.values() if len(event.path) >= n}
    q = Q(path__in=prefixes) | Q(path="")
    community = CODE_LENGTH[Level.COMMUNITY]
    if len(event.path) >= community:
        q |= Q(path__startswith=event.path[:community])
    return HandlingUnit.objects.filter(q, active=True).order_by("kind", "name")


def whistle_units(*, event: Event) -> QuerySet[HandlingUnit]:
    """Units a whistle may summon: the dispatch candidates without property companies."""
    return dispatch_units(event=event).exclude(kind=HandlingUnit.Kind.PROPERTY)


MAP_MAX_EVENTS = 500


def map_events(
    *, user: Any, bbox: tuple[float, float, float, float] | None = None, limit: int = MAP_MAX_EVENTS
) -> tuple[list[Event], int]:
    """Open events with a point, visible to `user` (and inside `bbox` = w,s,e,n when given), newest first:
    at most `limit` of them, and how many there are in all (the map says how many it leaves off)."""
    qs = events_visible(user=user).filter(
        status__is_closed=False, master__isnull=True, lat__isnull=False, lng__isnull=False
    )
    if bbox is not None:
        w, s, e, n = bbox
        qs = qs.filter(lat__gte=s, lat__lte=n, lng__gte=w, lng__lte=e)
    rows = list(qs.order_by("-created_at", "-pk")[:limit])
    total = len(rows) if len(rows) < limit else qs.order_by().count()
    return rows, total
