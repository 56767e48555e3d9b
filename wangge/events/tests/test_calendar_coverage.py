"""Calendar coverage per year: a few local rows do not cover a year; an administrator marks it complete
(audited); fixed-date holidays are known even without the official schedule; warnings ahead of a year
nobody covers (admin index, calendar changelists, system check wangge.W020)."""

import itertools
from datetime import date, datetime
from typing import Any

import chinese_calendar
import pytest
from django.core import checks
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.clock.calendar import WorkCalendar, library_knows_year, library_years, year_covered
from wangge.core.errors import Forbidden, InvalidInput
from wangge.events.coverage import (
    calendar_coverage_check,
    calendar_year_mark,
    complete_years,
    coverage_warnings,
    uncovered_years,
)
from wangge.events.models import CalendarDay, CalendarYear, FixedHoliday
from wangge.events.reference import reference

from .clock_helpers import at

# The last year the installed chinesecalendar ships, and the first later year whose 1 January is a
# weekday (2027 with chinesecalendar 1.11: a Friday), so "1 January is off" is not a weekend answer.
LAST = max(chinese_calendar.holidays).year
UNKNOWN = next(y for y in itertools.count(LAST + 1) if date(y, 1, 1).weekday() < 5)


def first_weekday(year: int, month: int) -> date:
    """The first Monday–Friday of the month that is not a fixed-date holiday."""
    return next(
        date(year, month, d)
        for d in range(4, 20)
        if date(year, month, d).weekday() < 5 and (month, d) not in {(1, 1), (5, 1), (5, 2)}
    )


def freeze(monkeypatch: Any, day: date) -> None:
    from .clock_helpers import TZ

    moment = datetime(day.year, day.month, day.day, 10, tzinfo=TZ)
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- coverage of a year --------------------------------------------------------------------------------


def test_the_installed_library_years_are_covered():
    first, last = library_years()
    assert (first, last) == (min(chinese_calendar.holidays).year, LAST)
    assert library_knows_year(2025) and library_knows_year(LAST)
    assert year_covered(2025, set()) and year_covered(LAST, set())
    assert not library_knows_year(UNKNOWN) and not year_covered(UNKNOWN, set())
    assert year_covered(UNKNOWN, {UNKNOWN})
    c = WorkCalendar(overrides={})
    c.deadline(at(LAST, 3, 2, 9), 20, "workday")
    assert not c.fallback_used


@pytest.mark.django_db
def test_a_single_local_row_does_not_cover_the_year():
    """One CalendarDay in an unknown year used to silence the Mon–Fri flag for the whole year."""
    holiday = first_weekday(UNKNOWN, 2)
    CalendarDay.objects.create(day=holiday, is_workday=False, note="本地录入的一天")
    c = reference().calendar
    assert not c.is_workday(holiday)  # the local row itself is still the answer
    assert not c.fallback_used
    c.deadline(at(UNKNOWN, 3, first_weekday(UNKNOWN, 3).day, 9), 3, "workday")
    assert c.fallback_used
    assert UNKNOWN not in complete_years()
    assert not year_covered(UNKNOWN, complete_years())


@pytest.mark.django_db
def test_marking_the_year_complete_covers_it(world):
    holiday = first_weekday(UNKNOWN, 2)
    CalendarDay.objects.create(day=holiday, is_workday=False, note="春节")
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True, note="按国办通知录入")
    c = reference().calendar  # the process cache was dropped by the save (signal), no restart needed
    assert not c.is_workday(holiday)
    c.deadline(at(UNKNOWN, 3, first_weekday(UNKNOWN, 3).day, 9), 3, "workday")
    assert not c.fallback_used
    assert year_covered(UNKNOWN, complete_years())
    # Unmarking it makes the clock flag the year again.
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=False)
    c = reference().calendar
    c.deadline(at(UNKNOWN, 3, first_weekday(UNKNOWN, 3).day, 9), 3, "workday")
    assert c.fallback_used


def test_a_year_given_as_complete_is_not_a_fallback():
    c = WorkCalendar(overrides={date(UNKNOWN, 2, 8): False}, complete_years={UNKNOWN})
    assert not c.is_workday(date(UNKNOWN, 2, 8))
    c.deadline(at(UNKNOWN, 3, first_weekday(UNKNOWN, 3).day, 9), 3, "workday")
    assert not c.fallback_used


# --- fixed-date holidays in the fallback ---------------------------------------------------------------


def test_new_year_is_not_a_working_day_in_the_fallback():
    c = WorkCalendar(overrides={})
    new_year = date(UNKNOWN, 1, 1)
    assert new_year.weekday() < 5
    assert not c.is_workday(new_year)
    assert not c.fallback_used  # known without the official schedule: not an assumption
    for d in (date(UNKNOWN, 5, 1), date(UNKNOWN, 10, 1), date(UNKNOWN, 10, 2), date(UNKNOWN, 10, 3)):
        assert not c.is_workday(d), d
    # A limit started on 31 December skips 1 January (a Friday in 2027: the next working day is Monday).
    start = at(UNKNOWN - 1, 12, 31, 17)
    nxt = next(d for d in (date(UNKNOWN, 1, n) for n in range(2, 9)) if d.weekday() < 5)
    assert c.deadline(start, 1, "workhour") == at(UNKNOWN, 1, nxt.day, 9)


@pytest.mark.django_db
def test_fixed_holidays_are_data():
    assert set(FixedHoliday.objects.values_list("month", "day")) >= {
        (1, 1),
        (5, 1),
        (10, 1),
        (10, 2),
        (10, 3),
    }
    assert not reference().calendar.is_workday(date(UNKNOWN, 1, 1))
    FixedHoliday.objects.filter(month=1, day=1).update(active=False)
    FixedHoliday.objects.create(month=3, day=first_weekday(UNKNOWN, 3).day, name="本地纪念日")
    c = reference().calendar  # the create above dropped the process cache
    assert c.is_workday(date(UNKNOWN, 1, 1))
    assert not c.is_workday(first_weekday(UNKNOWN, 3))
    # The official schedule stays the authority for the years it knows.
    assert c.is_workday(date(2025, 3, first_weekday(UNKNOWN, 3).day)) == chinese_calendar.is_workday(
        date(2025, 3, first_weekday(UNKNOWN, 3).day)
    )


@pytest.mark.django_db
def test_the_clock_reads_the_calendar_from_the_process_cache(django_assert_num_queries):
    reference()  # loaded once; the calendars below come from it
    with django_assert_num_queries(0):
        for _ in range(50):
            reference().calendar.deadline(at(UNKNOWN, 3, 1, 9), 5, "workday")


# --- marking a year: the service and its audit row -----------------------------------------------------


@pytest.mark.django_db
def test_marking_complete_is_audited(world):
    now = timezone.now()
    row = calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True, note="已录入全年", now=now)
    row.refresh_from_db()
    assert (row.complete, row.marked_by, row.marked_at, row.note) == (
        True,
        world.users.admin,
        now,
        "已录入全年",
    )
    entry = AuditEntry.objects.get(action="events.calendar_year_mark")
    assert entry.actor == world.users.admin
    assert (entry.object_type, entry.object_id) == ("events.calendaryear", str(row.pk))
    assert entry.before is None
    assert entry.after == {"year": UNKNOWN, "complete": True, "note": "已录入全年", "local_days": 0}
    # A note-only edit keeps who marked it; unmarking records the new marker.
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True, note="补充说明")
    row.refresh_from_db()
    assert row.marked_at == now and row.note == "补充说明"
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=False)
    row.refresh_from_db()
    assert not row.complete and row.marked_at > now
    assert list(
        AuditEntry.objects.filter(action="events.calendar_year_mark")
        .order_by("id")
        .values_list("before", flat=True)
    ) == [None, {"complete": True, "note": "已录入全年"}, {"complete": True, "note": "补充说明"}]
    assert CalendarYear.objects.count() == 1


@pytest.mark.django_db
def test_marking_is_refused_for_others_and_bad_input(world):
    with pytest.raises(Forbidden):
        calendar_year_mark(actor=world.users.street1, year=UNKNOWN, complete=True)
    for year in (1999, 2101, "2027", True):
        with pytest.raises(InvalidInput):
            calendar_year_mark(actor=world.users.admin, year=year, complete=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True, note="长" * 201)
    assert not CalendarYear.objects.exists()
    assert not AuditEntry.objects.filter(action="events.calendar_year_mark").exists()


# --- warnings ahead of an uncovered year ---------------------------------------------------------------


@pytest.mark.django_db
def test_warning_appears_ahead_of_an_uncovered_year(world, settings):
    assert uncovered_years(today=date(LAST, 9, 30)) == []
    assert coverage_warnings(today=date(LAST, 9, 30)) == []
    assert uncovered_years(today=date(LAST, 10, 1)) == [UNKNOWN] == uncovered_years(today=date(LAST, 12, 31))
    (message,) = coverage_warnings(today=date(LAST, 10, 1))
    assert f"{UNKNOWN}年即将开始" in message and "周一至周五" in message
    assert "元旦、劳动节、国庆节" in message and "春节、清明、端午、中秋" in message
    # During the year itself, until it is covered.
    assert uncovered_years(today=date(UNKNOWN, 3, 1)) == [UNKNOWN]
    # The lead time is a setting.
    settings.WANGGE_CALENDAR_WARN_DAYS = 30
    assert uncovered_years(today=date(LAST, 11, 30)) == []
    assert uncovered_years(today=date(LAST, 12, 2)) == [UNKNOWN]
    # Marked complete: no warning.
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True)
    assert (
        uncovered_years(today=date(LAST, 12, 2)) == [] and coverage_warnings(today=date(UNKNOWN, 3, 1)) == []
    )


@pytest.mark.django_db
def test_no_warning_for_covered_years():
    assert coverage_warnings(today=date(LAST - 1, 12, 1)) == []  # both years in the library
    assert coverage_warnings(today=date(LAST, 6, 1)) == []  # next year not yet within the lead time


@pytest.mark.django_db
def test_system_check_warns_ahead(world, monkeypatch):
    freeze(monkeypatch, date(LAST, 10, 20))
    found = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert [m.id for m in found if m.id == "wangge.W020"] == ["wangge.W020"]
    assert calendar_coverage_check(None) == []  # without a database (plain `check`) it stays silent
    calendar_year_mark(actor=world.users.admin, year=UNKNOWN, complete=True)
    assert calendar_coverage_check(None, databases=["default"]) == []


@pytest.mark.django_db
def test_admin_pages_warn_and_mark_through_the_service(world, client, monkeypatch):
    from django.contrib.auth import get_user_model

    freeze(monkeypatch, date(LAST, 10, 20))
    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-123456789")
    client.force_login(boss)
    needle = f"{UNKNOWN}年即将开始"
    for url in ("/admin/", "/admin/events/calendarday/", "/admin/events/calendaryear/"):
        page = client.get(url)
        assert page.status_code == 200 and needle in page.content.decode(), url
    assert client.get("/admin/events/fixedholiday/").status_code == 200
    CalendarDay.objects.create(day=first_weekday(UNKNOWN, 2), is_workday=False, note="春节")
    r = client.post(
        "/admin/events/calendaryear/add/",
        {"year": str(UNKNOWN), "complete": "on", "note": "全年已录入"},
        follow=True,
    )
    assert r.status_code == 200
    row = CalendarYear.objects.get(year=UNKNOWN)
    assert row.complete and row.marked_by == boss and row.marked_at is not None
    assert AuditEntry.objects.filter(action="events.calendar_year_mark", actor=boss).count() == 1
    for url in ("/admin/", "/admin/events/calendarday/"):
        assert needle not in client.get(url).content.decode(), url
    # A bad year is a form error, not a server error.
    r = client.post("/admin/events/calendaryear/add/", {"year": "1900", "note": ""})
    assert r.status_code == 200 and CalendarYear.objects.count() == 1


@pytest.mark.django_db
def test_admin_index_warning_is_only_for_calendar_maintainers(world, client, monkeypatch):
    freeze(monkeypatch, date(LAST, 10, 20))
    staff = world.users.street1
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    page = client.get("/admin/")
    assert page.status_code == 200 and f"{UNKNOWN}年即将开始" not in page.content.decode()
