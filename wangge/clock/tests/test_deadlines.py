"""Deadline arithmetic in working days, working hours, minutes and natural days; warning levels."""

from datetime import timedelta

import pytest

from wangge.clock.calendar import WorkCalendar
from wangge.clock.deadlines import deadline_compute, level_rises, warning_due
from wangge.clock.models import Warning

from .helpers import UNKNOWN, at, weekday_in


def cal() -> WorkCalendar:
    return WorkCalendar(overrides={})


def test_working_days_skip_the_holiday_and_count_the_make_up_sunday():
    # Tue 2025-09-23 08:30 + 5 workdays = 23, 24, 25, 26 and the make-up Sunday 28.
    t = deadline_compute(start=at(2025, 9, 23, 8, 30), amount=5, unit="workday", calendar=cal())
    assert t.due_at == at(2025, 9, 28, 17, 30)
    assert t.warn_at == at(2025, 9, 26, 17, 30)  # 80 % = 4 workdays
    assert not t.fallback_used


def test_working_hours_run_into_the_next_working_morning():
    t = deadline_compute(start=at(2025, 3, 10, 17), amount=2, unit="workhour", warn_ratio=0.5, calendar=cal())
    assert t.due_at == at(2025, 3, 11, 10)  # 0.5 h Monday, 1.5 h Tuesday
    assert t.warn_at == at(2025, 3, 11, 9)  # 1 h: 0.5 h Monday, 0.5 h Tuesday from 08:30


def test_minutes_and_natural_days_run_day_and_night():
    start = at(2025, 10, 1, 23, 50)  # a holiday, near midnight
    assert deadline_compute(
        start=start, amount=30, unit="minute", calendar=cal()
    ).due_at == start + timedelta(minutes=30)
    t = deadline_compute(start=start, amount=3, unit="day", warn_ratio=0.5, calendar=cal())
    assert t.due_at == start + timedelta(days=3) and t.warn_at == start + timedelta(hours=36)


def test_a_deadline_in_an_unknown_year_says_it_was_assumed():
    start = at(UNKNOWN, 3, weekday_in(UNKNOWN, 3).day, 9)
    assert deadline_compute(start=start, amount=1, unit="workday", calendar=cal()).fallback_used


def test_bad_limits_are_refused():
    for kwargs in ({"unit": "week"}, {"amount": -1}, {"warn_ratio": 1.5}):
        args = {"start": at(2025, 3, 10, 9), "amount": 1, "unit": "workday", **kwargs}
        with pytest.raises(ValueError):
            deadline_compute(calendar=cal(), **args)


def test_warning_levels():
    warn, due = at(2025, 3, 10, 12), at(2025, 3, 10, 17)
    assert warning_due(warn_at=warn, deadline=due, now=warn - timedelta(seconds=1)) == Warning.NONE
    assert warning_due(warn_at=warn, deadline=due, now=warn) == Warning.YELLOW
    assert warning_due(warn_at=warn, deadline=due, now=due) == Warning.RED
    assert warning_due(warn_at=None, deadline=None, now=due) == Warning.NONE
    assert level_rises(Warning.NONE, Warning.YELLOW) and level_rises(Warning.YELLOW, Warning.RED)
    assert not level_rises(Warning.RED, Warning.YELLOW) and not level_rises(Warning.RED, Warning.RED)
