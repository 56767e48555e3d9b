"""Clocks (E4) of the events: their sweep source, the warning of one event, and extension requests.

The calendar, deadline arithmetic, warning levels and the periodic sweep itself are wangge.clock; this
module is the events' adapter: `events_sweep_source` is registered with wangge.clock.sweep by the events'
AppConfig, and `clock_sweep` (same name and result as before) runs the whole shared sweep.

Deadlines are stored on the event when a stage starts (common.clock_fields). `clock_sweep` only
selects the rows whose warning level must rise — `warn_at <= now` while still "none", or
`deadline <= now` while not yet "red" — through the indexed warn_at/deadline columns, and raises each
in one transaction: optimistic version check, timeline entry "warning" (internal), audit row, and
queued notifications (催办 to the handler at yellow and red, 督办 to the level above at red). A red
limit of a stage in settings.WANGGE_AUTO_ESCALATE escalates the event one level (same transaction,
in a savepoint). Nothing is lost if the process dies: the next sweep selects the same rows, and the
notifications' dedupe keys make a rerun send nothing twice.

Scheduling: there is no scheduler inside the django-tasks db_worker. The embedded install runs
`wangge sweep --loop 60`; production runs `wangge sweep` from cron or a systemd timer every minute
(or enqueues `wangge.clock.tasks.clock_sweep_task` from any scheduler).
"""

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.clock import sweep as shared_sweep
from wangge.clock.calendar import WorkCalendar
from wangge.clock.deadlines import RANK, warning_due
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError

from .. import notify, sos
from ..common import LEVEL_CODE_LENGTH, action_require, supervisor_recipients, time_limit_for, timeline_append
from ..models import Event, ExtensionRequest, Stage, StageDeadline, TimeLimit, Warning
from ..reference import reference
from . import whistle
from .escalation import event_escalate

logger = logging.getLogger("wangge.clock")

STAGE_NAMES = dict(Stage.choices)
SOURCE = "events"


def auto_escalate_stages() -> set[str]:
    """settings.WANGGE_AUTO_ESCALATE: True (= the handle stage), False, or a list of stage codes."""
    value = getattr(settings, "WANGGE_AUTO_ESCALATE", True)
    if value is True:
        return {Stage.HANDLE}
    if not value:
        return set()
    if isinstance(value, str):
        value = value.split(",")
    stages = {str(v).strip().lower() for v in value if str(v).strip()}
    if stages <= {"true", "1", "yes", "on"} and stages:
        return {Stage.HANDLE}
    return stages & set(Stage.values)


def _local(dt: datetime) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M")


@dataclass
class SweepResult:
    yellow: int = 0
    red: int = 0
    escalated: int = 0
    notifications_queued: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0  # failed sends (retried later with backoff unless dead)
    notifications_dead: int = 0  # given up after the last allowed attempt
    summons_missed: int = 0
    sos: Any = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "yellow": self.yellow,
            "red": self.red,
            "escalated": self.escalated,
            "notifications_queued": self.notifications_queued,
            "notifications_sent": self.notifications_sent,
            "notifications_failed": self.notifications_failed,
            "notifications_dead": self.notifications_dead,
            "summons_missed": self.summons_missed,
            "sos": self.sos if isinstance(self.sos, int | dict | None) else str(self.sos),
            "errors": list(self.errors),
        }


def due_events(*, now: datetime) -> Any:
    """Events whose warning must rise at `now` (indexed on warn_at and deadline)."""
    due = (Q(deadline__lte=now) & ~Q(warning=Warning.RED)) | (Q(warn_at__lte=now) & Q(warning=Warning.NONE))
    # Only the two indexed range conditions go to the database (an extra equality filter, e.g. on
    # master_id, makes SQLite pick that index and scan every event); closed or merged events have no
    # running clock, and event_warning_raise re-checks each row.
    return Event.objects.filter(due).exclude(stage="")


def _notify_warning(event: Event, level: str) -> int:
    stage = STAGE_NAMES.get(event.stage, event.stage)
    deadline = _local(event.deadline) if event.deadline else ""
    key = f"{event.pk}:{event.stage}:{int(event.deadline.timestamp()) if event.deadline else 0}:{level}"
    link = f"/events/{event.pk}/"
    if level == Warning.YELLOW:
        subject = f"【催办】事件{event.tracking_code}“{stage}”环节将于{deadline}到期"
    else:
        subject = f"【催办】事件{event.tracking_code}“{stage}”环节已超期（时限{deadline}）"
    queued = notify.notification_queue(
        kind="remind",
        key=f"cb:{key}",
        subject=subject,
        body=f"请尽快办理。详情：{link}",
        event=event,
        recipients=notify.handler_recipients(event),
    )
    if level == Warning.RED:
        queued += notify.notification_queue(
            kind="supervise",
            key=f"db:{key}",
            subject=f"【督办】事件{event.tracking_code}“{stage}”环节已超期（时限{deadline}），请督促办理",
            body=f"详情：{link}",
            event=event,
            recipients=supervisor_recipients(event),
        )
    return queued


@dataclass
class WarningRaised:
    event_id: int
    old: str
    new: str
    notifications: int
    escalated: bool
    error: str = ""


def event_warning_raise(
    *, event_id: int, now: datetime | None = None, deliver: bool = True
) -> WarningRaised | None:
    """Raise an event's warning to what its stored clock calls for at `now` (never lowers it).

    One transaction: version-checked update, internal timeline entry "warning", audit row, queued
    reminders; at red also the 督办 notice and, for stages in WANGGE_AUTO_ESCALATE, escalation one
    level up (workflow.escalation.event_escalate; a refusal is recorded, the warning stays). Returns None
    when nothing had to change or somebody else changed the event first (the next sweep looks again).
    """
    now = now or timezone.now()
    with transaction.atomic():
        event = (
            Event.objects.select_related("status", "handler_user", "handler_unit").filter(pk=event_id).first()
        )
        if event is None or not event.stage or event.status.is_closed or event.master_id is not None:
            return None
        old = event.warning
        new = warning_due(warn_at=event.warn_at, deadline=event.deadline, now=now)
        if RANK.get(new, 0) <= RANK.get(old, 0):
            return None
        won = Event.objects.filter(pk=event.pk, version=event.version, warning=old).update(
            warning=new, version=F("version") + 1
        )
        if not won:
            return None
        event.warning = new
        event.version += 1
        stage = STAGE_NAMES.get(event.stage, event.stage)
        note = (
            f"“{stage}”环节已超过时限（{_local(event.deadline)}）"
            if new == Warning.RED and event.deadline
            else f"“{stage}”环节临近时限（{_local(event.deadline)}）"
            if event.deadline
            else ""
        )
        timeline_append(
            event=event,
            actor=None,
            action="warning",
            note=note,
            public=False,
            data={
                "from": old,
                "to": new,
                "stage": event.stage,
                "deadline": event.deadline.isoformat() if event.deadline else None,
                "at": now.isoformat(),
            },
        )
        audit_record(
            actor=None, action="event.warning", obj=event, before={"warning": old}, after={"warning": new}
        )
        if new == Warning.RED:
            StageDeadline.objects.filter(event=event, finished_at__isnull=True).update(overdue=True)
        queued = _notify_warning(event, new)
        escalated, error = False, ""
        if new == Warning.RED and event.stage in auto_escalate_stages():
            escalated, error = _auto_escalate(event)
    if queued and deliver:
        notify.notifications_send_on_commit()
    return WarningRaised(event.pk, old, new, queued, escalated, error)


def _auto_escalate(event: Event) -> tuple[bool, str]:
    try:
        with transaction.atomic():
            event_escalate(event_id=event.pk, actor=None, reason="红色超期，系统自动上报上一级")
    except ServiceError as exc:
        logger.info("auto-escalation of event %s refused: %s", event.pk, exc.code)
        return False, exc.code
    return True, ""


_batch: ContextVar[int] = ContextVar("events_sweep_batch", default=500)


def events_sweep_source(*, now: datetime, batch: int | None = None) -> dict[str, Any]:
    """The events' part of the periodic sweep (registered with wangge.clock.sweep): raise due warnings
    (and escalate), mark missed whistle summonses, run the SOS watch (wangge.events.sos.sos_sweep, if
    installed). Notifications are delivered by the sweep's final source (wangge.notify)."""
    batch = batch or _batch.get()
    result = SweepResult()
    for pk in shared_sweep.due_ids(lambda: due_events(now=now), order_by=("deadline", "id"), batch=batch):
        try:
            raised = event_warning_raise(event_id=pk, now=now, deliver=False)  # sent at the end
        except Exception as exc:  # one bad row must not stop the sweep
            logger.exception("sweep: event %s failed", pk)
            result.errors.append(f"event {pk}: {type(exc).__name__}")
            continue
        if raised is None:
            continue
        if raised.new == Warning.RED:
            result.red += 1
        else:
            result.yellow += 1
        result.notifications_queued += raised.notifications
        result.escalated += int(raised.escalated)
        if raised.error:
            result.errors.append(f"event {pk}: escalate {raised.error}")
    try:
        missed, queued = whistle.whistle_sweep_missed(now=now)
        result.summons_missed += missed
        result.notifications_queued += queued
    except Exception as exc:
        logger.exception("sweep: whistle summonses failed")
        result.errors.append(f"whistle: {type(exc).__name__}")
    result.sos = _sos_sweep(now, result)
    out = result.as_dict()
    for key in ("notifications_sent", "notifications_failed", "notifications_dead"):
        out.pop(key)  # counted by the delivery source
    return out


def clock_sweep(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """One pass of the whole periodic sweep (wangge.clock.sweep.clock_sweep: generic deadlines, the
    events' source, every other registered source, then notification delivery), as the events' result."""
    now = now or timezone.now()
    token = _batch.set(batch)  # the events' source reads the caller's batch size
    try:
        shared = shared_sweep.clock_sweep(now=now)
    finally:
        _batch.reset(token)
    result = SweepResult(errors=list(shared.errors))
    for name in (
        "yellow",
        "red",
        "escalated",
        "notifications_queued",
        "notifications_sent",
        "notifications_failed",
        "notifications_dead",
        "summons_missed",
    ):
        setattr(result, name, int(shared.counts.get(name) or 0))
    result.sos = shared.counts.get("sos")
    return result


def _sos_sweep(now: datetime, result: SweepResult) -> Any:
    try:
        return sos.sos_sweep(now=now)
    except Exception as exc:
        logger.exception("sweep: sos_sweep failed")
        result.errors.append(f"sos: {type(exc).__name__}")
        return None


# --- extensions (延期) ------------------------------------------------------------------------------


def _territory_level(user: Any) -> tuple[int, str]:
    """(rank, code) of the user's node: the rank is its code length (district 6 … grid 15), so a lower
    rank is a higher level; no territory ranks below every level."""
    territory = getattr(user, "territory", None)
    if territory is None:
        return 99, ""
    return LEVEL_CODE_LENGTH.get(territory.level, 99), territory.code


def _event_visible(actor: Any, event: Event) -> bool:
    return whistle.can_see(actor, event)


def _may_decide(actor: Any, requester: Any) -> bool:
    """A user at a higher level than the requester, in the requester's chain; or a district admin."""
    if getattr(actor, "is_superuser", False) or getattr(actor, "role", "") == "district_admin":
        return True
    if requester is None:
        return False
    actor_rank, actor_code = _territory_level(actor)
    req_rank, req_code = _territory_level(requester)
    if not actor_code or getattr(actor, "role", "") not in ("community_staff", "street_staff"):
        return False
    return actor_rank < req_rank and req_code.startswith(actor_code)


def extension_request(
    *, event_id: int, actor: Any, amount: int, unit: str, reason: str, now: datetime | None = None
) -> ExtensionRequest:
    """Ask for more time on the event's current stage (one open request per stage)."""
    now = now or timezone.now()
    event = Event.objects.select_related("status", "handler_unit").filter(pk=event_id).first()
    if event is None or not _event_visible(actor, event):
        raise NotFound("事件不存在", code="not_found")
    # Who may ask, and when (a stage with a deadline, no request pending): the action catalogue.
    action_require(user=actor, event=event, key="extension")
    if unit not in TimeLimit.Unit.values:
        raise InvalidInput("延期单位无效", code="invalid_unit")
    if not isinstance(amount, int) or amount <= 0 or amount > 1000:
        raise InvalidInput("延期时长须为1至1000之间的整数", code="invalid_amount")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写延期理由", code="reason_required")
    with transaction.atomic():
        if ExtensionRequest.objects.filter(
            event=event, stage=event.stage, state=ExtensionRequest.State.PENDING
        ).exists():
            raise Conflict("本环节已有待审批的延期申请", code="extension_pending")
        req = ExtensionRequest.objects.create(
            event=event,
            stage=event.stage,
            amount=amount,
            unit=unit,
            reason=reason[:2000],
            requested_by=actor,
            old_deadline=event.deadline,
        )
        unit_name = TimeLimit.Unit(unit).label
        timeline_append(
            event=event,
            actor=actor,
            action="extension_request",
            note=reason[:2000],
            public=False,
            data={"request_id": req.pk, "amount": amount, "unit": unit, "stage": event.stage},
        )
        audit_record(
            actor=actor,
            action="event.extension_request",
            obj=event,
            after={"request_id": req.pk, "amount": amount, "unit": unit, "stage": event.stage},
            reason=reason[:500],
        )
        approvers = _approvers(event, actor)
        queued = notify.notification_queue(
            kind="extension_request",
            key=f"ext:{req.pk}:request",
            subject=f"【延期申请】事件{event.tracking_code}申请延期{amount}{unit_name}，请审批",
            body=f"详情：/events/{event.pk}/",
            event=event,
            recipients=approvers,
        )
    if queued:
        notify.notifications_send_on_commit()
    return req


def _approvers(event: Event, requester: Any) -> list[Any]:
    rank, code = _territory_level(requester)
    levels = ["community", "street", "district"]
    for level in levels:
        if LEVEL_CODE_LENGTH[level] < rank:
            users = list(notify.staff_at(path=code or event.path, level=level))
            if users:
                return users
    return list(notify.staff_at(path=event.path, level="district"))


def _extended_clock(
    event: Event, cal: WorkCalendar, approved: list[tuple[int, str]]
) -> tuple[datetime, datetime] | None:
    """(warn_at, deadline) of the current stage with the base limit plus the approved extensions."""
    start = event.stage_started_at
    limit = time_limit_for(category=event.category, urgency=event.urgency, stage=event.stage)
    if start is None or limit is None:
        return None
    ratio = limit.warn_ratio
    working = [(a, u) for a, u in approved if u != TimeLimit.Unit.MINUTE]
    minutes = [(a, u) for a, u in approved if u == TimeLimit.Unit.MINUTE]
    if limit.unit != TimeLimit.Unit.MINUTE:
        total = cal.to_working_minutes(limit.amount, limit.unit) + sum(
            cal.to_working_minutes(a, u) for a, u in working
        )
        deadline = cal.add_working_minutes(start, total)
        warn_at = cal.add_working_minutes(start, total * ratio)
        if minutes:  # calendar minutes on top of working time: added at the end, warning keeps its share
            extra = sum(a for a, _ in minutes)
            deadline = cal.deadline(deadline, extra, TimeLimit.Unit.MINUTE)
            warn_at = start + (deadline - start) * ratio
        return warn_at, deadline
    total_minutes = limit.amount + sum(a for a, _ in minutes)
    deadline = cal.deadline(start, total_minutes, TimeLimit.Unit.MINUTE)
    for a, u in working:
        deadline = cal.deadline(deadline, a, u)
    return start + (deadline - start) * ratio, deadline


def extension_decide(
    *, request_id: int, actor: Any, approve: bool, note: str = "", now: datetime | None = None
) -> ExtensionRequest:
    """Approve or reject an extension. Approval moves the current stage's deadline and warning time
    (recomputed from the new total on the working calendar), updates the open StageDeadline and
    recomputes the warning level."""
    now = now or timezone.now()
    req = (
        ExtensionRequest.objects.select_related("event", "event__status", "event__category", "requested_by")
        .filter(pk=request_id)
        .first()
    )
    if req is None or not _event_visible(actor, req.event):
        raise NotFound("延期申请不存在", code="not_found")
    if req.state != ExtensionRequest.State.PENDING:
        raise Conflict("该延期申请已处理", code="already_decided")
    if req.requested_by_id == actor.pk and not getattr(actor, "is_superuser", False):
        raise Forbidden("不能审批自己的延期申请", code="own_request")
    if not _may_decide(actor, req.requested_by):
        raise Forbidden("须由上级审批延期申请", code="not_approver")
    note = (note or "").strip()
    if not approve and not note:
        raise InvalidInput("驳回须填写理由", code="note_required")
    with transaction.atomic():
        event = Event.objects.select_related("category", "status").get(pk=req.event_id)
        won = ExtensionRequest.objects.filter(pk=req.pk, state=ExtensionRequest.State.PENDING).update(
            state=ExtensionRequest.State.APPROVED if approve else ExtensionRequest.State.REJECTED,
            decided_by=actor,
            decided_at=now,
        )
        if not won:
            raise Conflict("该延期申请已处理", code="already_decided")
        req.refresh_from_db()
        data: dict[str, Any] = {"request_id": req.pk, "approved": bool(approve)}
        if approve:
            if event.stage != req.stage or event.deadline is None:
                raise Conflict("事件已进入其他环节，延期申请不再适用", code="stage_changed")
            approved = list(
                ExtensionRequest.objects.filter(
                    event=event,
                    stage=event.stage,
                    state=ExtensionRequest.State.APPROVED,
                    requested_at__gte=event.stage_started_at,
                ).values_list("amount", "unit")
            )
            cal = reference().calendar
            clock = _extended_clock(event, cal, approved)
            if clock is None:  # no configured limit any more: extend the stored deadline itself
                new_deadline = cal.deadline(event.deadline, req.amount, req.unit)
                shift = new_deadline - event.deadline
                new_warn = (event.warn_at + shift) if event.warn_at else new_deadline
            else:
                new_warn, new_deadline = clock
            old_deadline = event.deadline
            level = warning_due(warn_at=new_warn, deadline=new_deadline, now=now)
            won = Event.objects.filter(pk=event.pk, version=event.version).update(
                deadline=new_deadline,
                warn_at=new_warn,
                warning=level,
                calendar_fallback=event.calendar_fallback or cal.fallback_used,
                version=F("version") + 1,
            )
            if not won:
                raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
            StageDeadline.objects.filter(event=event, finished_at__isnull=True).update(
                deadline=new_deadline, warn_at=new_warn, overdue=new_deadline <= now
            )
            ExtensionRequest.objects.filter(pk=req.pk).update(
                old_deadline=old_deadline, new_deadline=new_deadline
            )
            req.refresh_from_db()
            data.update(
                {
                    "old_deadline": old_deadline.isoformat(),
                    "new_deadline": new_deadline.isoformat(),
                    "warning": level,
                }
            )
            event.refresh_from_db()
        timeline_append(
            event=event, actor=actor, action="extension_decision", note=note[:2000], public=False, data=data
        )
        audit_record(actor=actor, action="event.extension_decide", obj=event, after=data, reason=note[:500])
        queued = 0
        if req.requested_by is not None:
            result = "已批准" if approve else "已驳回"
            queued = notify.notification_queue(
                kind="extension_decided",
                key=f"ext:{req.pk}:decided",
                subject=f"【延期申请】事件{event.tracking_code}的延期申请{result}",
                body=f"详情：/events/{event.pk}/",
                event=event,
                recipients=[req.requested_by],
            )
    if queued:
        notify.notifications_send_on_commit()
    return req


def extension_list(*, user: Any, event_id: int) -> list[ExtensionRequest]:
    """Extension requests of one event the caller can see (NotFound outside scope)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None or not _event_visible(user, event):
        raise NotFound("事件不存在", code="not_found")
    return list(
        ExtensionRequest.objects.filter(event=event)
        .select_related("requested_by", "decided_by")
        .order_by("requested_at", "id")
    )
