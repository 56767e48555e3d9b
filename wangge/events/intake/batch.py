"""Batched intake (E1): many reports at once — the 12345 work-order import, `POST /api/v1/events/batch/`.

The same rules as `services.event_intake` for each report (validation, idempotency by channel + external
id, locate, classify, propose urgency, likely-duplicate check, accept clock, two timeline entries), but
per batch: reference data is read once, grids come from one vectorised STRtree query, duplicate
candidates from one query per batch, and events, timeline entries and deadlines are written with bulk
inserts in one transaction with one audit row. A bad report is returned as that item's error and never
stops the others. If the bulk insert meets a unique conflict (a concurrent submission of the same work
order, or a tracking-code collision), that batch is redone one report at a time through `event_intake`,
which resolves each case exactly as the single path does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.audit.services import audit_entry, audit_record
from wangge.core.db.inserts import insert_family
from wangge.core.db.queries import rows_by_pk
from wangge.core.errors import InvalidInput, ServiceError
from wangge.territory.addresses import address_match_many
from wangge.territory.locator import locate_points
from wangge.territory.models import Building, Territory

from ..common import actor_fields, clock_fields
from ..models import Category, Event, Level, StageDeadline, TimelineEntry
from ..reference import Reference, reference
from ..sos import sos_watch_critical, sos_watch_wanted
from ..triage import classify_texts, dedupe, event_text, event_triage, propose_urgency
from .report import (
    EventInput,
    event_create,
    event_new,
    intake_existing,
    intake_key,
    replay_allowed_many,
    replay_refused,
    validate_input,
)

log = logging.getLogger(__name__)

# What a batch reads of the events its external ids already belong to (and `replay_allowed_many`).
_KNOWN_FIELDS = (
    "id",
    "channel",
    "external_id",
    "tracking_code",
    "needs_triage",
    "reporter_user_id",
    "path",
    "handler_user_id",
    "handler_unit_id",
)
BATCH_SIZE = 500  # reports per transaction
MAX_ITEMS = 5000  # per call (the API's limit; the 12345 import's file limit is the same)


@dataclass
class IntakeOutcome:
    """One report's result: the event (created now, or the one a retry points at) or the error."""

    event_id: int | None = None
    tracking_code: str = ""
    created: bool = False
    needs_triage: bool = False
    error: ServiceError | None = None


@dataclass
class _Pending:
    index: int
    data: EventInput
    event: Event
    duplicate: dict[str, Any] | None = None
    located_by: str = ""
    triage: dict[str, Any] = field(default_factory=dict)
    address_candidates: list[dict[str, Any]] = field(default_factory=list)


def event_intake_many(*, items: Sequence[EventInput], actor: Any = None) -> list[IntakeOutcome]:
    """Intake many reports; one outcome per item, in order. Idempotent per (channel, external id)."""
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"一次最多提交 {MAX_ITEMS} 条", code="too_many_items")
    ref = reference()
    outcomes: list[IntakeOutcome] = [IntakeOutcome() for _ in items]
    for start in range(0, len(items), BATCH_SIZE):
        part = list(enumerate(items[start : start + BATCH_SIZE], start))
        try:
            _batch(part, actor=actor, ref=ref, outcomes=outcomes)
        except IntegrityError:
            log.warning("batched intake met a unique conflict; redoing %d reports one by one", len(part))
            for i, data in part:
                outcomes[i] = _one(data, actor)
    return outcomes


def event_intake_one(
    *, data: EventInput, actor: Any = None, idempotency_key: str | None = None
) -> tuple[Event, bool]:
    """One report by the batch's rules (`services.event_intake` calls this): triage in memory, then a
    single transaction inserts the event already triaged with its timeline, clock and audit row.
    Returns (event, created); a retry (Idempotency-Key, channel + external id) returns the first event.

    Insert first, look up on conflict: the unique key / external id decides, so a first submission (the
    common case) costs no lookup, and a retry or a concurrent twin finds the winner's event."""
    ref = reference()
    category = validate_input(data, ref.active)
    key, fingerprint = intake_key(data=data, idempotency_key=idempotency_key)
    event = event_new(data=data, category=category, actor=actor, initial=ref.initial)
    event.idempotency_key = key
    if fingerprint:
        event.extra["_fp"] = fingerprint
    pending = [_Pending(0, data, event)]
    _triage(pending, ref, timezone.now())
    audit = audit_entry(
        actor=actor,
        action="event.create",
        obj=event,  # its id is filled in by the insert
        after={
            "channel": data.channel,
            "category": event.category.code if event.category else "",
            "grid": event.path,
            "needs_triage": event.needs_triage,
            "anonymous": data.anonymous,
        },
    )
    # The insert is atomic by itself; a 特急 report's SOS watch must be written with it or not at all.
    together = transaction.atomic() if sos_watch_wanted(events=[event]) else nullcontext()
    try:
        with together:
            _write_one(pending[0], actor=actor, ref=ref, audit=audit)
            sos_watch_critical(events=[event])
    except IntegrityError:  # a retry, or the same submission concurrently: the first one's event
        existing = intake_existing(data=data, actor=actor, key=key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, False
    return event, True


def _one(data: EventInput, actor: Any) -> IntakeOutcome:
    try:
        event, created = event_intake(data=data, actor=actor)
    except ServiceError as exc:
        return IntakeOutcome(error=exc)
    return IntakeOutcome(event.pk, event.tracking_code, created, event.needs_triage)


def _batch(
    part: list[tuple[int, EventInput]], *, actor: Any, ref: Reference, outcomes: list[IntakeOutcome]
) -> None:
    valid: list[tuple[int, EventInput, Category | None]] = []
    for i, data in part:
        try:
            valid.append((i, data, validate_input(data, ref.active)))
        except ServiceError as exc:
            outcomes[i] = IntakeOutcome(error=exc)
    # Idempotency: a work order already registered (or twice in this batch) points at its event.
    ext = {(d.channel, d.external_id) for _, d, _ in valid if d.external_id}
    known: dict[tuple[str, str | None], tuple[int, str, bool]] = {}
    if ext:
        rows = [
            e
            for e in Event.objects.filter(external_id__in={e for _, e in ext}).only(*_KNOWN_FIELDS)
            if (e.channel, e.external_id) in ext
        ]
        # A work order whose event the caller may not see (pk 0 below) is answered with a conflict
        # that names nothing about it.
        allowed = replay_allowed_many(events=rows, actor=actor)
        for e in rows:
            seen = e.pk in allowed
            known[(e.channel, e.external_id)] = (
                (e.pk, e.tracking_code, e.needs_triage) if seen else (0, "", False)
            )
    fresh: list[tuple[int, EventInput, Category | None]] = []
    first_of: dict[tuple[str, str], int] = {}
    repeats: list[tuple[int, int]] = []  # (item, the earlier item in this batch it repeats)
    for i, data, category in valid:
        key = (data.channel, data.external_id or "")
        if data.external_id and key in known:
            pk, code, triage = known[key]
            outcomes[i] = (
                IntakeOutcome(pk, code, False, triage) if pk else IntakeOutcome(error=replay_refused())
            )
        elif data.external_id and key in first_of:
            repeats.append((i, first_of[key]))
        else:
            if data.external_id:
                first_of[key] = i
            fresh.append((i, data, category))
    if not fresh:
        for i, first in repeats:
            outcomes[i] = IntakeOutcome(outcomes[first].event_id, outcomes[first].tracking_code, False)
        return
    now = timezone.now()
    pending = [
        _Pending(i, data, event_new(data=data, category=category, actor=actor, initial=ref.initial))
        for i, data, category in fresh
    ]
    _triage(pending, ref, now)
    with transaction.atomic():
        _write(pending, actor=actor, ref=ref)
        audit_record(
            actor=actor,
            action="event.create_batch",
            object_type="events.event",
            object_repr=f"批量受理 {len(pending)} 件",
            after={
                "created": [p.event.pk for p in pending],
                "channels": sorted({p.event.channel for p in pending}),
            },
        )
        sos_watch_critical(events=[p.event for p in pending])
    for p in pending:
        outcomes[p.index] = IntakeOutcome(p.event.pk, p.event.tracking_code, True, p.event.needs_triage)
    for i, first in repeats:
        outcomes[i] = IntakeOutcome(outcomes[first].event_id, outcomes[first].tracking_code, False)


def _write(pending: list[_Pending], *, actor: Any, ref: Reference) -> None:
    """Insert the triaged events, their two timeline entries (report, triage) and their accept clocks
    (the caller holds the transaction). Each event's `timeline` and `clocks` are left prefetched, so a
    detail view of a new event needs no further query for them."""
    Event.objects.bulk_create([p.event for p in pending])
    by_code = {p.event.tracking_code: p.event.pk for p in pending}
    patched = []
    for p in pending:  # a likely duplicate earlier in this same batch: its id is known only now
        dup = p.event.extra.get("likely_duplicate")
        if dup and dup["id"] is None:
            dup["id"] = p.triage["likely_duplicate"]["id"] = by_code[dup["tracking_code"]]
            patched.append(p.event)
    if patched:
        Event.objects.bulk_update(patched, ["extra"])
    entries: list[TimelineEntry] = []
    clocks: list[StageDeadline] = []
    reporter, system = actor_fields(actor), actor_fields(None)
    for p in pending:
        own, own_clocks = _rows(p, ref, reporter, system)
        entries += own
        clocks += own_clocks
        _prefetched(p.event, timeline=own, clocks=own_clocks)
    TimelineEntry.objects.bulk_create(entries)
    StageDeadline.objects.bulk_create(clocks)


def _write_one(p: _Pending, *, actor: Any, ref: Reference, audit: AuditEntry) -> None:
    """`_write` for a single report, with its audit row: one statement on PostgreSQL
    (`insert_family`), so a new report costs one round trip to the database."""
    entries, clocks = _rows(p, ref, actor_fields(actor), actor_fields(None))
    children = [(row, "event") for row in (*entries, *clocks)]
    insert_family(parent=p.event, children=[*children, (audit, "object_id")])
    _prefetched(p.event, timeline=entries, clocks=clocks)


def _rows(
    p: _Pending, ref: Reference, reporter: dict[str, Any], system: dict[str, Any]
) -> tuple[list[TimelineEntry], list[StageDeadline]]:
    """A new event's timeline entries (report, triage) and accept clock."""
    e = p.event
    entries = [
        TimelineEntry(
            event=e, action="report", to_status=ref.initial.code, data={"channel": e.channel}, **reporter
        ),
        TimelineEntry(event=e, action="triage", public=False, data=p.triage, **system),
    ]
    clocks = []
    if e.deadline and e.stage_started_at and e.warn_at:
        clocks.append(
            StageDeadline(
                event=e, stage=e.stage, started_at=e.stage_started_at, warn_at=e.warn_at, deadline=e.deadline
            )
        )
    return entries, clocks


def _prefetched(event: Event, **rows: list[Any]) -> None:
    """Leave `rows` as the new event's prefetched related objects (as `prefetch_related` would); a new
    event has no attachments, return visits or merged reports yet."""
    cache = event.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, objs in {"attachments": [], "return_visits": [], "merged": [], **rows}.items():
        qs = getattr(event, name).all()
        qs._result_cache = objs
        qs._prefetch_done = True
        cache[name] = qs


def _triage(pending: list[_Pending], ref: Reference, now: datetime) -> None:
    """`services.event_triage` for a batch, before anything is written."""
    _locate_all(pending)
    texts = [event_text(p.event.title, p.event.description) for p in pending]  # as in training
    for p, text, (suggested, confidence) in zip(pending, texts, classify_texts(texts), strict=True):
        e = p.event
        e.urgency = propose_urgency(text, e.urgency, e.category or suggested)
        if e.category is None and suggested is not None and confidence >= ref.threshold:
            e.category = ref.by_pk.get(suggested.pk, suggested)
        e.suggested_category = ref.by_pk.get(suggested.pk, suggested) if suggested else None
        e.confidence = confidence if suggested else None
        e.created_at = now
        for name, value in clock_fields(e, ref.initial.stage, now, ref.calendar, ref.limits).items():
            setattr(e, name, value)
    _find_duplicates(pending, now)
    for p in pending:
        e = p.event
        e.needs_triage = e.category_id is None or e.grid_id is None or p.duplicate is not None
        e.triaged_at = None if e.needs_triage else now
        if p.duplicate is not None:
            e.extra["likely_duplicate"] = dict(p.duplicate)
        p.triage = {
            "located_by": p.located_by,
            "grid": e.path,
            "suggested_category": ref.by_pk[e.suggested_category_id].code if e.suggested_category_id else "",
            "confidence": e.confidence or 0.0,
            "urgency": e.urgency,
            "needs_triage": e.needs_triage,
            "likely_duplicate": dict(p.duplicate) if p.duplicate else None,
        }
        if p.address_candidates:  # a weak address match: what a person may choose from
            p.triage["address_candidates"] = p.address_candidates


def _locate_all(pending: list[_Pending]) -> None:
    """Grid and building of each report, by the precedence of `triage.locate`: point, building,
    address. One vectorised point query; buildings in one query; the addresses through the in-memory
    address book (two queries for the rows they all matched)."""
    with_point = [p for p in pending if p.event.lat is not None and p.event.lng is not None]
    grid_ids: dict[int, int | None] = {}
    if with_point:
        found = locate_points([p.event.lng for p in with_point], [p.event.lat for p in with_point])
        grid_ids = {
            id(p): (int(g) if g is not None else None) for p, g in zip(with_point, found, strict=True)
        }
    building_ids = {p.event.building_id for p in pending if p.event.building_id}
    buildings = rows_by_pk(Building, building_ids)
    located: dict[int, tuple[Any, int | None, str]] = {}  # id(p) -> (building, grid id, how)
    by_address = []
    for p in pending:
        e = p.event
        building = buildings.get(e.building_id) if e.building_id else None
        grid_id, how = grid_ids.get(id(p)), "point"
        if grid_id is None and building is not None and building.grid_id:
            grid_id, how = building.grid_id, "building"
        located[id(p)] = (building, grid_id, how)
        if grid_id is None and e.address:
            by_address.append(p)
    # The address book (`territory.addresses`): in memory, two queries for the rows all addresses matched.
    for p, matched in zip(by_address, address_match_many([p.event.address for p in by_address]), strict=True):
        building = located[id(p)][0]
        if matched.best is not None and matched.best.grid is not None:
            located[id(p)] = (matched.best.building or building, matched.best.grid.pk, "address")
        else:
            p.address_candidates = [c.as_data() for c in matched.candidates]
    for p in pending:
        e = p.event
        building, grid_id, how = located[id(p)]
        e.building_id = building.pk if building is not None else e.building_id
        e.grid_id, p.located_by = grid_id, how if grid_id else ""
    grids = rows_by_pk(Territory, {p.event.grid_id for p in pending if p.event.grid_id})
    for p in pending:
        grid = grids.get(p.event.grid_id) if p.event.grid_id else None
        p.event.grid = grid
        if grid is not None:
            p.event.path, p.event.level = grid.code, Level.GRID
        # Not located: the path and level `event_new` gave it (the entering office's, or none).


def _find_duplicates(pending: list[_Pending], now: datetime) -> None:
    """`dedupe.find_duplicates` for a batch: one query for the open candidates near any of the reports,
    then the same scoring in memory, also against the reports earlier in this batch."""
    metres = float(settings.WANGGE_DEDUPE_METRES)
    window = timedelta(hours=float(settings.WANGGE_DEDUPE_HOURS))
    placed = [p for p in pending if p.event.lat is not None or p.event.building_id or p.event.address]
    cats = {p.event.category_id or p.event.suggested_category_id for p in placed} - {None}
    if not cats:
        return
    rows = dedupe.recent_nearby(
        box=dedupe.box_around(
            [(p.event.lat, p.event.lng) for p in placed if p.event.lat is not None],  # type: ignore[misc]
            metres,
        ),
        building_ids={p.event.building_id for p in placed if p.event.building_id},
        addresses={p.event.address for p in placed if p.event.address},
        since=now - window,
        category_ids=cats,  # type: ignore[arg-type]
        limit=dedupe.MAX_CANDIDATES * min(20, len(placed)),
    )
    grams = dedupe.Grams()
    reports: list[dedupe.Report] = [*rows, *(p.event for p in placed)]
    lats = [abs(x.lat) for x in reports if x.lat is not None]
    by_category: dict[int, dedupe.Nearby] = {}

    def nearby(key: int) -> dedupe.Nearby:
        if key not in by_category:
            by_category[key] = dedupe.Nearby(metres, max(lats, default=0.0))
        return by_category[key]

    for row in rows:
        key = row.category_id or row.suggested_category_id
        if key is not None:
            nearby(key).add(row)
    for p in placed:
        e = p.event
        key = e.category_id or e.suggested_category_id
        if key is None:
            continue
        best: tuple[float, float, int, dedupe.Report] | None = None
        for other in nearby(key).candidates(e):
            scored = dedupe.match(e, other, metres=metres, grams=grams)
            if scored is not None and (best is None or (-scored[0], scored[1]) < (-best[0], best[1])):
                best = (scored[0], scored[1], other.pk or 0, other)
        found = dedupe.likely_duplicate([(best[3], best[0])] if best else [])
        if found is not None:
            other, score = found
            p.duplicate = {"id": other.pk, "tracking_code": other.tracking_code, "score": score}
        nearby(key).add(e)  # later reports in this batch compare with this one


def event_intake(
    *, data: EventInput, actor: Any = None, idempotency_key: str | None = None
) -> tuple[Event, bool]:
    """What every channel calls: triage in memory, then one transaction writes the triaged report
    (`batch.event_intake_one`, idempotent). Should triage itself fail, the report is stored first
    (`event_create`) and stays `needs_triage` for a retry or a person: it is never lost."""
    try:
        return event_intake_one(data=data, actor=actor, idempotency_key=idempotency_key)
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001 - fall back to durable-first intake
        log.exception("in-memory triage failed; storing the report untriaged first")
    event, created = event_create(data=data, actor=actor, idempotency_key=idempotency_key)
    if created:
        try:
            event = event_triage(event_id=event.pk)
        except Exception:  # noqa: BLE001 - intake must not fail after the report is stored
            log.exception("triage failed for event %s; left in the triage queue", event.pk)
            event = Event.objects.select_related("status", "category").get(pk=event.pk)
    return event, created
