from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from wangge.clock.calendar import WorkCalendar
from wangge.core.errors import Conflict, InvalidInput
from wangge.events.models import Event, TimelineEntry
from wangge.events.services import EventInput, event_create, event_transition

TZ = ZoneInfo("Asia/Shanghai")


def test_calendar_national_day_and_make_up_workday():
    cal = WorkCalendar(overrides={})
    # 2025-09-28 (Sunday) is a 调休 make-up workday; 2025-10-01..08 are holidays.
    assert cal.is_workday(datetime(2025, 9, 28).date())
    assert not cal.is_workday(datetime(2025, 10, 3).date())
    # Working day = 08:30-12:00 + 14:00-17:30 = 7 h. From Tuesday 2025-09-30 16:00: 1.5 h that day, then
    # the National Day holiday (10-01..10-08), then 3.5 h + 2 h on Thursday 2025-10-09 -> 16:00.
    start = datetime(2025, 9, 30, 16, 0, tzinfo=TZ)
    deadline = cal.deadline(start, 1, "workday")
    assert deadline.astimezone(TZ) == datetime(2025, 10, 9, 16, 0, tzinfo=TZ)
    assert not cal.fallback_used


def test_calendar_unknown_year_falls_back_to_weekdays():
    cal = WorkCalendar(overrides={})
    assert cal.is_workday(datetime(2031, 1, 6).date())  # a Monday
    assert cal.fallback_used


@pytest.mark.django_db
def test_create_is_idempotent_and_transitions_follow_graph(world):
    data = EventInput(description="小区门口油烟很大", lat=31.0325, lng=112.2025, channel="api")
    e1, created1 = event_create(data=data, idempotency_key="k-1")
    e2, created2 = event_create(data=data, idempotency_key="k-1")
    assert created1 and not created2 and e1.pk == e2.pk
    assert Event.objects.count() == 1
    assert e1.status.code == "pending" and e1.deadline is not None
    with pytest.raises(Conflict):
        event_transition(event_id=e1.pk, target="closed", actor=world.users.admin)
    with pytest.raises(InvalidInput):
        event_transition(event_id=e1.pk, target="rejected", actor=world.users.admin, note="")
    e = event_transition(event_id=e1.pk, target="accepted", actor=world.users.admin)
    assert e.status.code == "accepted" and e.stage == "dispatch" and e.version == 1
    # A stale version loses.
    with pytest.raises(Conflict):
        event_transition(event_id=e1.pk, target="dispatched", actor=world.users.admin, expected_version=0)
    assert list(TimelineEntry.objects.filter(event=e).values_list("action", flat=True)) == [
        "report",
        "accept",
    ]
