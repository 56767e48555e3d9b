"""Likely duplicates of an event (E2): same category, same place, same time window, similar text.

Candidates come from one bounded query: created within settings.WANGGE_DEDUPE_HOURS of the event
(indexed created_at), same category or same suggested category, open, not merged, and either inside a
lat/lng bounding box of settings.WANGGE_DEDUPE_METRES around the point or at the same building or
address. The exact distance (haversine) and the text similarity (character-bigram Jaccard: Chinese
needs no word list) are then computed for those few rows in Python.
"""

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.errors import NotFound
from wangge.core.queries import Prepared
from wangge.core.scope import path_in_scope, scope_q

from .models import Event
from .reference import reference

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = 111_320.0
# Never look at more than this many rows for one event (hot spots can have many reports).
MAX_CANDIDATES = 500
REJECTED_STATUS = "rejected"


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: Event, b: Event) -> float | None:
    if None in (a.lat, a.lng, b.lat, b.lng):
        return None
    return haversine_m(a.lat, a.lng, b.lat, b.lng)  # type: ignore[arg-type]


def bounding_box(lat: float, lng: float, metres: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing a circle of `metres` around the point."""
    dlat = metres / METRES_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlng = metres / (METRES_PER_DEGREE_LAT * cos_lat)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def _bigrams(text: str) -> set[str]:
    chars = [
        c for c in (text or "").lower() if not c.isspace() and c not in "，。！？、,.!?;；:：\"'“”（）()"
    ]
    if len(chars) < 2:
        return set(chars)
    return {chars[i] + chars[i + 1] for i in range(len(chars) - 1)}


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character bigrams of two texts, in [0, 1]."""
    return _jaccard(_bigrams(a), _bigrams(b))


def _jaccard(x: set[str], y: set[str]) -> float:
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


class Grams(dict[int, set[str]]):
    """Bigrams per event id, computed once per call however many reports an event is compared with."""

    def of(self, event: Event) -> set[str]:
        key = id(event)
        grams = self.get(key)
        if grams is None:
            grams = self[key] = _bigrams(_text(event))
        return grams


def _text(event: Event) -> str:
    return f"{event.title} {event.description}"


def place_q(
    *, points: list[tuple[float, float]], building_ids: set[int], addresses: set[str], metres: float
) -> Q | None:
    """Rows near any of the (lat, lng) points (one box enclosing `metres` around all of them), at one of
    the buildings or at one of the addresses; None when there is no place to compare."""
    where = Q()
    if points:
        boxes = [bounding_box(lat, lng, metres) for lat, lng in points]
        where |= Q(
            lat__range=(min(b[0] for b in boxes), max(b[1] for b in boxes)),
            lng__range=(min(b[2] for b in boxes), max(b[3] for b in boxes)),
        )
    if building_ids:
        where |= Q(building_id__in=building_ids)
    if addresses:
        where |= Q(address__in=addresses)
    return where if (points or building_ids or addresses) else None


def open_candidates(
    where: Q, *, since: datetime, until: datetime | None = None, category_ids: set[int]
) -> QuerySet[Event]:
    """Open, unmerged, not rejected events matching `where`, created in [since, until], of one of the
    categories (or, unclassified, suggested as one of them; any category when the set is empty)."""
    # Open statuses from the per-process reference copy: no join to compile or run for every report.
    open_ids = [
        s.pk for s in reference().status_by_pk.values() if not s.is_closed and s.code != REJECTED_STATUS
    ]
    qs = Event.objects.filter(where, created_at__gte=since, master__isnull=True, status_id__in=open_ids)
    if until is not None:
        qs = qs.filter(created_at__lte=until)
    if category_ids:
        qs = qs.filter(
            Q(category_id__in=category_ids) | Q(category__isnull=True, suggested_category_id__in=category_ids)
        )
    return qs


def _candidates(event: Event) -> QuerySet[Event] | None:
    window = timedelta(hours=float(settings.WANGGE_DEDUPE_HOURS))
    address = event.address.strip()
    where = place_q(
        points=[(event.lat, event.lng)] if event.lat is not None and event.lng is not None else [],
        building_ids={event.building_id} if event.building_id else set(),
        addresses={address} if address else set(),
        metres=float(settings.WANGGE_DEDUPE_METRES),
    )
    if where is None:
        return None
    category_id = event.category_id or event.suggested_category_id
    qs = open_candidates(
        where,
        since=event.created_at - window,
        until=event.created_at + window,
        category_ids={category_id} if category_id else set(),
    ).exclude(pk=event.pk)
    return qs.select_related("status", "category").order_by("-created_at")[:MAX_CANDIDATES]


def find_duplicates(*, event: Event, limit: int = 5) -> list[tuple[Event, float]]:
    """Best duplicate candidates of `event` as (event, text similarity), most similar first.

    Not scoped: intake uses it for every event. Callers showing results to a person go through
    `duplicate_candidates`.
    """
    qs = _candidates(event)
    if qs is None:
        return []
    metres = float(settings.WANGGE_DEDUPE_METRES)
    grams = Grams()
    found: list[tuple[Event, float, float]] = []
    for other in qs:
        scored = match(event, other, metres=metres, grams=grams)
        if scored is not None:
            found.append((other, *scored))
    found.sort(key=lambda row: (-row[1], row[2], -row[0].pk))
    return [(other, score) for other, score, _ in found[: max(0, limit)]]


class Nearby:
    """Reports indexed so that only those that can be at the same place are compared: points in cells at
    least `metres` wide (a match lies in the 3 × 3 cells around a point), plus building and address.
    `candidates` keeps the order reports were added in, so ties resolve as a plain scan would."""

    def __init__(self, metres: float, max_abs_lat: float) -> None:
        self.dlat = max(metres, 1.0) / METRES_PER_DEGREE_LAT
        # Cells are widest in degrees where a degree of longitude is shortest: no neighbour is missed.
        self.dlng = max(metres, 1.0) / (
            METRES_PER_DEGREE_LAT * max(math.cos(math.radians(max_abs_lat)), 1e-6)
        )
        self.cells: dict[tuple[int, int], list[tuple[int, Event]]] = {}
        self.buildings: dict[int, list[tuple[int, Event]]] = {}
        self.addresses: dict[str, list[tuple[int, Event]]] = {}
        self.seq = 0

    def _cell(self, lat: float, lng: float) -> tuple[int, int]:
        return math.floor(lat / self.dlat), math.floor(lng / self.dlng)

    def add(self, event: Event) -> None:
        row = (self.seq, event)
        self.seq += 1
        if event.lat is not None and event.lng is not None:
            self.cells.setdefault(self._cell(event.lat, event.lng), []).append(row)
        if event.building_id:
            self.buildings.setdefault(event.building_id, []).append(row)
        address = event.address.strip()
        if address:
            self.addresses.setdefault(address, []).append(row)

    def candidates(self, event: Event) -> list[Event]:
        rows: dict[int, Event] = {}
        if event.lat is not None and event.lng is not None:
            ci, cj = self._cell(event.lat, event.lng)
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    rows.update(self.cells.get((ci + di, cj + dj), ()))
        if event.building_id:
            rows.update(self.buildings.get(event.building_id, ()))
        address = event.address.strip()
        if address:
            rows.update(self.addresses.get(address, ()))
        return [rows[k] for k in sorted(rows)]


def match(
    event: Event, other: Event, *, metres: float, grams: Grams | None = None
) -> tuple[float, float] | None:
    """(text similarity, distance in metres) of `other` as a duplicate of `event`; None when it is not at
    the same place (same building, same address, or within `metres`). Category and time window are the
    caller's filter. `grams`: the caller's bigram memo, when it compares many pairs."""
    same_place = (event.building_id is not None and other.building_id == event.building_id) or (
        bool(event.address.strip()) and other.address == event.address.strip()
    )
    dist = distance_m(event, other)
    if not same_place and (dist is None or dist > metres):
        return None
    grams = grams if grams is not None else Grams()
    score = round(_jaccard(grams.of(event), grams.of(other)), 3)
    return score, dist if dist is not None else 0.0


def likely_duplicate(candidates: list[tuple[Event, float]]) -> tuple[Event, float] | None:
    """The best candidate when it is similar enough to hold the report for a person (merge or not)."""
    if candidates and candidates[0][1] >= float(settings.WANGGE_DEDUPE_SIMILARITY):
        return candidates[0]
    return None


# --- scoped reads -----------------------------------------------------------------------------------


def _is_staff(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in STAFF_ROLES)


def _district_user(user: Any) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    territory = getattr(user, "territory", None)
    return territory is not None and territory.level == "district"


def event_visible(user: Any, event: Event) -> bool:
    """Staff see events inside their territory; events not located yet belong to the district centre."""
    if not _is_staff(user):
        return False
    if not event.path:
        return _district_user(user)
    return path_in_scope(user, event.path)


def events_in_scope(user: Any) -> QuerySet[Event]:
    """Events a staff member may triage/merge (same rule as `event_visible`)."""
    if not _is_staff(user):
        return Event.objects.none()
    q = scope_q(user)
    if _district_user(user):
        q |= Q(path="")
    return Event.objects.filter(q)


def likely_duplicates_visible(*, user: Any, events: list[Event]) -> dict[int, dict[str, Any]]:
    """event id -> its likely duplicate ({id, tracking_code, score}) where the user may see that one too:
    a report near a grid boundary can resemble an event of a neighbouring grid outside the user's scope."""
    marked = {e.pk: e.extra["likely_duplicate"] for e in events if (e.extra or {}).get("likely_duplicate")}
    visible = visible_ids(user, {d["id"] for d in marked.values()})
    return {pk: dup for pk, dup in marked.items() if dup["id"] in visible}


# An event's path by id (compiled once: the event detail asks it whenever triage noted a duplicate).
_PATH = Prepared(lambda pk: Event.objects.filter(pk=pk).only("path"), pk=int)


def visible_ids(user: Any, ids: set[int]) -> set[int]:
    """The ids among `ids` of events the user may triage/merge (`event_visible`); no query for none."""
    if not ids or not _is_staff(user):
        return set()
    if len(ids) == 1:
        rows = _PATH.rows(pk=next(iter(ids)))
    else:
        rows = list(Event.objects.filter(pk__in=ids).only("path"))
    return {e.pk for e in rows if event_visible(user, e)}


def triage_event_get(*, user: Any, pk: Any) -> Event:
    """One event the caller may triage; NotFound when unknown or outside scope (never 403)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("事件不存在", code="not_found")
    event = Event.objects.select_related("status", "category", "suggested_category").filter(pk=pk).first()
    if event is None or not event_visible(user, event):
        raise NotFound("事件不存在", code="not_found")
    return event


def duplicate_candidates(*, user: Any, event_id: Any, limit: int = 5) -> list[tuple[Event, float]]:
    """Likely duplicates of one event, limited to what the caller may see."""
    event = triage_event_get(user=user, pk=event_id)
    rows = find_duplicates(event=event, limit=MAX_CANDIDATES)
    return [(other, score) for other, score in rows if event_visible(user, other)][:limit]
