"""The working-time clock against the real official calendars (国务院办公厅 holiday notices 2025, 2026)."""

from datetime import date, datetime

import pytest

from wangge.clock.calendar import WorkCalendar
from wangge.events.models import CalendarDay, Event
from wangge.events.reference import reference
from wangge.events.services import EventInput, event_create

from .clock_helpers import TZ, at


def cal() -> WorkCalendar:
    return WorkCalendar(overrides={})


# --- 2025 (国办发明电〔2024〕12号) -------------------------------------------------------------------


def test_2025_spring_festival_days():
    c = cal()
    assert c.is_workday(date(2025, 1, 26))  # Sunday, make-up workday
    for d in range(28, 32):
        assert not c.is_workday(date(2025, 1, d))
    for d in range(1, 5):
        assert not c.is_workday(date(2025, 2, d))
    assert c.is_workday(date(2025, 2, 5))  # Wednesday after the holiday
    assert c.is_workday(date(2025, 2, 8))  # Saturday, make-up workday
    assert not c.is_workday(date(2025, 2, 9))  # ordinary Sunday
    assert not c.fallback_used


def test_2025_spring_festival_deadlines():
    c = cal()
    # Fri 01-24 16:00 + 2 workdays (14 h): 1.5 h Fri, Sat off, Sun 01-26 make-up 7 h, Mon 5.5 h -> 16:00.
    assert c.deadline(at(2025, 1, 24, 16), 2, "workday") == at(2025, 1, 27, 16)
    # Mon 01-27 10:00 + 1 workday: 5.5 h that day, the holiday 01-28..02-04, 1.5 h on Wed 02-05.
    assert c.deadline(at(2025, 1, 27, 10), 1, "workday") == at(2025, 2, 5, 10)
    # Fri 02-07 17:00 + 2 workhours: 0.5 h, then Saturday 02-08 (make-up) morning.
    assert c.deadline(at(2025, 2, 7, 17), 2, "workhour") == at(2025, 2, 8, 10)


def test_2025_national_day_and_mid_autumn():
    c = cal()
    assert c.is_workday(date(2025, 9, 28))  # Sunday, make-up
    for d in range(1, 9):
        assert not c.is_workday(date(2025, 10, d))
    assert c.is_workday(date(2025, 10, 9))
    assert c.is_workday(date(2025, 10, 11))  # Saturday, make-up
    # A start on a non-working Saturday waits for the make-up Sunday.
    assert c.deadline(at(2025, 9, 27, 10), 1, "workhour") == at(2025, 9, 28, 9, 30)
    # Tue 09-30 16:00 + 3 workhours: 1.5 h, eight days off, 1.5 h on Thu 10-09.
    assert c.deadline(at(2025, 9, 30, 16), 3, "workhour") == at(2025, 10, 9, 10)
    # Fri 10-10 09:00 + 2 workdays: 6.5 h Fri, 7 h on make-up Sat 10-11, Sunday off, 0.5 h Mon.
    assert c.deadline(at(2025, 10, 10, 9), 2, "workday") == at(2025, 10, 13, 9)


def test_start_on_a_holiday():
    c = cal()
    assert c.deadline(at(2025, 10, 3, 10), 1, "workhour") == at(2025, 10, 9, 9, 30)
    assert c.deadline(at(2025, 5, 1, 9), 1, "workday") == at(2025, 5, 6, 17, 30)  # 05-01..05 off


def test_overnight_and_lunch():
    c = cal()
    # Started at 17:00 on Wed: half an hour today, the rest next working morning.
    assert c.deadline(at(2025, 3, 12, 17), 2, "workhour") == at(2025, 3, 13, 10)
    # Started after hours: the whole limit runs the next morning.
    assert c.deadline(at(2025, 3, 12, 20), 2, "workhour") == at(2025, 3, 13, 10, 30)
    # Friday evening runs into Monday.
    assert c.deadline(at(2025, 3, 14, 17), 1, "workhour") == at(2025, 3, 17, 9)
    # Lunch break does not count.
    assert c.deadline(at(2025, 3, 12, 11, 30), 1, "workhour") == at(2025, 3, 12, 14, 30)
    # Exactly the end of the day.
    assert c.deadline(at(2025, 3, 12, 14), 3.5, "workhour") == at(2025, 3, 12, 17, 30)


def test_minute_limits_ignore_the_calendar():
    c = cal()
    assert c.deadline(at(2025, 10, 1, 23, 50), 30, "minute") == at(2025, 10, 2, 0, 20)
    assert c.deadline(at(2025, 1, 29, 3), 10, "minute") == at(2025, 1, 29, 3, 10)
    assert not c.fallback_used


def test_warn_time_is_a_share_of_working_time():
    c = cal()
    start = at(2025, 3, 10, 8, 30)  # Monday
    assert c.deadline(start, 5, "workday") == at(2025, 3, 14, 17, 30)
    assert c.warn_time(start, 5, "workday", 0.8) == at(2025, 3, 13, 17, 30)
    assert c.warn_time(at(2025, 3, 10, 9), 2, "workhour", 0.5) == at(2025, 3, 10, 10)


def test_working_minutes_between():
    c = cal()
    assert c.working_minutes_between(at(2025, 9, 30, 16), at(2025, 10, 9, 10)) == 180
    assert c.working_minutes_between(at(2025, 3, 12, 12), at(2025, 3, 12, 14)) == 0


# --- 2026 (as the chinesecalendar library knows it) -------------------------------------------------


def test_2026_official_days():
    c = cal()
    assert not c.is_workday(date(2026, 1, 2))  # New Year holiday 01-01..03
    assert c.is_workday(date(2026, 1, 4))  # Sunday, make-up
    assert c.is_workday(date(2026, 2, 14))  # Saturday, make-up before the Spring Festival
    for d in range(15, 24):
        assert not c.is_workday(date(2026, 2, d))  # Spring Festival 02-15..02-23
    assert c.is_workday(date(2026, 2, 28))  # Saturday, make-up
    assert c.is_workday(date(2026, 9, 20))  # Sunday, make-up
    assert not c.is_workday(date(2026, 10, 7))
    assert c.is_workday(date(2026, 10, 10))  # Saturday, make-up
    assert not c.fallback_used


def test_2026_spring_festival_deadlines():
    c = cal()
    # Fri 02-13 16:00 + 1 workday: 1.5 h Fri, then 5.5 h on the make-up Saturday 02-14.
    assert c.deadline(at(2026, 2, 13, 16), 1, "workday") == at(2026, 2, 14, 16)
    # Sat 02-14 16:00 + 4 workhours: 1.5 h, nine days off, 2.5 h on Tue 02-24.
    assert c.deadline(at(2026, 2, 14, 16), 4, "workhour") == at(2026, 2, 24, 11)


# --- local overrides and unknown years ----------------------------------------------------------------


def test_local_override_wins_over_the_library():
    c = WorkCalendar(overrides={date(2025, 3, 12): False, date(2025, 10, 8): True})
    assert not c.is_workday(date(2025, 3, 12))
    assert c.is_workday(date(2025, 10, 8))
    assert c.deadline(at(2025, 3, 11, 17), 1, "workhour") == at(2025, 3, 13, 9)
    assert c.deadline(at(2025, 9, 30, 17), 1, "workhour") == at(2025, 10, 8, 9)


@pytest.mark.django_db
def test_calendar_day_rows_are_read_from_the_database():
    CalendarDay.objects.create(day=date(2025, 3, 12), is_workday=False, note="本地停工")
    assert not reference().calendar.is_workday(date(2025, 3, 12))
    assert WorkCalendar(overrides={}).is_workday(date(2025, 3, 12))


def test_unknown_year_falls_back_to_monday_to_friday():
    c = cal()
    assert c.is_workday(date(2031, 1, 6))  # Monday
    assert not c.is_workday(date(2031, 1, 4))  # Saturday
    assert c.fallback_used
    c = cal()
    assert c.deadline(datetime(2031, 1, 3, 17, tzinfo=TZ), 1, "workhour") == datetime(
        2031, 1, 6, 9, tzinfo=TZ
    )
    assert c.fallback_used


def test_year_maintained_locally_is_not_a_fallback_once_marked_complete():
    days = {date(2031, 1, 1): False, date(2031, 1, 4): True}
    c = WorkCalendar(overrides=days, complete_years={2031})
    assert not c.is_workday(date(2031, 1, 1))
    assert c.is_workday(date(2031, 1, 4))  # a local make-up Saturday
    assert c.is_workday(date(2031, 1, 6))
    assert not c.fallback_used
    # Local rows alone do not cover the year (tests/test_calendar_coverage.py).
    c = WorkCalendar(overrides=days)
    assert c.is_workday(date(2031, 1, 6))
    assert c.fallback_used


@pytest.mark.django_db
def test_event_shows_the_fallback(world, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: datetime(2031, 3, 3, 9, tzinfo=TZ))
    event, _ = event_create(data=EventInput(description="路灯不亮", address="六合路1号", channel="api"))
    event = Event.objects.get(pk=event.pk)
    assert event.deadline is not None and event.calendar_fallback

    monkeypatch.setattr(timezone, "now", lambda: datetime(2025, 3, 3, 9, tzinfo=TZ))
    event2, _ = event_create(data=EventInput(description="路灯不亮", address="六合路2号", channel="api"))
    assert not Event.objects.get(pk=event2.pk).calendar_fallback
