"""The events configuration every report needs (categories, time limits, the initial status, status
names, local calendar days, years marked complete, fixed-date holidays), read once and kept per process.

Intake runs per request; reading five small tables each time cost a third of a single create. A change
saved in this process (admin, configuration API, or any ORM write: the model signals below) is seen at
once; another worker process sees it within RECHECK_SECONDS. Objects handed out are shared: read them,
never change them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from wangge.clock import models as clock_models
from wangge.clock.calendar import WorkCalendar, calendar_data_load, calendar_forget
from wangge.core.errors import InvalidInput

from .models import CalendarDay, CalendarYear, Category, FixedHoliday, Status, TimeLimit

RECHECK_SECONDS = 10.0
_lock = threading.Lock()
_current: Reference | None = None


class Reference:
    """What every report of an intake call needs, read together."""

    def __init__(self) -> None:
        cats = list(Category.objects.all())
        by_pk = {c.pk: c for c in cats}
        for c in cats:  # walk parents without a query (time_limit_for climbs the tree)
            if c.parent_id:
                c.parent = by_pk.get(c.parent_id)
        self.active = {c.code: c for c in cats if c.active}
        self.by_pk = by_pk
        self.limits = list(TimeLimit.objects.all())
        statuses = list(Status.objects.order_by("sort", "pk"))
        self.status_names = {s.code: s.name for s in statuses}
        self.status_by_pk = {s.pk: s for s in statuses}
        self._initial = next((s for s in statuses if s.is_initial), None)
        self.calendar_data = calendar_data_load()
        self.overrides = self.calendar_data.overrides
        self.loaded_at = time.monotonic()

    @property
    def initial(self) -> Status:
        if self._initial is None:
            raise InvalidInput("未配置初始状态", code="no_initial_status")
        return self._initial

    @property
    def calendar(self) -> WorkCalendar:
        """A fresh calendar per use (it records whether the Mon–Fri fallback answered)."""
        data = self.calendar_data
        return WorkCalendar(
            overrides=data.overrides, complete_years=data.complete_years, fixed_holidays=data.fixed_holidays
        )

    @property
    def threshold(self) -> float:
        return float(settings.WANGGE_CLASSIFY_THRESHOLD)


def reference() -> Reference:
    """This process's reference data, reloaded when older than RECHECK_SECONDS or changed here."""
    global _current
    ref = _current
    if ref is not None and time.monotonic() - ref.loaded_at < RECHECK_SECONDS:
        return ref
    with _lock:
        ref = Reference()
        _current = ref
        return ref


def reference_reset(**_: Any) -> None:
    """Forget this process's copy now, and again when the writing transaction commits (a reload by
    another thread in between would still read the old rows)."""
    global _current
    _current = None
    transaction.on_commit(reference_forget)


def reference_forget() -> None:
    """Drop this process's copy, and the clock's copy of the calendar (tests: a rolled-back transaction
    sends no signal)."""
    global _current
    _current = None
    calendar_forget()


# The calendar rows are saved through wangge.clock's models or the events' proxies of them: both count.
_CALENDAR = (clock_models.CalendarDay, clock_models.CalendarYear, clock_models.FixedHoliday)
for _model in (Category, Status, TimeLimit, CalendarDay, CalendarYear, FixedHoliday, *_CALENDAR):
    post_save.connect(reference_reset, sender=_model, dispatch_uid=f"reference-{_model._meta.label}-save")
    post_delete.connect(reference_reset, sender=_model, dispatch_uid=f"reference-{_model._meta.label}-del")
