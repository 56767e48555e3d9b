"""core.db.inserts.insert_family: a row and the rows pointing at it, written as bulk_create writes them —
one statement on PostgreSQL outside a transaction, a savepoint inside one, bulk_create on SQLite."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.audit.services import audit_entry
from wangge.core.db.inserts import insert_family
from wangge.events.intake.report import event_new
from wangge.events.models import Event, StageDeadline, Status, TimelineEntry
from wangge.events.services import EventInput


def family(world: Any, code: str) -> tuple[Event, list[Any]]:
    """An unsaved event with two timeline entries, a clock and an audit row; all point at it."""
    now = timezone.now()
    event = event_new(
        data=EventInput(description="楼道堆满杂物", reporter_name="张三", reporter_phone="13812345678"),
        category=None,
        actor=world.users.grid1,
        initial=Status.objects.get(is_initial=True),
    )
    event.tracking_code = code
    event.grid = world.g111
    event.path = world.g111.code
    event.extra = {"note": "中文", "n": 1}
    children: list[Any] = [
        TimelineEntry(event=event, action="report", actor=world.users.grid1, data={"channel": "api"}),
        TimelineEntry(event=event, action="triage", public=False, data={"grid": event.path}),
        StageDeadline(
            event=event,
            stage="accept",
            started_at=now,
            warn_at=now + timedelta(hours=1),
            deadline=now + timedelta(hours=2),
        ),
        audit_entry(actor=world.users.grid1, action="event.create", obj=event, after={"ok": True}),
    ]
    return event, children


def specs(children: list[Any]) -> list[tuple[Any, str]]:
    return [(c, "object_id" if isinstance(c, AuditEntry) else "event") for c in children]


def same_as_stored(obj: Any) -> None:
    stored = type(obj).objects.get(pk=obj.pk)
    for f in type(obj)._meta.concrete_fields:
        assert getattr(obj, f.attname) == getattr(stored, f.attname), (type(obj).__name__, f.name)


def check_written(event: Event, children: list[Any]) -> None:
    assert event.pk is not None and not event._state.adding and event._state.db == "default"
    same_as_stored(event)
    for child in children:
        assert child.pk is not None and not child._state.adding
        same_as_stored(child)
    entries = [c for c in children if isinstance(c, TimelineEntry)]
    assert [e.pk for e in entries] == sorted(
        TimelineEntry.objects.filter(event=event).values_list("pk", flat=True)
    )
    assert [e.action for e in entries] == ["report", "triage"]  # each id is its own row's
    assert all(e.event is event for e in entries)  # the relation cache kept, no query
    assert AuditEntry.objects.get(pk=children[-1].pk).object_id == str(event.pk)


def check_untouched(event: Event, children: list[Any]) -> None:
    assert event.pk is None and event._state.adding
    for child in children:
        assert child.pk is None and child._state.adding
    assert children[0].event is event and children[0].event_id is None
    assert children[-1].object_id == ""


def test_family_written_as_bulk_create_writes_it(world: Any) -> None:
    event, children = family(world, "FAM0001")
    insert_family(parent=event, children=specs(children))
    check_written(event, children)


def test_conflict_writes_nothing_and_leaves_the_callers_transaction_usable(world: Any) -> None:
    first, children = family(world, "FAM0002")
    insert_family(parent=first, children=specs(children))
    before = (Event.objects.count(), TimelineEntry.objects.count(), AuditEntry.objects.count())
    twin, twin_children = family(world, "FAM0002")  # the same tracking code: a unique conflict
    with pytest.raises(IntegrityError):
        insert_family(parent=twin, children=specs(twin_children))
    check_untouched(twin, twin_children)
    # This test runs inside a transaction: it is still usable, and nothing of the twin is in it.
    assert (Event.objects.count(), TimelineEntry.objects.count(), AuditEntry.objects.count()) == before
    twin.tracking_code = "FAM0003"  # and the same instances can be written once the conflict is gone
    insert_family(parent=twin, children=specs(twin_children))
    check_written(twin, twin_children)


def test_a_child_already_pointing_elsewhere_is_refused(world: Any) -> None:
    event, children = family(world, "FAM0004")
    children[-1].object_id = "42"
    with pytest.raises(ValueError, match="object_id"):
        insert_family(parent=event, children=specs(children))
    assert not Event.objects.filter(tracking_code="FAM0004").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_one_statement_on_postgresql(world: Any) -> None:
    event, children = family(world, "FAM0005")
    with CaptureQueriesContext(connection) as q:
        insert_family(parent=event, children=specs(children))
    check_written(event, children)
    if connection.vendor == "postgresql":
        assert len(q.captured_queries) == 1  # no BEGIN, no COMMIT: the statement is the transaction
    twin, twin_children = family(world, "FAM0005")
    with pytest.raises(IntegrityError):
        insert_family(parent=twin, children=specs(twin_children))
    check_untouched(twin, twin_children)
    assert Event.objects.filter(tracking_code="FAM0005").count() == 1
    assert TimelineEntry.objects.filter(event__tracking_code="FAM0005").count() == 2
    assert AuditEntry.objects.filter(action="event.create").count() == 1
