"""Triage of a stored report: locate it to a grid, classify it, propose urgency, flag a likely duplicate.
Below the confidence threshold, or without a grid, it stays in the human triage queue."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, NotFound
from wangge.territory.addresses import address_match
from wangge.territory.locator import locate_point
from wangge.territory.models import Building

from ..common import clock_fields, entry_office, timeline_append
from ..models import (
    Category,
    Event,
    Level,
    StageDeadline,
    Urgency,
)
from ..sos import watch_if_critical
from .classifier import classify_text, event_text, keyword_classify, suggest_urgency
from .dedupe import find_duplicates, likely_duplicate

log = logging.getLogger(__name__)


# Triage proposes a higher urgency when the text says so (it never lowers what the reporter chose).
_URGENCY_RANK: dict[str, int] = {Urgency.NORMAL: 0, Urgency.URGENT: 1, Urgency.CRITICAL: 2}


def classify(text: str) -> tuple[Category | None, float]:
    """The trained classifier when there is one, else keyword scoring (wangge.events.classifier)."""
    try:
        return classify_text(text)
    except Exception:  # noqa: BLE001 - a broken model must not stop intake
        log.exception("classifier failed; falling back to keywords")
        return keyword_classify(text)


def propose_urgency(text: str, current: str, category: Category | None = None) -> str:
    """The higher of `current` and what the text suggests (`classifier.suggest_urgency`): triage never
    lowers what the reporter chose."""
    suggested = suggest_urgency(text, category)
    if _URGENCY_RANK.get(suggested, 0) > _URGENCY_RANK.get(current, 0):
        return suggested
    return current


def locate(event: Event) -> tuple[Any, Any, str]:
    """(grid, building, how) for the event: coordinates first, then building, then the address."""
    grid, building, how, _ = locate_with_candidates(event)
    return grid, building, how


def locate_with_candidates(event: Event) -> tuple[Any, Any, str, list[dict[str, Any]]]:
    """`locate`, plus the buildings an address may mean when it matched none confidently (for the
    person who triages it; `territory.addresses`)."""
    building = None
    if event.building_id:
        building = Building.objects.select_related("grid").filter(pk=event.building_id).first()
    if event.lat is not None and event.lng is not None:
        grid = locate_point(lat=event.lat, lng=event.lng)
        if grid is not None:
            return grid, building, "point", []
    if building is not None and building.grid_id:
        return building.grid, building, "building", []
    address = (event.address or "").strip()
    if address:
        found = address_match(address)
        if found.best is not None:
            return found.best.grid, found.best.building or building, "address", []
        return None, building, "", [c.as_data() for c in found.candidates]
    return None, building, "", []


def event_triage(*, event_id: int) -> Event:
    """Locate to a grid, classify, propose urgency. Below the confidence threshold, or without a grid,
    the event stays in the human triage queue (needs_triage). Safe to run again while the event waits
    for acceptance (a no-op afterwards)."""
    event = (
        Event.objects.select_related("status", "category", "category__parent", "reporter_user__territory")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        raise NotFound("事件不存在", code="not_found")
    if not event.status.is_initial:
        return event  # already accepted or rejected by a person: nothing left to triage
    grid, building, how, address_candidates = locate_with_candidates(event)
    # The same text the model was trained on (`event_text`: an auto-title, the description's start, adds nothing).
    text = event_text(event.title, event.description)
    suggested, confidence = classify(text)
    urgency = propose_urgency(text, event.urgency, event.category or suggested)
    category = event.category or (suggested if suggested and confidence >= classify_threshold() else None)
    duplicate = _likely_duplicate(event, category, suggested, building)
    needs_triage = category is None or grid is None or duplicate is not None
    # Not located: it waits in the triage queue of the office that entered it (`entry_office`; none:
    # the district level), as at intake.
    path, level = (grid.code, Level.GRID) if grid else entry_office(event.reporter_user)
    fields: dict[str, Any] = {
        "suggested_category_id": suggested.pk if suggested else None,
        "confidence": confidence if suggested else None,
        "urgency": urgency,
        "category_id": category.pk if category else None,
        "needs_triage": needs_triage,
        "grid_id": grid.pk if grid else None,
        "path": path,
        "level": level or Level.GRID,
        "building_id": building.pk if building else event.building_id,
        "triaged_at": None if needs_triage else timezone.now(),
    }
    if duplicate is not None:
        fields["extra"] = {**(event.extra or {}), "likely_duplicate": duplicate}
    old_category_id, old_urgency = event.category_id, event.urgency
    event.category, event.urgency = category, urgency
    clock: dict[str, Any] = {}
    if (
        event.stage
        and event.stage_started_at
        and (old_category_id != event.category_id or old_urgency != urgency)
    ):
        clock = clock_fields(event, event.stage, event.stage_started_at)
        fields.update(clock)
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=event.version).update(
            **fields, version=F("version") + 1, updated_at=timezone.now()
        )
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        if clock.get("deadline"):
            StageDeadline.objects.filter(event=event, finished_at__isnull=True, stage=event.stage).update(
                deadline=clock["deadline"], warn_at=clock["warn_at"]
            )
        timeline_append(
            event=event,
            actor=None,
            action="triage",
            note="",
            public=False,
            data={
                "located_by": how,
                "grid": grid.code if grid else "",
                "suggested_category": suggested.code if suggested else "",
                "confidence": confidence,
                "urgency": urgency,
                "needs_triage": needs_triage,
                "likely_duplicate": duplicate,
                **({"address_candidates": address_candidates} if address_candidates else {}),
            },
        )
        event.refresh_from_db()
        audit_record(
            actor=None,
            action="event.triage",
            obj=event,
            after={
                "grid": event.path,
                "category": category.code if category else "",
                "needs_triage": needs_triage,
            },
        )
        watch_if_critical(event)
    return event


def _likely_duplicate(
    event: Event, category: Category | None, suggested: Category | None, building: Any
) -> dict[str, Any] | None:
    """An open report at the same place, same category, similar text: {id, tracking_code, score}."""
    probe = Event(
        pk=event.pk,
        lat=event.lat,
        lng=event.lng,
        address=event.address,
        building_id=building.pk if building is not None else event.building_id,
        category_id=category.pk if category else None,
        suggested_category_id=suggested.pk if suggested else None,
        title=event.title,
        description=event.description,
        created_at=event.created_at,
    )
    found = likely_duplicate(find_duplicates(event=probe, limit=1))
    if found is None:
        return None
    other, score = found
    return {"id": other.pk, "tracking_code": other.tracking_code, "score": score}


def classify_threshold() -> float:
    return float(settings.WANGGE_CLASSIFY_THRESHOLD)
