"""core.inserts.insert_family: a row and the rows pointing at it, written as bulk_create writes them —
one statement on PostgreSQL outside a transaction, a savepoint inside one, bulk_create on SQLite."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.audit.services import audit_entry
from wangge.core import inserts
from wangge.core.inserts import insert_family
from wangge.events.models import Event, StageDeadline, Status, TimelineEntry
from wangge.events.services import EventInput, event_new


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


def test_insert_sql_compiled_once_per_shape_and_as_django_compiles_it(world: Any, monkeypatch: Any) -> None:
    def same(statement: tuple[str, tuple[Any, ...]]) -> tuple[str, list[str]]:
        return statement[0], [repr(p) for p in statement[1]]  # psycopg's Jsonb has no __eq__

    fixed = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: fixed)  # auto_now_add fields: the same value each time
    inserts._compiled.clear()
    compiled = []
    compile_ = inserts._compile
    monkeypatch.setattr(inserts, "_compile", lambda *a: compiled.append(a[0]) or compile_(*a))
    event, children = family(world, "FAM0006")
    entries = children[:2]
    for entry in entries:
        entry.event_id = RawSQL('(SELECT "id" FROM family_parent)', ())
    for model, objs in ((Event, [event]), (TimelineEntry, entries)):
        first = inserts._insert_sql(model, objs, "default")
        again = inserts._insert_sql(model, objs, "default")
        assert same(first) == same(again) == same(compile_(model, objs, "default"))
    assert compiled == [Event, TimelineEntry]  # the second of each came from the cache
    entries[1].note = "另一条"  # other values, same shape: the cached SQL, this row's parameters
    cached = inserts._insert_sql(TimelineEntry, entries, "default")
    assert same(cached) == same(compile_(TimelineEntry, entries, "default"))
    entries[1].event_id = None  # another shape: compiled anew
    fresh = inserts._insert_sql(TimelineEntry, entries, "default")
    assert same(fresh) == same(compile_(TimelineEntry, entries, "default")) and fresh[0] != cached[0]
    assert compiled == [Event, TimelineEntry, TimelineEntry]
    # Two plain rows: PostgreSQL's UNNEST form (one array per column) is never taken from the cache.
    plain = [TimelineEntry(event_id=1, action="report"), TimelineEntry(event_id=1, action="triage")]
    for _ in range(2):
        statement = inserts._insert_sql(TimelineEntry, plain, "default")
        assert same(statement) == same(compile_(TimelineEntry, plain, "default"))
    assert len(compiled) == (5 if connection.vendor == "postgresql" else 4)
