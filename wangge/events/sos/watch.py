"""SOS watch (S6): an SOS or life-safety alarm must be acknowledged within minutes, day and night.

The on-duty chain is data (`SosStep`, seeded grid worker 5 min → community staff 5 → street staff 5 →
district admin 10, editable in the admin). A watch stores the current step and its deadline; the clock
is CALENDAR-INDEPENDENT (plain minutes: nights, weekends and holidays count). `sos_sweep` (called by the
periodic sweep, or standalone) moves every unacknowledged watch whose deadline passed to the next step;
after the last step it keeps re-alerting the last step every its minutes. Every step is a timeline entry
(`sos_start`, `sos_escalate`, `sos_realert`, `sos_ack`) with its times, and queued Notifications
(kind "sos") to the users of the step: users with the step's role bound to the event's territory node at
the step's level or one of its ancestors (plus, at grid level, the grid's current assigned staff).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from wangge.accounts.roles import STAFF_ROLES
from wangge.audit.models import AuditEntry
from wangge.audit.services import audit_entry, audit_record
from wangge.core.errors import Conflict, NotFound, ServiceError
from wangge.core.scope import path_in_scope, q_everything, user_scope_path

from .. import notify
from ..common import (
    LEVEL_CODE_LENGTH,
    action_require,
    actor_fields,
    event_scope_path,
    sos_visible,
    timeline_append,
)
from ..models import Event, SosStep, SosWatch, TimelineEntry, Urgency

log = logging.getLogger(__name__)


def _steps() -> list[SosStep]:
    return list(SosStep.objects.order_by("order"))


def sos_step_users(*, step: SosStep, path: str) -> QuerySet[Any]:
    """Active users with the step's role bound to the node of `path` at the step's level, or above it."""
    User = get_user_model()
    if not path:
        # Not located anywhere: the district command centre is on duty for it.
        return User.objects.filter(role=step.role, is_active=True, territory__level="district").order_by("pk")
    node = path[: LEVEL_CODE_LENGTH.get(step.level, len(path))]
    prefixes = [node[:n] for n in sorted(set(LEVEL_CODE_LENGTH.values())) if n <= len(node)]
    if not prefixes:
        return User.objects.none()
    q = Q(territory__code__in=prefixes)
    if step.level == "grid" and len(node) == LEVEL_CODE_LENGTH["grid"]:
        today = timezone.localdate()
        q |= Q(
            grid_assignments__grid__code=node,
            grid_assignments__since__lte=today,
        ) & (Q(grid_assignments__until__isnull=True) | Q(grid_assignments__until__gte=today))
    return User.objects.filter(q, role=step.role, is_active=True).distinct().order_by("pk")


def _message(*, event: Event, step: SosStep, users: list[Any], deadline: datetime) -> notify.Message:
    """The "sos" notification to the users of the step (dedupe: event, step, deadline, user, channel)."""
    device = (event.extra or {}).get("device") or {}
    where = event.address or "（位置见事件详情）"
    # A wearable or sensor says which device called; a 特急 report from another channel has none.
    subject = (f"【特急·一键呼叫】{event.title}" if device else f"【特急】{event.title}")[:200]
    via = f"设备：{device.get('kind_display', '')} {device.get('device_id', '')}\n" if device else ""
    body = (
        f"事件 {event.tracking_code}：{event.title}\n位置：{where}\n{via}"
        f"请在 {timezone.localtime(deadline):%H:%M} 前确认（第{step.order}级值守，{step.minutes}分钟），"
        f"详情 /events/{event.pk}/"
    )
    log.warning(
        "SOS alert event=%s step=%s role=%s recipients=%d deadline=%s",
        event.pk,
        step.order,
        step.role,
        len(users),
        deadline.isoformat(),
    )
    key = f"sos:{event.pk}:{step.order}:{int(deadline.timestamp())}"
    return notify.Message(kind="sos", key=key, subject=subject, body=body, event=event, recipients=users)


def _notify(*, event: Event, step: SosStep, users: list[Any], deadline: datetime) -> int:
    """Queue the step's notifications on every configured channel; delivered after commit."""
    queued = notify.notification_queue_many(
        messages=[_message(event=event, step=step, users=users, deadline=deadline)]
    )[0]
    if queued:
        notify.notifications_send_on_commit()
    return queued


_NOTES = {
    "sos_start": "一键呼叫值守开始：通知第{order}级（{level}）",
    "sos_escalate": "超时未确认，升级到第{order}级（{level}）",
    "sos_realert": "仍未确认，再次通知第{order}级（{level}）",
}

OnDuty = dict[tuple[int, str], list[Any]]


def _on_duty(step: SosStep, path: str, memo: OnDuty | None) -> list[Any]:
    """`sos_step_users`, remembered per (step, territory node) when a batch starts many watches."""
    if memo is None:
        return list(sos_step_users(step=step, path=path))
    key = (step.pk, path[: LEVEL_CODE_LENGTH.get(step.level, len(path))])
    if key not in memo:
        memo[key] = list(sos_step_users(step=step, path=path))
    return memo[key]


def _plan_step(
    *, event: Event, steps: list[SosStep], index: int, now: datetime, memo: OnDuty | None = None
) -> tuple[SosStep, list[Any], list[TimelineEntry]]:
    """The step a watch goes to from steps[index] — a step with nobody on duty is skipped (the last one
    never is) — its users, and the unsaved `sos_skip` timeline entries of the skipped steps."""
    path = event_scope_path(event)
    skipped: list[TimelineEntry] = []
    while True:
        step = steps[index]
        users = _on_duty(step, path, memo)
        if users or index == len(steps) - 1:
            return step, users, skipped
        skipped.append(
            TimelineEntry(
                event=event,
                action="sos_skip",
                note=f"第{step.order}级（{step.get_level_display()}）无值守人员，直接上报下一级",
                public=False,
                data={"step": step.order, "role": step.role, "level": step.level, "at": now.isoformat()},
                **actor_fields(None),
            )
        )
        index += 1


def _step_entry(
    *,
    event: Event,
    step: SosStep,
    users: list[Any],
    now: datetime,
    deadline: datetime,
    action: str,
    from_step: int | None,
    queued: int,
) -> TimelineEntry:
    """The unsaved timeline entry of a watch entering `step`."""
    return TimelineEntry(
        event=event,
        action=action,
        note=_NOTES[action].format(order=step.order, level=step.get_level_display()),
        public=False,
        data={
            "from_step": from_step,
            "step": step.order,
            "role": step.role,
            "level": step.level,
            "minutes": step.minutes,
            "at": now.isoformat(),
            "deadline": deadline.isoformat(),
            "recipients": [u.pk for u in users],
            "queued": queued,
        },
        **actor_fields(None),
    )


def _enter_step(
    *,
    watch: SosWatch,
    event: Event,
    steps: list[SosStep],
    index: int,
    now: datetime,
    action: str,
    from_step: int | None,
) -> SosWatch:
    """Put the watch on steps[index] from `now`; a step with nobody on duty is recorded and skipped."""
    step, users, skipped = _plan_step(event=event, steps=steps, index=index, now=now)
    deadline = now + timedelta(minutes=step.minutes)
    SosWatch.objects.filter(pk=watch.pk).update(step=step.order, step_deadline=deadline)
    watch.step, watch.step_deadline = step.order, deadline
    queued = _notify(event=event, step=step, users=users, deadline=deadline)
    entry = _step_entry(
        event=event,
        step=step,
        users=users,
        now=now,
        deadline=deadline,
        action=action,
        from_step=from_step,
        queued=queued,
    )
    for row in (*skipped, entry):
        row.save()
    return watch


def _start_many(events: list[Event], steps: list[SosStep], now: datetime) -> None:
    """`sos_watch_start` for the events of one batch, written in bulk: the chain's users are read once
    per territory node, the watches, timeline entries and audit rows inserted together."""
    have = set(SosWatch.objects.filter(event__in=events).values_list("event_id", flat=True))
    memo: OnDuty = {}
    plans: list[tuple[Event, SosStep, list[Any], list[TimelineEntry], datetime]] = []
    for event in events:
        if event.pk in have:
            continue
        have.add(event.pk)
        step, users, skipped = _plan_step(event=event, steps=steps, index=0, now=now, memo=memo)
        plans.append((event, step, users, skipped, now + timedelta(minutes=step.minutes)))
    queued = notify.notification_queue_many(
        messages=[_message(event=e, step=st, users=us, deadline=dl) for e, st, us, _, dl in plans]
    )
    if any(queued):
        notify.notifications_send_on_commit()
    watches: list[SosWatch] = []
    entries: list[TimelineEntry] = []
    audits: list[AuditEntry] = []
    for (event, step, users, skipped, deadline), n in zip(plans, queued, strict=True):
        watches.append(SosWatch(event=event, step=step.order, step_deadline=deadline))
        entries += skipped
        entries.append(
            _step_entry(
                event=event,
                step=step,
                users=users,
                now=now,
                deadline=deadline,
                action="sos_start",
                from_step=None,
                queued=n,
            )
        )
        audits.append(
            audit_entry(
                actor=None,
                action="sos_watch_start",
                obj=event,
                after={"step": step.order, "deadline": deadline.isoformat()},
            )
        )
    SosWatch.objects.bulk_create(watches)
    TimelineEntry.objects.bulk_create(entries)
    AuditEntry.objects.bulk_create(audits)


def sos_watch_wanted(*, events: list[Event]) -> list[Event]:
    """The events `sos_watch_critical` starts a watch for: 特急, when WANGGE_SOS_WATCH_CRITICAL is on."""
    if not getattr(settings, "WANGGE_SOS_WATCH_CRITICAL", True):
        return []
    return [e for e in events if e.urgency == Urgency.CRITICAL]


def sos_watch_critical(*, events: list[Event]) -> None:
    """特急 events from any channel (a report, a triage proposal, a person raising the urgency) get the
    SOS watch — acknowledge within minutes, day and night — when WANGGE_SOS_WATCH_CRITICAL is on. One
    watch per event (idempotent); a missing on-duty chain is logged, never a lost report."""
    critical = sos_watch_wanted(events=events)
    if not critical:
        return
    steps = _steps()
    for e in critical:
        # The watch writes its own timeline step: rows left prefetched on the event are no longer whole.
        getattr(e, "_prefetched_objects_cache", {}).pop("timeline", None)
    if not steps:
        log.error("sos watch not started events=%s reason=sos_chain_missing", [e.pk for e in critical])
        return
    try:
        with transaction.atomic():
            _start_many(critical, steps, timezone.now())
        return
    except IntegrityError:  # a watch started concurrently: one by one, each idempotent
        pass
    for e in critical:
        try:
            sos_watch_start(event=e, steps=steps)
        except ServiceError as exc:
            log.error("sos watch not started event=%s reason=%s", e.pk, exc.code)


def sos_watch_start(
    *, event: Event, now: datetime | None = None, steps: list[SosStep] | None = None
) -> tuple[SosWatch, bool]:
    """Start the watch of an SOS / life-safety event at step 1 (idempotent: one watch per event).
    `steps`: the chain, when a batch has read it once for all its events."""
    given = now is not None
    now = now or timezone.now()
    steps = _steps() if steps is None else steps
    if not steps:
        raise Conflict("未配置一键呼叫值守链", code="sos_chain_missing")
    existing = SosWatch.objects.filter(event=event).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            watch = SosWatch.objects.create(
                event=event, step=steps[0].order, step_deadline=now + timedelta(minutes=steps[0].minutes)
            )
            if given:  # auto_now_add ignores a given value; the watch starts when the caller says.
                SosWatch.objects.filter(pk=watch.pk).update(created_at=now)
                watch.created_at = now
            _enter_step(
                watch=watch, event=event, steps=steps, index=0, now=now, action="sos_start", from_step=None
            )
            audit_record(
                actor=None,
                action="sos_watch_start",
                obj=event,
                after={"step": watch.step, "deadline": watch.step_deadline.isoformat()},
            )
    except IntegrityError:
        return SosWatch.objects.get(event=event), False
    return watch, True


def _sweep_one(*, watch: SosWatch, steps: list[SosStep], order_index: dict[int, int], now: datetime) -> str:
    """Move one due watch on; returns "escalated", "realerted", or "" if another sweep got there first."""
    with transaction.atomic():
        # Claim the watch: of two concurrent sweeps only one moves it on.
        claimed = SosWatch.objects.filter(
            pk=watch.pk,
            acknowledged_at__isnull=True,
            step=watch.step,
            step_deadline=watch.step_deadline,
        ).update(step_deadline=now + timedelta(minutes=1))
        if not claimed:
            return ""
        index = order_index.get(watch.step)
        if index is None:  # the chain was edited: continue from the first step above this one
            later = [i for i, s in enumerate(steps) if s.order > watch.step]
            index = (later[0] - 1) if later else len(steps) - 1
        last = index >= len(steps) - 1
        target = len(steps) - 1 if last else index + 1
        action = "sos_realert" if last else "sos_escalate"
        overdue = int((now - watch.step_deadline).total_seconds())
        _enter_step(
            watch=watch,
            event=watch.event,
            steps=steps,
            index=target,
            now=now,
            action=action,
            from_step=watch.step,
        )
        audit_record(
            actor=None,
            action=action,
            obj=watch.event,
            after={"step": watch.step, "deadline": watch.step_deadline.isoformat(), "overdue_s": overdue},
        )
        return "realerted" if last else "escalated"


def sos_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Escalate every unacknowledged watch whose step deadline passed (re-alert after the last step)."""
    now = now or timezone.now()
    steps = _steps()
    counts = {"escalated": 0, "realerted": 0}
    if not steps:
        return counts
    order_index = {s.order: i for i, s in enumerate(steps)}
    due = SosWatch.objects.filter(acknowledged_at__isnull=True, step_deadline__lte=now).order_by(
        "step_deadline", "pk"
    )
    for watch in list(due.select_related("event")):
        try:
            moved = _sweep_one(watch=watch, steps=steps, order_index=order_index, now=now)
        except Exception:  # noqa: BLE001 - one broken watch must not stop the others
            log.exception("sos sweep failed for watch %s", watch.pk)
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        if moved:
            counts[moved] += 1
    return counts


def _watch_for(*, event_id: Any, user: Any) -> SosWatch:
    try:
        watch = SosWatch.objects.select_related("event").get(event_id=int(event_id))
    except (TypeError, ValueError, SosWatch.DoesNotExist):
        raise NotFound("未找到该一键呼叫事件", code="not_found")
    if not sos_visible(user=user, event=watch.event):
        raise NotFound("未找到该一键呼叫事件", code="not_found")
    return watch


def sos_acknowledge(*, event_id: Any, actor: Any, note: str = "", now: datetime | None = None) -> SosWatch:
    """Someone on duty confirms the SOS: records who and when, stops the escalation."""
    watch = _watch_for(event_id=event_id, user=actor)
    action_require(user=actor, event=watch.event, key="sos_ack")  # on duty at this step, not yet done
    now = now or timezone.now()
    with transaction.atomic():
        won = SosWatch.objects.filter(pk=watch.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=actor
        )
        if not won:
            raise Conflict("该一键呼叫已有人确认", code="sos_already_acknowledged")
        watch.refresh_from_db()
        elapsed = int((now - watch.created_at).total_seconds())
        timeline_append(
            event=watch.event,
            actor=actor,
            action="sos_ack",
            note=(note or "").strip()[:500] or f"已确认一键呼叫（用时{elapsed}秒）",
            public=False,
            data={"step": watch.step, "elapsed_seconds": elapsed, "at": now.isoformat()},
        )
        audit_record(
            actor=actor,
            action="sos_ack",
            obj=watch.event,
            after={"step": watch.step, "elapsed_seconds": elapsed},
        )
    return watch


# --- selectors ---------------------------------------------------------------------------------------


def _scope_filter(user: Any) -> Q:
    """Coarse database filter (located inside the caller's territory, or not located at all); the
    unlocated ones are then checked one by one with `sos_visible` (an SOS board holds a few rows)."""
    prefix = user_scope_path(user)
    if prefix == "":
        return q_everything()
    if not path_in_scope(user, prefix):  # no territory: nothing
        return Q(pk__in=[])
    return (Q(event__path__startswith=prefix) & ~Q(event__path="")) | Q(event__path="")


def sos_board(*, user: Any) -> list[dict[str, Any]]:
    """Unacknowledged watches in the caller's territory, most overdue first."""
    if getattr(user, "role", "") not in STAFF_ROLES and not getattr(user, "is_superuser", False):
        return []
    rows = (
        SosWatch.objects.filter(acknowledged_at__isnull=True)
        .filter(_scope_filter(user))
        .select_related("event", "event__category")
        .order_by("step_deadline", "pk")
    )
    steps = {s.order: s for s in SosStep.objects.all()}
    roles_upto: dict[int, set[str]] = {}
    now = timezone.now()
    out = []
    for w in rows:
        if not w.event.path and not sos_visible(user=user, event=w.event):
            continue
        if w.step not in roles_upto:
            roles_upto[w.step] = {s.role for o, s in steps.items() if o <= w.step}
        step = steps.get(w.step)
        out.append(
            {
                **sos_watch_display(w, now=now),
                "step_role": step.role if step else "",
                "step_level": step.level if step else "",
                "can_acknowledge": getattr(user, "is_superuser", False)
                or getattr(user, "role", "") in roles_upto[w.step],
            }
        )
    return out


def sos_watch_display(watch: SosWatch, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    event = watch.event
    return {
        "event_id": event.pk,
        "tracking_code": event.tracking_code,
        "title": event.title,
        "address": event.address,
        "path": event_scope_path(event),
        "category": event.category.name if event.category is not None else "",
        "step": watch.step,
        "step_deadline": watch.step_deadline.isoformat(),
        "overdue": watch.acknowledged_at is None and watch.step_deadline < now,
        "started_at": watch.created_at.isoformat(),
        "acknowledged_at": watch.acknowledged_at.isoformat() if watch.acknowledged_at else None,
        "acknowledged_by": watch.acknowledged_by_id,
    }


def watch_if_critical(event: Event) -> None:
    """A 特急 event gets the SOS watch however it became 特急 (idempotent: one watch per event)."""
    if event.urgency == Urgency.CRITICAL:
        sos_watch_critical(events=[event])
