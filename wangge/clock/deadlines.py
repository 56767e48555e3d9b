"""Deadline arithmetic on the installation calendar, and the warning level a clock calls for."""

from dataclasses import dataclass
from datetime import datetime

from .calendar import UNITS, WorkCalendar, installation_calendar
from .models import Warning

RANK: dict[str, int] = {Warning.NONE: 0, Warning.YELLOW: 1, Warning.RED: 2}


@dataclass(frozen=True)
class DeadlineTimes:
    """When a limit is due, when its yellow warning is, and whether the Mon–Fri fallback answered."""

    started_at: datetime
    warn_at: datetime
    due_at: datetime
    fallback_used: bool


def deadline_compute(
    *,
    start: datetime,
    amount: float,
    unit: str,
    warn_ratio: float = 0.8,
    calendar: WorkCalendar | None = None,
) -> DeadlineTimes:
    """Due and warning time of a limit of `amount` `unit` (workday | workhour | minute | day) starting
    at `start`; the warning comes when `warn_ratio` (0..1) of the limit has passed. Raises ValueError
    for an unknown unit, a negative amount or a ratio outside 0..1."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit}")
    if amount < 0:
        raise ValueError("时限不能为负")
    if not 0 <= warn_ratio <= 1:
        raise ValueError("预警比例须在0到1之间")
    cal = calendar if calendar is not None else installation_calendar()
    due = cal.deadline(start, amount, unit)
    warn = cal.warn_time(start, amount, unit, warn_ratio)
    return DeadlineTimes(started_at=start, warn_at=warn, due_at=due, fallback_used=cal.fallback_used)


def warning_due(*, warn_at: datetime | None, deadline: datetime | None, now: datetime) -> str:
    """The warning level a stored clock calls for at `now`."""
    if deadline is not None and deadline <= now:
        return Warning.RED
    if warn_at is not None and warn_at <= now:
        return Warning.YELLOW
    return Warning.NONE


def level_rises(old: str, new: str) -> bool:
    """Whether `new` is a higher warning level than `old` (levels never go down by themselves)."""
    return RANK.get(new, 0) > RANK.get(old, 0)
