"""Likely duplicates of an event (E2): same category, same place, same time window, similar text.

Candidates come from one bounded query: created within settings.WANGGE_DEDUPE_HOURS of the event
(indexed created_at), same category or same suggested category, open, not merged, and either inside a
lat/lng bounding box of settings.WANGGE_DEDUPE_METRES around the point or at the same building or
address. The exact distance (haversine) and the text similarity (character-bigram Jaccard: Chinese
needs no word list) are then computed for those few rows in Python.
"""

import functools
import math
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Q, QuerySet

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.db.queries import Prepared, Shape
from wangge.core.errors import NotFound
from wangge.core.scope import path_in_scope, scope_q

from ..common import REJECTED_STATUS
from ..models import Event
from ..reference import reference

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = 111_320.0
# Never look at more than this many rows for one event (hot spots can have many reports).
MAX_CANDIDATES = 500
R = TypeVar("R")


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: "Report", b: "Report") -> float | None:
    if None in (a.lat, a.lng, b.lat, b.lng):
        return None
    return haversine_m(a.lat, a.lng, b.lat, b.lng)  # type: ignore[arg-type]


def bounding_box(lat: float, lng: float, metres: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing a circle of `metres` around the point."""
    dlat = metres / METRES_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlng = metres / (METRES_PER_DEGREE_LAT * cos_lat)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


# Left out of the text compared: whitespace (str.split) and these punctuation marks.
_PUNCTUATION = str.maketrans("", "", "，。！？、,.!?;；:：\"'“”（）()")


# Texts up to this length have their bigrams remembered (at most 1,024 of them, a few MB per process).
_REMEMBERED_TEXT = 300


def _bigrams(text: str) -> frozenset[str]:
    """The text's character bigrams. Remembered per process for usual report lengths: the same open
    reports are the candidates of every new report near them, and computing their bigrams was most of
    the cost of comparing."""
    text = text or ""
    return _remembered_bigrams(text) if len(text) <= _REMEMBERED_TEXT else _bigrams_of(text)


def _bigrams_of(text: str) -> frozenset[str]:
    chars = "".join(text.lower().translate(_PUNCTUATION).split())
    if len(chars) < 2:
        return frozenset(chars)
    return frozenset(map(str.__add__, chars, chars[1:]))


_remembered_bigrams = functools.lru_cache(maxsize=1024)(_bigrams_of)


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character bigrams of two texts, in [0, 1]."""
    return _jaccard(_bigrams(a), _bigrams(b))


def _jaccard(x: frozenset[str], y: frozenset[str]) -> float:
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


class Grams(dict[int, frozenset[str]]):
    """Bigrams per event id, computed once per call however many reports an event is compared with."""

    def of(self, event: "Report") -> frozenset[str]:
        key = id(event)
        grams = self.get(key)
        if grams is None:
            grams = self[key] = _bigrams(_text(event))
        return grams


def _text(event: "Report") -> str:
    return f"{event.title} {event.description}"


def box_around(points: list[tuple[float, float]], metres: float) -> list[float]:
    """[min_lat, max_lat, min_lng, max_lng] enclosing `metres` around every (lat, lng) point; [] for none."""
    if not points:
        return []
    boxes = [bounding_box(lat, lng, metres) for lat, lng in points]
    return [
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def place_q(*, box: list[float], building_ids: Collection[int], addresses: Collection[str]) -> list[Q]:
    """One condition per kind of place to compare: inside the lat/lng box (`box_around`), at one of the
    buildings, at one of the addresses; empty when there is no place to compare."""
    arms: list[Q] = []
    if box:
        arms.append(Q(lat__range=(box[0], box[1]), lng__range=(box[2], box[3])))
    if building_ids:
        arms.append(Q(building_id__in=building_ids))
    if addresses:
        arms.append(Q(address__in=addresses))
    return arms


def open_status_ids() -> list[int]:
    """Statuses a duplicate can still be merged into (from the per-process reference copy: no join to
    compile or run for every report)."""
    return [s.pk for s in reference().status_by_pk.values() if not s.is_closed and s.code != REJECTED_STATUS]


def open_candidates(
    places: list[Q],
    *,
    since: datetime,
    until: datetime | None = None,
    category_ids: Collection[int],
    open_ids: Collection[int],
) -> QuerySet[Event]:
    """Events in one of `open_ids` (`open_status_ids`), not merged, at one of the `places` (`place_q`),
    created in [since, until], of one of the categories (or, unclassified, suggested as one of them;
    any category when there are none). None at all without a place or an open status."""
    window = Q(created_at__gte=since) if until is None else Q(created_at__gte=since, created_at__lte=until)
    if category_ids:
        kinds = [
            Q(category_id__in=category_ids),
            Q(category__isnull=True, suggested_category_id__in=category_ids),
        ]
    else:
        kinds = [Q()]
    # Every (place, category) arm spelled out whole, so that PostgreSQL answers each from one index
    # (category, created_at, lat, lng, address) and ORs the few rows found. With the category and window
    # outside an OR of places, it read every recent report of the category from the table and filtered
    # the places there: 1.5–2.5 ms of database time per report once a category had a few hundred.
    if not places or not open_ids:
        return Event.objects.none()
    where = Q()
    for place in places:
        for kind in kinds:
            where |= place & kind & window
    return Event.objects.filter(where, master__isnull=True, status_id__in=open_ids)


class Candidate:
    """A recent report as the batch duplicate search reads it: a plain row, no model instance (a hot
    spot gives dozens per report, and intake reads them for every report)."""

    FIELDS = (
        "id",
        "tracking_code",
        "title",
        "description",
        "lat",
        "lng",
        "address",
        "building_id",
        "category_id",
        "suggested_category_id",
    )
    __slots__ = FIELDS[1:] + ("pk",)

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.pk,
            self.tracking_code,
            self.title,
            self.description,
            self.lat,
            self.lng,
            self.address,
            self.building_id,
            self.category_id,
            self.suggested_category_id,
        ) = row


# What the in-memory comparison reads of a report: an event, or a recent one as a plain row.
Report = Event | Candidate


def _recent_nearby(
    *,
    box: list[float],
    building_ids: list[int],
    addresses: list[str],
    since: datetime,
    category_ids: list[int],
    open_ids: list[int],
    limit: int,
) -> QuerySet[Any]:
    places = place_q(box=box, building_ids=building_ids, addresses=addresses)
    qs = open_candidates(places, since=since, category_ids=category_ids, open_ids=open_ids)
    return qs.values_list(*Candidate.FIELDS).order_by("-created_at")[:limit]


# Compiled once per shape (which of point, building, address; how many of each; the limit): intake
# runs it for every report, and building and compiling it anew cost ~1.4 ms of CPU each time.
_RECENT_NEARBY = Prepared(
    _recent_nearby,
    box=list[float],
    building_ids=list[int],
    addresses=list[str],
    since=datetime,
    category_ids=list[int],
    open_ids=list[int],
    limit=Shape,
)


def recent_nearby(
    *,
    box: list[float],
    building_ids: Collection[int],
    addresses: Collection[str],
    since: datetime,
    category_ids: Collection[int],
    limit: int,
) -> list[Candidate]:
    """Open, unmerged reports since `since` at one of the places, of one of the categories (see
    `open_candidates`), newest first, at most `limit`."""
    open_ids = open_status_ids()
    if not (box or building_ids or addresses) or not open_ids:
        return []
    rows = _RECENT_NEARBY.tuples(
        box=box,
        building_ids=sorted(building_ids),
        addresses=sorted(addresses),
        since=since,
        category_ids=sorted(category_ids),
        open_ids=open_ids,
        limit=limit,
    )
    return [Candidate(row) for row in rows]


def _candidates(event: Event) -> QuerySet[Event] | None:
    window = timedelta(hours=float(settings.WANGGE_DEDUPE_HOURS))
    address = event.address.strip()
    places = place_q(
        box=box_around(
            [(event.lat, event.lng)] if event.lat is not None and event.lng is not None else [],
            float(settings.WANGGE_DEDUPE_METRES),
        ),
        building_ids={event.building_id} if event.building_id else set(),
        addresses={address} if address else set(),
    )
    if not places:
        return None
    category_id = event.category_id or event.suggested_category_id
    qs = open_candidates(
        places,
        since=event.created_at - window,
        until=event.created_at + window,
        category_ids={category_id} if category_id else set(),
        open_ids=open_status_ids(),
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
        self.cells: dict[tuple[int, int], list[tuple[int, Report]]] = {}
        self.buildings: dict[int, list[tuple[int, Report]]] = {}
        self.addresses: dict[str, list[tuple[int, Report]]] = {}
        self.seq = 0

    def _cell(self, lat: float, lng: float) -> tuple[int, int]:
        return math.floor(lat / self.dlat), math.floor(lng / self.dlng)

    def add(self, event: Report) -> None:
        row = (self.seq, event)
        self.seq += 1
        if event.lat is not None and event.lng is not None:
            self.cells.setdefault(self._cell(event.lat, event.lng), []).append(row)
        if event.building_id:
            self.buildings.setdefault(event.building_id, []).append(row)
        address = event.address.strip()
        if address:
            self.addresses.setdefault(address, []).append(row)

    def candidates(self, event: Report) -> list[Report]:
        rows: dict[int, Report] = {}
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
    event: Report, other: Report, *, metres: float, grams: Grams | None = None
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


def likely_duplicate(candidates: list[tuple[R, float]]) -> tuple[R, float] | None:
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
