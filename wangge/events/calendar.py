"""Working-time arithmetic on the official Chinese calendar (holidays and 调休 make-up workdays).

Order of authority for a day: a local CalendarDay row, then the `chinesecalendar` library, then — for
years the library does not know yet — Monday to Friday, flagged as a fallback so the event and the
admin can say so. Working periods of a day come from settings.WANGGE_WORK_PERIODS.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.utils import timezone


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _periods() -> list[tuple[time, time]]:
    out = []
    for spec in settings.WANGGE_WORK_PERIODS:
        a, b = spec.split("-")
        out.append((time.fromisoformat(a), time.fromisoformat(b)))
    return out


def _overrides() -> dict[date, bool]:
    from .models import CalendarDay

    return dict(CalendarDay.objects.values_list("day", "is_workday"))


@lru_cache(maxsize=4096)
def _library_day(day: date) -> tuple[bool, bool]:
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


class WorkCalendar:
    """Loads local overrides once; answers is_workday and adds working time."""

    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = _overrides() if overrides is None else overrides
        self.periods = _periods()
        self.fallback_used = False

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        workday, fallback = _library_day(day)
        self.fallback_used = self.fallback_used or fallback
        return workday

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(day):
            return []
        tz = _tz()
        return [(datetime.combine(day, a, tz), datetime.combine(day, b, tz)) for a, b in self.periods]

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment when `minutes` of working time have passed after `start`."""
        cursor = start.astimezone(_tz())
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
            cursor = max(cursor, datetime.combine(day, time.min, _tz()))
        raise ValueError("时限过长")

    def working_minutes_per_day(self) -> float:
        return sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds() / 60
            for a, b in self.periods
        )

    def deadline(self, start: datetime, amount: float, unit: str) -> datetime:
        """Deadline of a limit of `amount` `unit` (workday | workhour | minute) starting at `start`."""
        if unit == "minute":
            return start + timedelta(minutes=amount)
        if unit == "workhour":
            return self.add_working_minutes(start, amount * 60)
        if unit == "workday":
            return self.add_working_minutes(start, amount * self.working_minutes_per_day())
        raise ValueError(f"unknown unit {unit}")

    def warn_time(self, start: datetime, amount: float, unit: str, ratio: float) -> datetime:
        return self.deadline(start, amount * ratio, unit)


def now() -> datetime:
    return timezone.now()
