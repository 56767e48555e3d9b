"""The installation calendar on its own: official holidays and 调休, local days, the Mon–Fri fallback,
and the per-process copy of the local rows."""

from datetime import date, timedelta

import pytest

from wangge.clock.calendar import WorkCalendar, calendar_forget, installation_calendar, installation_data
from wangge.clock.models import CalendarDay, CalendarYear, FixedHoliday

from .helpers import UNKNOWN, at, weekday_in


def test_official_holidays_and_make_up_workdays_2025():
    c = WorkCalendar(overrides={})
    assert c.is_workday(date(2025, 9, 28))  # Sunday, 调休 make-up workday before National Day
    assert not any(c.is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert c.is_workday(date(2025, 10, 11))  # Saturday, make-up workday
    assert not c.is_workday(date(2025, 10, 12))  # an ordinary Sunday
    # Tue 09-30 16:00 + 3 working hours: 1.5 h, eight days off, 1.5 h on Thu 10-09.
    assert c.deadline(at(2025, 9, 30, 16), 3, "workhour") == at(2025, 10, 9, 10)
    assert not c.fallback_used


def test_a_year_the_library_does_not_know_falls_back_to_monday_to_friday():
    c = WorkCalendar(overrides={})
    monday = weekday_in(UNKNOWN, 3)
    monday -= timedelta(days=monday.weekday())
    assert c.is_workday(monday) and not c.is_workday(monday + timedelta(days=5))
    assert c.fallback_used
    # The fixed-date holidays are known without the official schedule: no assumption for those.
    known = WorkCalendar(overrides={})
    assert not known.is_workday(date(UNKNOWN, 1, 1)) and not known.fallback_used
    # A year marked complete is not an assumption either.
    complete = WorkCalendar(overrides={}, complete_years={UNKNOWN})
    complete.is_workday(monday)
    assert not complete.fallback_used


def test_local_days_override_the_official_calendar():
    day = date(2025, 3, 12)  # an ordinary Wednesday
    c = WorkCalendar(overrides={day: False, date(2025, 3, 15): True})
    assert not c.is_workday(day) and c.is_workday(date(2025, 3, 15))
    # Tue 03-11 17:00 + 1 working hour: 0.5 h, Wednesday off locally, 0.5 h on Thursday.
    assert c.deadline(at(2025, 3, 11, 17), 1, "workhour") == at(2025, 3, 13, 9)


@pytest.mark.django_db
def test_installation_calendar_reads_the_rows_and_sees_a_change_at_once():
    calendar_forget()
    day = date(2025, 3, 12)
    assert installation_calendar().is_workday(day)
    CalendarDay.objects.create(day=day, is_workday=False, note="本地停工")
    assert not installation_calendar().is_workday(day)  # the save dropped this process's copy
    CalendarYear.objects.create(year=UNKNOWN, complete=True)
    assert UNKNOWN in installation_data().complete_years
    FixedHoliday.objects.filter(month=1, day=1).update(active=False)  # no signal: the copy is kept …
    assert (1, 1) in installation_data().fixed_holidays
    calendar_forget()  # … until it is dropped (or RECHECK_SECONDS pass)
    assert (1, 1) not in installation_data().fixed_holidays


@pytest.mark.django_db
def test_the_seeded_fixed_holidays_are_rows():
    assert set(FixedHoliday.objects.values_list("month", "day")) >= {(1, 1), (5, 1), (10, 1)}
