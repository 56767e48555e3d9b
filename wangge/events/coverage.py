"""Calendar coverage moved to wangge.clock.coverage (with the system check wangge.W020). The events'
entry point keeps its audit labels: `calendar_year_mark` here records "events.calendar_year_mark" on the
events' CalendarYear (as before the move)."""

from datetime import datetime
from typing import Any

from wangge.clock import coverage as _coverage
from wangge.clock.coverage import (
    YEAR_MAX,
    YEAR_MIN,
    calendar_coverage_check,
    complete_years,
    coverage_warnings,
    uncovered_years,
    years_ahead,
)

from .models import CalendarYear

__all__ = [
    "YEAR_MAX",
    "YEAR_MIN",
    "calendar_coverage_check",
    "calendar_year_mark",
    "complete_years",
    "coverage_warnings",
    "uncovered_years",
    "years_ahead",
]


def calendar_year_mark(
    *, actor: Any, year: int, complete: bool, note: str = "", now: datetime | None = None
) -> CalendarYear:
    """Mark (or unmark) a year's local calendar as completely entered (wangge.clock.coverage)."""
    row = _coverage.calendar_year_mark(
        actor=actor,
        year=year,
        complete=complete,
        note=note,
        now=now,
        model=CalendarYear,
        action="events.calendar_year_mark",
    )
    assert isinstance(row, CalendarYear)
    return row
