"""The stage clock of an event: which time limit applies, and the deadline it gives on the working-day
calendar (stored on the event row and as StageDeadline rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wangge.clock.calendar import WorkCalendar

from ..models import (
    Category,
    Event,
    StageDeadline,
    TimeLimit,
    Warning,
)
from ..reference import reference


def time_limit_for(
    *, category: Category | None, urgency: str, stage: str, limits: Sequence[TimeLimit] | None = None
) -> TimeLimit | None:
    """Most specific limit: category (or its nearest ancestor) beats any; urgency beats any.
    `limits`: every TimeLimit, preloaded by a batch."""
    chain: list[int | None] = []
    node = category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    chain.append(None)
    if limits is None:
        limits = list(TimeLimit.objects.filter(stage=stage, urgency__in=[urgency, ""]))
    best, best_rank = None, None
    for lim in limits:
        if lim.stage != stage or lim.urgency not in (urgency, "") or lim.category_id not in chain:
            continue
        rank = (chain.index(lim.category_id), 0 if lim.urgency else 1)
        if best_rank is None or rank < best_rank:
            best, best_rank = lim, rank
    return best


def clock_fields(
    event: Event,
    stage: str,
    start: datetime,
    cal: WorkCalendar | None = None,
    limits: Sequence[TimeLimit] | None = None,
) -> dict[str, Any]:
    if not stage:
        return {
            "stage": "",
            "stage_started_at": None,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    limit = time_limit_for(category=event.category, urgency=event.urgency, stage=stage, limits=limits)
    if limit is None:
        return {
            "stage": stage,
            "stage_started_at": start,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    cal = cal or reference().calendar
    deadline = cal.deadline(start, limit.amount, limit.unit)
    warn_at = cal.warn_time(start, limit.amount, limit.unit, limit.warn_ratio)
    return {
        "stage": stage,
        "stage_started_at": start,
        "warn_at": warn_at,
        "deadline": deadline,
        "warning": Warning.NONE,
        "calendar_fallback": cal.fallback_used,
    }


def open_clock(event: Event, fields: dict[str, Any]) -> None:
    if fields.get("deadline"):
        StageDeadline.objects.create(
            event=event,
            stage=fields["stage"],
            started_at=fields["stage_started_at"],
            warn_at=fields["warn_at"],
            deadline=fields["deadline"],
        )


def close_clock(event: Event, at: datetime) -> None:
    for clock in StageDeadline.objects.filter(event=event, finished_at__isnull=True):
        clock.finished_at = at
        clock.overdue = at > clock.deadline
        clock.save(update_fields=["finished_at", "overdue"])
