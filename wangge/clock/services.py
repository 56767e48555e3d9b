"""Writes of generic deadlines: open, close (met), cancel. Keyword-only, one transaction, audited.

A deadline belongs to any object (`obj`, stored as content type + id) and carries the object's territory
path for scoping. What happens when it warns, runs out or is escalated is up to the domain: hooks
registered per `kind` with clock.sweep.register.
"""

from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput, NotFound

from .calendar import WorkCalendar, installation_calendar
from .deadlines import deadline_compute
from .models import Deadline, Warning


def _subject(obj: models.Model) -> tuple[ContentType, int]:
    if obj is None or obj.pk is None:
        raise InvalidInput("时限须属于已保存的对象", code="invalid_subject")
    return ContentType.objects.get_for_model(obj), int(obj.pk)


def deadline_open(
    *,
    obj: models.Model,
    kind: str,
    amount: float,
    unit: str,
    actor: Any = None,
    start: datetime | None = None,
    warn_ratio: float = 0.8,
    escalate_after: float | None = None,
    escalate_unit: str | None = None,
    path: str | None = None,
    data: dict[str, Any] | None = None,
    replace: bool = False,
    calendar: WorkCalendar | None = None,
) -> Deadline:
    """Start a clock of `amount` `unit` (workday | workhour | minute | day) on `obj` for `kind`.

    The warning is due when `warn_ratio` of the limit has passed; with `escalate_after` the deadline is
    escalated that long (in `escalate_unit`, default `unit`) after it ran out (0 = when it runs out).
    One open deadline per object and kind: Conflict, unless `replace` cancels the open one first.
    `path` defaults to obj.path (territory scoping of lists).
    """
    kind = (kind or "").strip()
    if not kind or len(kind) > 64:
        raise InvalidInput("时限类型须为1至64个字符", code="invalid_kind")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount <= 100_000:
        raise InvalidInput("时限须为0至100000之间的数", code="invalid_amount")
    if escalate_after is not None and (
        isinstance(escalate_after, bool) or not 0 <= escalate_after <= 100_000
    ):
        raise InvalidInput("上报时限须为0至100000之间的数", code="invalid_amount")
    ct, object_id = _subject(obj)
    now = timezone.now()
    start = start or now
    cal = calendar if calendar is not None else installation_calendar()
    try:
        times = deadline_compute(start=start, amount=amount, unit=unit, warn_ratio=warn_ratio, calendar=cal)
        escalate_at = (
            None
            if escalate_after is None
            else cal.deadline(times.due_at, escalate_after, escalate_unit or unit)
        )
    except ValueError as exc:
        raise InvalidInput(f"时限无效：{exc}", code="invalid_limit") from None
    path = str(getattr(obj, "path", "") or "") if path is None else path
    with transaction.atomic():
        current = Deadline.objects.select_for_update().filter(
            content_type=ct, object_id=object_id, kind=kind, state=Deadline.State.OPEN
        )
        if current.exists():
            if not replace:
                raise Conflict("该对象已有进行中的同类时限", code="deadline_open")
            for row in current:
                _finish(row, state=Deadline.State.CANCELLED, actor=actor, now=now, reason="replaced")
        row = Deadline(
            content_type=ct,
            object_id=object_id,
            kind=kind,
            path=path[: Deadline._meta.get_field("path").max_length],
            amount=amount,
            unit=unit,
            started_at=times.started_at,
            warn_at=times.warn_at,
            due_at=times.due_at,
            escalate_at=escalate_at,
            # Always "none", also for a clock started in the past: the sweep raises it and calls the hooks.
            level=Warning.NONE,
            calendar_fallback=times.fallback_used or cal.fallback_used,
            data=data or {},
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise Conflict("该对象已有进行中的同类时限", code="deadline_open") from None
        audit_record(
            actor=actor,
            action="deadline.open",
            obj=row,
            after={
                "kind": kind,
                "subject": f"{ct.app_label}.{ct.model}#{object_id}",
                "amount": amount,
                "unit": unit,
                "due_at": row.due_at.isoformat(),
                "warn_at": row.warn_at.isoformat(),
                "escalate_at": row.escalate_at.isoformat() if row.escalate_at else None,
            },
        )
    return row


def _finish(row: Deadline, *, state: str, actor: Any, now: datetime, reason: str = "") -> Deadline:
    before = {"state": row.state, "level": row.level}
    row.state, row.closed_at = state, now
    row.save(update_fields=["state", "closed_at"])
    audit_record(
        actor=actor,
        action="deadline.close" if state == Deadline.State.MET else "deadline.cancel",
        obj=row,
        before=before,
        after={"state": state, "late": row.due_at <= now},
        reason=reason,
    )
    return row


def _open_row(obj: models.Model, kind: str) -> Deadline:
    ct, object_id = _subject(obj)
    row = (
        Deadline.objects.select_for_update()
        .filter(content_type=ct, object_id=object_id, kind=kind, state=Deadline.State.OPEN)
        .first()
    )
    if row is None:
        raise NotFound("没有进行中的时限", code="no_open_deadline")
    return row


def deadline_close(
    *, obj: models.Model, kind: str, actor: Any = None, now: datetime | None = None
) -> Deadline:
    """The work was done: stop the clock (state met; `level` keeps whether it was late)."""
    with transaction.atomic():
        return _finish(_open_row(obj, kind), state=Deadline.State.MET, actor=actor, now=now or timezone.now())


def deadline_cancel(
    *, obj: models.Model, kind: str, actor: Any = None, reason: str = "", now: datetime | None = None
) -> Deadline:
    """The timed work no longer applies: stop the clock without judging it."""
    with transaction.atomic():
        return _finish(
            _open_row(obj, kind),
            state=Deadline.State.CANCELLED,
            actor=actor,
            now=now or timezone.now(),
            reason=(reason or "")[:500],
        )
