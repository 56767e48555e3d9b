"""Calendar coverage per year: which years the working-day clock knows, who marked a local calendar
complete, and the warnings ahead of a year nobody has covered yet.

A year is covered when the installed `chinesecalendar` ships the State Council schedule for it, or when
an administrator has entered the year's holidays and make-up workdays (CalendarDay) and marked it
complete (CalendarYear, through `calendar_year_mark`). Until then the clock counts Monday to Friday
without the fixed-date holidays (FixedHoliday) and flags the deadlines it computed. The warning starts
settings.WANGGE_CALENDAR_WARN_DAYS days before 1 January (default 92: from 1 October) and is shown on
the admin index, on the calendar changelists, and by the system check `wangge.W020`
(`manage.py check --database default`, and every `migrate`).
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput
from wangge.core.guards import clean_text, require_district_admin

from .calendar import library_knows_year, library_years
from .models import CalendarDay, CalendarYear, FixedHoliday

YEAR_MIN, YEAR_MAX = 2000, 2100


def complete_years() -> set[int]:
    """Years whose local calendar an administrator marked complete (read fresh: admin pages, checks)."""
    return set(CalendarYear.objects.filter(complete=True).values_list("year", flat=True))


def years_ahead(today: date) -> list[int]:
    """This year, and next year once it is WANGGE_CALENDAR_WARN_DAYS days away or nearer."""
    lead = timedelta(days=int(getattr(settings, "WANGGE_CALENDAR_WARN_DAYS", 92)))
    years = [today.year]
    if date(today.year + 1, 1, 1) - today <= lead:
        years.append(today.year + 1)
    return years


def uncovered_years(*, today: date | None = None) -> list[int]:
    """The years of `years_ahead` that neither the library nor a completed local calendar covers."""
    today = today or timezone.localdate()
    candidates = [y for y in years_ahead(today) if not library_knows_year(y)]
    if not candidates:
        return []  # the usual case: no query at all
    done = complete_years()
    return [y for y in candidates if y not in done]


def coverage_warnings(*, today: date | None = None) -> list[str]:
    """One Chinese message per uncovered year (empty when every year that matters is covered)."""
    today = today or timezone.localdate()
    years = uncovered_years(today=today)
    if not years:
        return []
    names = list(
        dict.fromkeys(
            FixedHoliday.objects.filter(active=True).order_by("month", "day").values_list("name", flat=True)
        )
    )
    kept = f"只扣除固定日期的节日（{'、'.join(names)}）" if names else "未扣除任何节日"
    first, last = library_years()
    out = []
    for year in years:
        when = f"{year}年即将开始，" if year > today.year else ""
        out.append(
            f"{when}{year}年的官方放假安排尚未收录（已安装的节假日库只含{first}—{last}年），本地日历也未标记为完整："
            f"该年的时限暂按周一至周五推算，{kept}；春节、清明、端午、中秋等农历节日和调休上班日无法推算，"
            f"须在“工作日历调整”中逐日录入，录完后在“日历年度覆盖”中将{year}年标记为完整（或升级 chinesecalendar）。"
        )
    return out


def calendar_year_mark(
    *,
    actor: Any,
    year: int,
    complete: bool,
    note: str = "",
    now: datetime | None = None,
    model: type[CalendarYear] = CalendarYear,
    action: str = "clock.calendar_year_mark",
) -> CalendarYear:
    """Mark (or unmark) a year's local calendar as completely entered; records who and when (on each
    change of `complete`) and writes an audit row. District administrators only.

    `model` may be a domain's proxy of CalendarYear and `action` its audit action, so an older admin
    entry point keeps its audit labels (events.coverage)."""
    require_district_admin(actor, "仅区级管理员可以标记日历年度")
    if isinstance(year, bool) or not isinstance(year, int) or not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"年份须在{YEAR_MIN}至{YEAR_MAX}之间", code="invalid_year")
    note = clean_text(note, "说明", 200)
    now = now or timezone.now()
    who = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        row = model.objects.select_for_update().filter(year=year).first()
        before = None if row is None else {"complete": row.complete, "note": row.note}
        if row is None:
            row = model(year=year)
        if before is None or before["complete"] != bool(complete):
            row.marked_by, row.marked_at = who, now
        row.complete, row.note = bool(complete), note
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise Conflict("该年份已被他人同时标记，请刷新后重试", code="duplicate") from None
        audit_record(
            actor=actor,
            action=action,
            obj=row,
            before=before,
            after={
                "year": year,
                "complete": row.complete,
                "note": note,
                "local_days": CalendarDay.objects.filter(day__year=year).count(),
            },
            reason=note,
        )
    return row


@checks.register(checks.Tags.database)
def calendar_coverage_check(
    app_configs: Any, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """wangge.W020 for each year ahead that the working-day clock does not know (needs the database)."""
    if not databases:
        return []
    try:
        messages = coverage_warnings()
    except DatabaseError:  # tables not migrated yet (migrate runs the checks first)
        return []
    return [checks.Warning(m, id="wangge.W020") for m in messages]
