"""Shared by the clock tests."""

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")
# The first year after the installed chinesecalendar's last whose 1 January is a weekday.
LAST = max(chinese_calendar.holidays).year
UNKNOWN = next(y for y in itertools.count(LAST + 1) if date(y, 1, 1).weekday() < 5)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def weekday_in(year: int, month: int) -> date:
    """A Monday–Friday of the month that is not a fixed-date holiday."""
    return next(
        date(year, month, d)
        for d in range(4, 20)
        if date(year, month, d).weekday() < 5 and (month, d) not in {(1, 1), (5, 1), (5, 2)}
    )
