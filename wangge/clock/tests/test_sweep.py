"""Generic deadlines: open/close/cancel, the sweep's hooks (once per level), escalation, sources."""

from datetime import timedelta
from typing import Any

import pytest

from wangge.audit.models import AuditEntry
from wangge.clock import sweep
from wangge.clock.calendar import WorkCalendar
from wangge.clock.models import Deadline, Warning
from wangge.clock.selectors import deadline_for, deadline_list
from wangge.clock.services import deadline_cancel, deadline_close, deadline_open
from wangge.core.errors import Conflict, InvalidInput, NotFound

from .helpers import at

KIND = "test.inspection"
START = at(2025, 3, 10, 8, 30)  # Monday


@pytest.fixture
def calls() -> Any:
    seen: list[tuple[str, int, str]] = []

    def hook(name: str) -> Any:
        return lambda deadline, *, now: seen.append((name, deadline.pk, deadline.level)) or 1

    sweep.register(KIND, on_warning=hook("warning"), on_overdue=hook("overdue"), on_escalate=hook("escalate"))
    yield seen
    sweep.unregister(KIND)


def open_on(obj: Any, **kw: Any) -> Deadline:
    args = {"obj": obj, "kind": KIND, "amount": 2, "unit": "workday", "start": START}
    args.update(kw)
    return deadline_open(calendar=WorkCalendar(overrides={}), **args)


@pytest.mark.django_db
def test_open_computes_the_clock_on_the_calendar_and_is_audited(world):
    d = open_on(world.g111, actor=world.users.community1)
    assert (d.due_at, d.warn_at) == (at(2025, 3, 11, 17, 30), at(2025, 3, 11, 14, 42))
    assert (d.level, d.state, d.path, d.escalate_at) == (
        Warning.NONE,
        Deadline.State.OPEN,
        world.g111.path,
        None,
    )
    entry = AuditEntry.objects.get(action="deadline.open")
    assert entry.actor == world.users.community1 and entry.object_id == str(d.pk)
    assert deadline_for(obj=world.g111, kind=KIND) == d
    with pytest.raises(Conflict):
        open_on(world.g111)
    again = open_on(world.g111, amount=1, replace=True)
    d.refresh_from_db()
    assert d.state == Deadline.State.CANCELLED and deadline_for(obj=world.g111, kind=KIND) == again


@pytest.mark.django_db
def test_bad_input_is_refused_and_writes_nothing(world):
    for kw in ({"unit": "week"}, {"amount": -1}, {"kind": ""}, {"amount": True}, {"warn_ratio": 2}):
        with pytest.raises(InvalidInput):
            open_on(world.g111, **kw)
    assert not Deadline.objects.exists() and not AuditEntry.objects.filter(action="deadline.open").exists()


@pytest.mark.django_db
def test_the_sweep_calls_each_hook_once_per_level_and_escalates_once(world, calls):
    d = open_on(world.g111, escalate_after=1, escalate_unit="workhour")
    assert d.escalate_at == at(2025, 3, 12, 9, 30)
    assert sweep.clock_sweep(now=d.warn_at - timedelta(seconds=1))["yellow"] == 0 and calls == []
    r = sweep.clock_sweep(now=d.warn_at)
    assert (r["yellow"], r["red"], r["notifications_queued"]) == (1, 0, 1)
    assert calls == [("warning", d.pk, Warning.YELLOW)]
    assert sweep.clock_sweep(now=d.warn_at + timedelta(minutes=5))["yellow"] == 0  # idempotent
    r = sweep.clock_sweep(now=d.due_at)
    assert r["red"] == 1 and r["escalated"] == 0
    assert calls[-1] == ("overdue", d.pk, Warning.RED)
    r = sweep.clock_sweep(now=d.escalate_at)
    assert r["escalated"] == 1 and calls[-1] == ("escalate", d.pk, Warning.RED)
    for _ in range(2):
        r = sweep.clock_sweep(now=d.escalate_at + timedelta(days=3))
        assert (r["yellow"], r["red"], r["escalated"]) == (0, 0, 0)
    assert [c[0] for c in calls] == ["warning", "overdue", "escalate"]
    d.refresh_from_db()
    assert (d.level, d.escalated_at) == (Warning.RED, d.escalate_at)
    actions = list(
        AuditEntry.objects.filter(object_type="clock.deadline", object_id=str(d.pk))
        .order_by("id")
        .values_list("action", "after")
    )
    assert [a for a, _ in actions] == [
        "deadline.open",
        "deadline.warning",
        "deadline.warning",
        "deadline.escalate",
    ]


@pytest.mark.django_db
def test_first_sweep_after_the_deadline_goes_straight_to_red(world, calls):
    d = open_on(world.g111)
    r = sweep.clock_sweep(now=d.due_at + timedelta(hours=1))
    assert (r["yellow"], r["red"]) == (0, 1) and calls == [("overdue", d.pk, Warning.RED)]


@pytest.mark.django_db
def test_a_closed_or_cancelled_deadline_is_not_swept(world, calls):
    done = open_on(world.g111)
    dropped = open_on(world.g112)
    deadline_close(
        obj=world.g111, kind=KIND, actor=world.users.grid1, now=done.warn_at - timedelta(minutes=1)
    )
    deadline_cancel(obj=world.g112, kind=KIND, reason="不再需要")
    assert sweep.clock_sweep(now=done.due_at + timedelta(days=1))["red"] == 0 and calls == []
    done.refresh_from_db()
    assert (done.state, done.level) == (Deadline.State.MET, Warning.NONE)
    assert AuditEntry.objects.filter(action="deadline.cancel", object_id=str(dropped.pk)).exists()
    with pytest.raises(NotFound):
        deadline_close(obj=world.g111, kind=KIND)


@pytest.mark.django_db
def test_a_failing_hook_keeps_the_level_for_the_next_sweep_and_others_go_on(world):
    attempts: list[int] = []

    def broken(deadline: Deadline, *, now: Any) -> None:
        attempts.append(deadline.pk)
        if len(attempts) == 1:
            raise RuntimeError("gateway down")

    sweep.register(KIND, on_overdue=broken)
    try:
        first, second = open_on(world.g111), open_on(world.g112, start=START + timedelta(minutes=1))
        r = sweep.clock_sweep(now=second.due_at)
        assert r["red"] == 1 and r.errors == [f"deadline {first.pk}: RuntimeError"]
        first.refresh_from_db()
        assert first.level == Warning.NONE  # rolled back with the hook
        assert sweep.clock_sweep(now=second.due_at)["red"] == 1 and attempts == [
            first.pk,
            second.pk,
            first.pk,
        ]
    finally:
        sweep.unregister(KIND)


@pytest.mark.django_db
def test_sources_are_run_with_the_final_ones_last_and_a_failure_is_reported(world):
    order: list[str] = []
    sweep.register_source("test-final", lambda *, now: order.append("final") or {"done": 1}, final=True)
    sweep.register_source("test-a", lambda *, now: order.append("a") or {"done": 2, "errors": ["x"]})
    sweep.register_source("test-b", lambda *, now: 1 / 0)
    try:
        r = sweep.clock_sweep(now=START)
    finally:
        for name in ("test-final", "test-a", "test-b"):
            sweep.unregister_source(name)
    assert order.index("a") < order.index("final") and r["done"] == 3
    assert "x" in r.errors and "test-b: ZeroDivisionError" in r.errors


@pytest.mark.django_db
def test_deadline_lists_are_scoped_by_territory(world):
    here, there = open_on(world.g111), open_on(world.g211)
    assert list(deadline_list(user=world.users.community1)) == [here]
    assert set(deadline_list(user=world.users.admin)) == {here, there}
    assert list(deadline_list(user=world.users.resident1, kind="other")) == []
