"""Working-time arithmetic on the official Chinese calendar (holidays and 调休 make-up workdays).

Order of authority for a day: a local CalendarDay row, then the `chinesecalendar` library, then — for
years the library does not know yet — Monday to Friday, flagged as a fallback (`fallback_used`) so the
event (Event.calendar_fallback) and the admin can say so. A year for which the installation has entered
its own CalendarDay rows counts as maintained locally: its other days are Mon–Fri without the flag.
Working periods of a day come from settings.WANGGE_WORK_PERIODS (default 08:30-12:00, 14:00-17:30).

Units: "workday" = a working day's worth of working time (so a 1-workday limit that starts at 16:00
ends at 16:00 on the next working day), "workhour" = working hours inside the periods (a limit started
at 17:00 runs on into the next working morning), "minute" = calendar minutes, day and night.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.utils import timezone

UNITS = ("workday", "workhour", "minute")


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


def _overrides() -> dict[date, bool]:
    from .models import CalendarDay

    return dict(CalendarDay.objects.values_list("day", "is_workday"))


@lru_cache(maxsize=8192)
def _library_day(day: date) -> tuple[bool, bool]:
    """(is workday, library did not know the year)."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


def library_knows_year(year: int) -> bool:
    return not _library_day(date(year, 6, 1))[1]


class WorkCalendar:
    """Loads local overrides once; answers is_workday and adds working time.

    Create one per operation (overrides are read at construction); `fallback_used` turns True as soon
    as an answer came from the Mon–Fri fallback.
    """

    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self.overrides = _overrides() if overrides is None else dict(overrides)
        self.local_years = {d.year for d in self.overrides}
        self.periods = _periods()
        self.fallback_used = False

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        workday, fallback = _library_day(day)
        if fallback and day.year not in self.local_years:
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
        """Deadline of a limit of `amount` `unit` (workday | workhour | minute) starting at `start`."""
        if unit == "minute":
            return start + timedelta(minutes=amount)
        if unit in ("workhour", "workday"):
            return self.add_working_minutes(start, self.to_working_minutes(amount, unit))
        raise ValueError(f"unknown unit {unit}")

    def warn_time(self, start: datetime, amount: float, unit: str, ratio: float) -> datetime:
        """When the yellow warning is due: `ratio` (0..1) of the limit has passed."""
        return self.deadline(start, amount * ratio, unit)


def now() -> datetime:
    return timezone.now()
