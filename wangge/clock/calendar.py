"""Working-time arithmetic on the official Chinese calendar (holidays and 调休 make-up workdays).

Order of authority for a day: a local CalendarDay row, then the `chinesecalendar` library (the State
Council schedule for the years the installed version ships), then — for years the library does not
know — Monday to Friday without the fixed-date public holidays (FixedHoliday rows: 元旦, 劳动节, 国庆节).
The lunar holidays (春节, 清明, 端午, 中秋) and the 调休 make-up workdays of such a year are unknown
until they are entered as CalendarDay rows.

Coverage is per year: a year is covered when the library knows it, or when an administrator has marked
the local entry complete (CalendarYear.complete). An answer for an uncovered year sets `fallback_used`,
so the caller (Event.calendar_fallback, Deadline.calendar_fallback) and the admin can say the deadline
was assumed; a few local rows in a year do not make it covered (clock.coverage: marking and warnings).
Working periods of a day come from settings.WANGGE_WORK_PERIODS (default 08:30-12:00, 14:00-17:30).

Units: "workday" = a working day's worth of working time (so a 1-workday limit that starts at 16:00
ends at 16:00 on the next working day), "workhour" = working hours inside the periods (a limit started
at 17:00 runs on into the next working morning), "minute" = calendar minutes, day and night, "day" =
natural days (24 hours each, holidays included).

The installation's calendar is `installation_calendar()`: a fresh WorkCalendar over this process's
cached copy of the local rows (reloaded after RECHECK_SECONDS, or at once after a change saved here).
"""

import threading
import time as monotonic
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

# Units of a limit: working days, working hours, calendar minutes, natural (calendar) days.
UNITS = ("workday", "workhour", "minute", "day")


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _periods() -> list[tuple[time, time]]:
    out = []
    for spec in settings.WANGGE_WORK_PERIODS:
        a, b = spec.split("-")
        start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
        if end <= start:
            raise ValueError(f"WANGGE_WORK_PERIODS: {spec} 结束时间须晚于开始时间")
        out.append((start, end))
    return sorted(out)


@dataclass(frozen=True)
class CalendarData:
    """The local calendar rows a WorkCalendar needs, read together (cached per process)."""

    overrides: dict[date, bool]
    complete_years: frozenset[int]
    fixed_holidays: frozenset[tuple[int, int]]


def calendar_data_load() -> CalendarData:
    """Read the local calendar rows from the database (three small tables)."""
    from .models import CalendarDay, CalendarYear, FixedHoliday

    return CalendarData(
        overrides=dict(CalendarDay.objects.values_list("day", "is_workday")),
        complete_years=frozenset(CalendarYear.objects.filter(complete=True).values_list("year", flat=True)),
        fixed_holidays=frozenset(FixedHoliday.objects.filter(active=True).values_list("month", "day")),
    )


@lru_cache(maxsize=1)
def default_fixed_holidays() -> frozenset[tuple[int, int]]:
    """The seeded fixed-date holidays, for calendars built without the database."""
    from .seed import FIXED_HOLIDAYS

    return frozenset((month, day) for month, day, _, _ in FIXED_HOLIDAYS)


@lru_cache(maxsize=8192)
def _library_day(day: date) -> tuple[bool, bool]:
    """(is workday, library did not know the year)."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


@lru_cache(maxsize=1)
def library_years() -> tuple[int, int]:
    """First and last year of the official schedule in the installed `chinesecalendar`."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


def library_knows_year(year: int) -> bool:
    first, last = library_years()
    return first <= year <= last


def year_covered(year: int, complete_years: Iterable[int]) -> bool:
    """Official schedule known, or the local entry marked complete by an administrator."""
    return library_knows_year(year) or year in complete_years


class WorkCalendar:
    """Local calendar data read once; answers is_workday and adds working time.

    Create one per operation; `fallback_used` turns True as soon as an answer came from the Mon–Fri
    fallback of an uncovered year. It uses exactly what it is given (no database): `overrides` (the
    local days), the seeded fixed-date holidays unless `fixed_holidays` is given, and no year marked
    complete unless `complete_years` is given. The installation's calendar, from this process's cached
    copy of the local rows, is `installation_calendar()`.
    """

    def __init__(
        self,
        overrides: dict[date, bool],
        *,
        complete_years: Iterable[int] | None = None,
        fixed_holidays: Iterable[tuple[int, int]] | None = None,
    ) -> None:
        self.overrides = overrides
        self.complete_years = frozenset(complete_years or ())
        self.fixed_holidays = (
            default_fixed_holidays() if fixed_holidays is None else frozenset(fixed_holidays)
        )
        self.periods = _periods()
        self.fallback_used = False

    def is_workday(self, day: date) -> bool:
        local = self.overrides.get(day)
        if local is not None:
            return local
        workday, unknown = _library_day(day)
        if not unknown:
            return workday
        if (day.month, day.day) in self.fixed_holidays:
            return False  # known without the official schedule: not an assumption
        if day.year not in self.complete_years:
            self.fallback_used = True
        return workday

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(day):
            return []
        tz = _tz()
        return [(datetime.combine(day, a, tz), datetime.combine(day, b, tz)) for a, b in self.periods]

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment when `minutes` of working time have passed after `start`."""
        if minutes < 0:
            raise ValueError("时限不能为负")
        tz = _tz()
        cursor = start.astimezone(tz)
        remaining = timedelta(minutes=minutes)
        day = cursor.date()
        for _ in range(3660):  # ten years of days: a guard, never reached with sane limits
            for a, b in self._intervals(day):
                if b <= cursor:
                    continue
                begin = max(a, cursor)
                available = b - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cursor = b
            day += timedelta(days=1)
            cursor = max(cursor, datetime.combine(day, time.min, tz))
        raise ValueError("时限过长")

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes inside [start, end) (0 when end <= start)."""
        tz = _tz()
        a0, b0 = start.astimezone(tz), end.astimezone(tz)
        total = timedelta()
        day = a0.date()
        while day <= b0.date():
            for a, b in self._intervals(day):
                lo, hi = max(a, a0), min(b, b0)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 60

    def working_minutes_per_day(self) -> float:
        return sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 60
            for a, b in self.periods
        )

    def to_working_minutes(self, amount: float, unit: str) -> float:
        """A limit in workday/workhour as working minutes (minute limits are not working time)."""
        if unit == "workhour":
            return amount * 60
        if unit == "workday":
            return amount * self.working_minutes_per_day()
        raise ValueError(f"unit {unit} is not working time")

    def deadline(self, start: datetime, amount: float, unit: str) -> datetime:
        """Deadline of a limit of `amount` `unit` (workday | workhour | minute | day) starting at `start`."""
        if unit == "minute":
            return start + timedelta(minutes=amount)
        if unit == "day":
            return start + timedelta(days=amount)
        if unit in ("workhour", "workday"):
            return self.add_working_minutes(start, self.to_working_minutes(amount, unit))
        raise ValueError(f"unknown unit {unit}")

    def warn_time(self, start: datetime, amount: float, unit: str, ratio: float) -> datetime:
        """When the yellow warning is due: `ratio` (0..1) of the limit has passed."""
        return self.deadline(start, amount * ratio, unit)


def now() -> datetime:
    return timezone.now()


# --- the installation's calendar, cached per process -----------------------------------------------------

RECHECK_SECONDS = 10.0
_lock = threading.Lock()
_cached: tuple[float, CalendarData] | None = None


def installation_data() -> CalendarData:
    """This process's copy of the local calendar rows (reloaded when older than RECHECK_SECONDS)."""
    global _cached
    entry = _cached
    if entry is not None and monotonic.monotonic() - entry[0] < RECHECK_SECONDS:
        return entry[1]
    with _lock:
        data = calendar_data_load()
        _cached = (monotonic.monotonic(), data)
        return data


def installation_calendar() -> WorkCalendar:
    """A fresh calendar per use (it records whether the Mon–Fri fallback answered) on the local rows."""
    data = installation_data()
    return WorkCalendar(
        overrides=data.overrides, complete_years=data.complete_years, fixed_holidays=data.fixed_holidays
    )


def calendar_forget(**_: Any) -> None:
    """Drop this process's copy (tests: a rolled-back transaction sends no signal)."""
    global _cached
    _cached = None


def _calendar_changed(sender: Any, **kwargs: Any) -> None:
    from .models import CalendarDay, CalendarYear, FixedHoliday

    # Any sender: domains may save the rows through proxy models of their own.
    if getattr(getattr(sender, "_meta", None), "concrete_model", None) in (
        CalendarDay,
        CalendarYear,
        FixedHoliday,
    ):
        calendar_forget()
        transaction.on_commit(calendar_forget)  # a reload in between would still read the old rows


post_save.connect(_calendar_changed, dispatch_uid="clock-calendar-save")
post_delete.connect(_calendar_changed, dispatch_uid="clock-calendar-delete")
