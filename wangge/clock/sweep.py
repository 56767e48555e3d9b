"""The periodic sweep: raise the warning level of due deadlines and call the domains' hooks.

Domains plug in two ways, both from their AppConfig.ready:

- `register(kind, on_warning=…, on_overdue=…, on_escalate=…)` for generic Deadline rows of `kind`.
  Each hook is `hook(deadline, *, now) -> int | None` (an int: notifications it queued) and runs inside
  the transaction that records the change, so a hook that fails rolls the change back and the next
  sweep tries again. Levels only rise, each change is won by one conditional update, so a hook is called
  once per level however many sweeps run: on_warning when the level becomes yellow, on_overdue when it
  becomes red (a deadline swept for the first time after it ran out goes straight to red: on_overdue
  only), on_escalate once when escalate_at has passed.
- `register_source(name, fn)` for a domain that keeps its own deadline columns: `fn(*, now)` returns a
  mapping of counts (ints are added up, lists joined — "errors" are reported, "notes" are lines the
  `wangge sweep` command prints —, anything else kept as it is). Sources
  registered with `final=True` (notification delivery) run after all the others.

Scheduling: the django-tasks db_worker has no scheduler. The embedded install runs `wangge sweep --loop
60`; production runs `wangge sweep` from cron or a systemd timer every minute (or enqueues
wangge.clock.tasks.clock_sweep_task).
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangge.audit.services import audit_record

from .deadlines import level_rises, warning_due
from .models import Deadline, Warning

logger = logging.getLogger("wangge.clock")

Hook = Callable[..., Any]
Source = Callable[..., Mapping[str, Any]]


@dataclass(frozen=True)
class Hooks:
    on_warning: Hook | None = None
    on_overdue: Hook | None = None
    on_escalate: Hook | None = None


_hooks: dict[str, Hooks] = {}
_sources: dict[str, tuple[Source, bool]] = {}


def register(
    kind: str,
    *,
    on_warning: Hook | None = None,
    on_overdue: Hook | None = None,
    on_escalate: Hook | None = None,
) -> None:
    """Hooks for deadlines of `kind` (registering again replaces them)."""
    _hooks[kind] = Hooks(on_warning=on_warning, on_overdue=on_overdue, on_escalate=on_escalate)


def unregister(kind: str) -> None:
    _hooks.pop(kind, None)


def hooks_for(kind: str) -> Hooks:
    return _hooks.get(kind, Hooks())


def register_source(name: str, fn: Source, *, final: bool = False) -> None:
    """A sweep of a domain's own clocks, run by every clock_sweep (registering again replaces it)."""
    _sources[name] = (fn, final)


def unregister_source(name: str) -> None:
    _sources.pop(name, None)


def sources() -> list[tuple[str, Source]]:
    """Registered sources in order: the others first, then the final ones."""
    items = list(_sources.items())
    return [(n, fn) for n, (fn, final) in items if not final] + [(n, fn) for n, (fn, final) in items if final]


@dataclass
class SweepCounts:
    """What one clock_sweep did, added up over the generic deadlines and every source."""

    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, values: Mapping[str, Any] | None) -> None:
        for key, value in (values or {}).items():
            if key == "errors":
                self.errors.extend(str(e) for e in value or ())
            elif isinstance(value, list):
                self.counts.setdefault(key, []).extend(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                self.counts[key] = int(self.counts.get(key) or 0) + value
            else:
                self.counts[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.counts.get(key, 0)

    def as_dict(self) -> dict[str, Any]:
        return {**self.counts, "errors": list(self.errors)}


def due_deadlines(*, now: datetime) -> Any:
    """Open deadlines whose level must rise or whose escalation is due at `now` (indexed columns)."""
    due = (
        (Q(due_at__lte=now) & ~Q(level=Warning.RED))
        | (Q(warn_at__lte=now) & Q(level=Warning.NONE))
        | (Q(escalate_at__lte=now) & Q(escalated_at__isnull=True))
    )
    return Deadline.objects.filter(due, state=Deadline.State.OPEN)


def _call(hook: Hook | None, row: Deadline, now: datetime) -> int:
    if hook is None:
        return 0
    queued = hook(row, now=now)
    return queued if isinstance(queued, int) and not isinstance(queued, bool) else 0


def deadline_raise(*, deadline_id: int, now: datetime | None = None) -> dict[str, int] | None:
    """Bring one deadline up to date at `now`: raise its level (hook on_warning/on_overdue) and escalate
    it when due (hook on_escalate), each in one transaction with an audit row. None when nothing changed
    (or another sweep changed it first)."""
    now = now or timezone.now()
    out = {"yellow": 0, "red": 0, "escalated": 0, "notifications_queued": 0}
    with transaction.atomic():
        row = Deadline.objects.filter(pk=deadline_id, state=Deadline.State.OPEN).first()
        if row is None:
            return None
        hooks = hooks_for(row.kind)
        old = row.level
        new = warning_due(warn_at=row.warn_at, deadline=row.due_at, now=now)
        if level_rises(old, new):
            won = Deadline.objects.filter(pk=row.pk, state=Deadline.State.OPEN, level=old).update(level=new)
            if won:
                row.level = new
                audit_record(
                    actor=None,
                    action="deadline.warning",
                    obj=row,
                    before={"level": old},
                    after={"level": new},
                )
                hook = hooks.on_overdue if new == Warning.RED else hooks.on_warning
                out["notifications_queued"] += _call(hook, row, now)
                out["red" if new == Warning.RED else "yellow"] += 1
    if row.escalate_at is not None and row.escalate_at <= now and row.escalated_at is None:
        with transaction.atomic():
            won = Deadline.objects.filter(
                pk=row.pk, state=Deadline.State.OPEN, escalated_at__isnull=True
            ).update(escalated_at=now)
            if won:
                row.escalated_at = now
                audit_record(actor=None, action="deadline.escalate", obj=row, after={"at": now.isoformat()})
                out["notifications_queued"] += _call(hooks.on_escalate, row, now)
                out["escalated"] += 1
    return out if any(out.values()) else None


def due_ids(due: Callable[[], Any], *, order_by: tuple[str, ...], batch: int) -> Iterator[int]:
    """Ids of the rows `due()` returns, in batches of `batch`, each id once: a row that stays due after
    it was handled (a failed hook, a refused escalation) is not picked again in this pass."""
    seen: set[int] = set()
    while True:
        ids = [
            pk
            for pk in due().order_by(*order_by).values_list("pk", flat=True)[: batch + len(seen)]
            if pk not in seen
        ][:batch]
        if not ids:
            return
        for pk in ids:
            seen.add(pk)
            yield pk


def deadlines_sweep(*, now: datetime, batch: int = 500) -> dict[str, Any]:
    """The generic Deadline rows: every due one brought up to date (one bad row never stops the rest)."""
    counts: dict[str, Any] = {"yellow": 0, "red": 0, "escalated": 0, "notifications_queued": 0}
    errors: list[str] = []
    for pk in due_ids(lambda: due_deadlines(now=now), order_by=("due_at", "id"), batch=batch):
        try:
            changed = deadline_raise(deadline_id=pk, now=now)
        except Exception as exc:  # one bad row (or hook) must not stop the sweep
            logger.exception("sweep: deadline %s failed", pk)
            errors.append(f"deadline {pk}: {type(exc).__name__}")
            continue
        for key, value in (changed or {}).items():
            counts[key] += value
    counts["errors"] = errors
    return counts


def clock_sweep(*, now: datetime | None = None) -> SweepCounts:
    """One pass: the generic deadlines, then every registered source (final ones last)."""
    now = now or timezone.now()
    result = SweepCounts()
    result.add(deadlines_sweep(now=now))
    for name, fn in sources():
        try:
            result.add(fn(now=now))
        except Exception as exc:  # one domain's failure must not stop the others
            logger.exception("sweep: source %s failed", name)
            result.errors.append(f"{name}: {type(exc).__name__}")
    return result
