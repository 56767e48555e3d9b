"""The issue's proof: a domain the clock has never heard of — here a home-visit model of this test's own —
puts a deadline with a reminder and an escalation on its objects by calling only the public functions of
wangge.clock and wangge.notify. The sweep, at the right moments, raises the warning and sends the
reminder, then the overdue notice, then escalates to the supervisor; a visit done in time is left alone.

The model lives in an isolated app registry and its table is made by the schema editor in a transactional
test (SQLite cannot change the schema inside the test's transaction), then dropped.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.test.utils import isolate_apps

from wangge.clock.services import deadline_close, deadline_open
from wangge.clock.sweep import clock_sweep, register, unregister
from wangge.notify.models import Notification
from wangge.notify.services import notification_queue

from .helpers import at

KIND = "test.home_visit"


@pytest.fixture
def home_visit(transactional_db: Any) -> Iterator[Any]:
    user_model = get_user_model()
    with isolate_apps("wangge.clock"):

        class HomeVisit(models.Model):
            """入户走访: a visit a grid worker must make within two working days."""

            path = models.CharField(max_length=15)
            visitor = models.ForeignKey(user_model, on_delete=models.CASCADE, related_name="+")
            supervisor = models.ForeignKey(user_model, on_delete=models.CASCADE, related_name="+")

            class Meta:
                app_label = "clock"
                db_table = "clock_test_homevisit"

            def __str__(self) -> str:
                return f"入户走访 #{self.pk}"

    with connection.schema_editor() as editor:
        editor.create_model(HomeVisit)
    try:
        yield HomeVisit
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(HomeVisit)


def hooks_of_the_domain(model: Any) -> None:
    """What the domain's AppConfig.ready would register: who is told what, at each level."""

    def tell(deadline: Any, *, now: Any, kind: str, subject: str, who: str) -> int:
        visit = model.objects.get(pk=deadline.object_id)
        return notification_queue(
            kind=kind,
            key=f"visit:{visit.pk}:{deadline.pk}:{kind}",
            subject=subject,
            obj=visit,
            recipients=[getattr(visit, who)],
        )

    register(
        KIND,
        on_warning=lambda d, *, now: tell(
            d, now=now, kind="visit_remind", subject="【提醒】入户走访即将到期", who="visitor"
        ),
        on_overdue=lambda d, *, now: tell(
            d, now=now, kind="visit_overdue", subject="【催办】入户走访已超期", who="visitor"
        ),
        on_escalate=lambda d, *, now: tell(
            d, now=now, kind="visit_escalate", subject="【督办】入户走访超期未办", who="supervisor"
        ),
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_domain_gets_a_deadline_with_reminder_and_escalation(home_visit, settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.notify.channels.LogChannel"]
    users = get_user_model().objects
    worker = users.create_user("visitor-a", password="pw-123456789")
    boss = users.create_user("supervisor-a", password="pw-123456789")
    late = home_visit.objects.create(path="420802001001001", visitor=worker, supervisor=boss)
    on_time = home_visit.objects.create(path="420802001001002", visitor=worker, supervisor=boss)
    hooks_of_the_domain(home_visit)
    try:
        start = at(2025, 9, 26, 9)  # Friday before National Day; Sunday 09-28 is a make-up workday
        clock = deadline_open(
            obj=late, kind=KIND, amount=2, unit="workday", start=start, warn_ratio=0.5,
            escalate_after=1, escalate_unit="workday",
        )  # fmt: skip
        deadline_open(obj=on_time, kind=KIND, amount=2, unit="workday", start=start, warn_ratio=0.5)
        # 2 working days = 14 h: Fri 09-26 from 09:00 6.5 h, Sun 09-28 7 h, Mon 09-29 0.5 h.
        assert clock.due_at == at(2025, 9, 29, 9) and clock.warn_at == at(2025, 9, 28, 9)
        assert clock.escalate_at == at(2025, 9, 30, 9) and clock.path == late.path
        deadline_close(obj=on_time, kind=KIND)  # visited on Friday

        def about(visit: Any) -> list[tuple[str, str, str]]:
            ct = ContentType.objects.get_for_model(visit)
            rows = Notification.objects.filter(content_type=ct, object_id=visit.pk).order_by("id")
            return [(n.kind, n.recipient.username, n.state) for n in rows]

        assert clock_sweep(now=clock.warn_at - timedelta(minutes=1))["yellow"] == 0
        r = clock_sweep(now=clock.warn_at)
        assert (r["yellow"], r["notifications_sent"]) == (1, 1)
        assert about(late) == [("visit_remind", "visitor-a", "sent")]
        r = clock_sweep(now=clock.due_at)
        assert (r["red"], r["escalated"], r["notifications_sent"]) == (1, 0, 1)
        r = clock_sweep(now=clock.escalate_at)
        assert (r["escalated"], r["notifications_sent"]) == (1, 1)
        assert about(late) == [
            ("visit_remind", "visitor-a", "sent"),
            ("visit_overdue", "visitor-a", "sent"),
            ("visit_escalate", "supervisor-a", "sent"),
        ]
        assert Notification.objects.get(kind="visit_escalate").path == late.path
        r = clock_sweep(now=clock.escalate_at + timedelta(days=7))  # nothing twice
        assert (r["yellow"], r["red"], r["escalated"], r["notifications_queued"]) == (0, 0, 0, 0)
        assert len(about(late)) == 3 and about(on_time) == []
    finally:
        unregister(KIND)
