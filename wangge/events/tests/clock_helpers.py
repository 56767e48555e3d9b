"""Helpers shared by the clock, whistle and notification tests (imported by them)."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from wangge.events.models import Event, StageDeadline, Status
from wangge.events.reference import reference
from wangge.events.services import EventInput, event_create, time_limit_for

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


def make_event(
    world: Any,
    *,
    start: datetime,
    status: str = "dispatched",
    handler_user: Any = None,
    handler_unit: Any = None,
    grid: Any = None,
    level: str = "grid",
    description: str = "楼道里堆放杂物影响通行",
    category_code: str = "0102",
) -> Event:
    """An event created by the intake service, then (test setup only) put into `status` with a clock
    that started at `start`, computed from the seeded time limit on the official calendar."""
    grid = grid or world.g111
    event, _ = event_create(
        data=EventInput(
            description=description, address="六合路8号", channel="api", category_code=category_code
        )
    )
    target = Status.objects.get(code=status)
    limit = time_limit_for(category=event.category, urgency=event.urgency, stage=target.stage or "handle")
    cal = reference().calendar
    deadline = cal.deadline(start, limit.amount, limit.unit)
    warn_at = cal.warn_time(start, limit.amount, limit.unit, limit.warn_ratio)
    Event.objects.filter(pk=event.pk).update(
        status=target,
        stage=target.stage,
        stage_started_at=start,
        warn_at=warn_at,
        deadline=deadline,
        warning="none",
        path=grid.code,
        grid=grid,
        level=level,
        needs_triage=False,
        handler_user=handler_user,
        handler_unit=handler_unit,
    )
    StageDeadline.objects.filter(event=event, finished_at__isnull=True).update(finished_at=start)
    StageDeadline.objects.create(
        event=event, stage=target.stage or "handle", started_at=start, warn_at=warn_at, deadline=deadline
    )
    return Event.objects.select_related("status").get(pk=event.pk)
