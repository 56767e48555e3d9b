"""The one state-change writer: graph, role, note and version checks, stage clock, timeline, audit.

Every named service (accept, dispatch, escalate, feedback, verify, rate, reopen …) moves an event through
`transition_apply`; `event_fields_update` is a change without a status change (reassign, escalate in place)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, Forbidden, InvalidInput

from ..common import (
    check_version,
    clock_fields,
    close_clock,
    event_load,
    open_clock,
    timeline_append,
)
from ..models import (
    Category,
    Event,
    Status,
    TimelineEntry,
    Transition,
)
from .followers import merge_followers_notify

# Timeline action of a plain transition, by (source, target) status code, then by target.
EDGE_ACTIONS = {
    ("dispatched", "handling"): "sign",
    ("suspended", "handling"): "resume",
    ("handled", "handling"): "rework",
    ("verifying", "handling"): "rework",
    ("closed", "handling"): "reopen",
    ("rated", "handling"): "reopen",
    ("dispatched", "accepted"): "return",
    ("handling", "accepted"): "escalate",
}

TARGET_ACTIONS = {
    "accepted": "accept",
    "rejected": "reject",
    "dispatched": "dispatch",
    "suspended": "suspend",
    "handled": "feedback",
    "verifying": "verify",
    "closed": "close",
    "rated": "rate",
}


def transition_apply(
    *,
    event: Event,
    target: str,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    action: str = "",
) -> tuple[Event, TimelineEntry]:
    check_version(event, expected_version)
    target_status = Status.objects.filter(code=target).first()
    if target_status is None:
        raise InvalidInput("目标状态不存在", code="invalid_status")
    edge = (
        Transition.objects.select_related("source").filter(source=event.status, target=target_status).first()
    )
    if edge is None:
        raise Conflict(
            f"当前状态“{event.status.name}”不能变更为“{target_status.name}”", code="illegal_transition"
        )
    role = getattr(actor, "role", "") if actor is not None else ""
    if (
        edge.roles
        and actor is not None
        and role not in edge.roles
        and not getattr(actor, "is_superuser", False)
    ):
        raise Forbidden("您的角色不能执行此操作", code="role_not_allowed")
    note = (note or "").strip()
    if edge.requires_note and not note:
        raise InvalidInput(f"“{edge.name}”须填写说明", code="note_required")
    version = event.version if expected_version is None else int(expected_version)
    now = timezone.now()
    before = {"status": event.status.code, "level": event.level}
    fields: dict[str, Any] = {"status_id": target_status.pk, "version": version + 1, "updated_at": now}
    fields.update(extra_fields or {})
    # The new clock depends on the fields being set (category, urgency): compute it on the new values.
    for name in ("category_id", "urgency"):
        if name in fields:
            setattr(event, name, fields[name])
    if "category_id" in fields:
        event.category = Category.objects.filter(pk=fields["category_id"]).first()
    if target_status.stage != event.stage or event.status.code != target_status.code:
        fields.update(clock_fields(event, target_status.stage, now))
    if target_status.is_closed:
        # The first closing counts (closed → rated keeps the date the reopen window runs from).
        fields["closed_at"] = event.closed_at if event.status.is_closed and event.closed_at else now
    elif event.closed_at is not None:
        fields["closed_at"] = None
    action = (
        action or EDGE_ACTIONS.get((edge.source.code, target)) or TARGET_ACTIONS.get(target, "transition")
    )
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=version).update(**fields)
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        close_clock(event, now)
        event.refresh_from_db()
        if target_status.stage:
            open_clock(
                event,
                {
                    "stage": event.stage,
                    "stage_started_at": event.stage_started_at,
                    "warn_at": event.warn_at,
                    "deadline": event.deadline,
                },
            )
        entry = timeline_append(
            event=event,
            actor=actor,
            action=action,
            from_status=edge.source.code,
            to_status=target_status.code,
            note=note,
            public=edge.public,
            data={"name": edge.name, **(data or {})},
        )
        audit_record(
            actor=actor,
            action=f"event.{action}",
            obj=event,
            before=before,
            after={"status": target_status.code, "level": event.level},
            reason=note[:200] if action in ("reject", "reassign", "escalate", "reopen") else "",
        )
        if target_status.is_closed and Event.objects.filter(master_id=event.pk).exists():
            # Reporters of merged duplicates follow the master: tell them the outcome (once per closure).
            merge_followers_notify(master_id=event.pk)
    return event, entry


def event_transition(
    *,
    event_id: int,
    target: str,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    check_scope: bool = True,
    action: str = "",
) -> Event:
    """Move an event along the status graph. Illegal edges, missing notes, wrong roles → clear errors;
    of two concurrent transitions on one event only one wins (version column)."""
    event = event_load(event_id, actor, check_scope=check_scope)
    event, _ = transition_apply(
        event=event,
        target=target,
        actor=actor,
        note=note,
        expected_version=expected_version,
        data=data,
        extra_fields=extra_fields,
        action=action,
    )
    return event


def event_fields_update(
    *,
    event: Event,
    actor: Any,
    action: str,
    fields: dict[str, Any],
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    before: dict[str, Any] | None = None,
) -> Event:
    """A change without a status change (reassign, escalate in place): version, timeline, audit."""
    check_version(event, expected_version)
    version = event.version if expected_version is None else int(expected_version)
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=version).update(
            **fields, version=version + 1, updated_at=timezone.now()
        )
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        event.refresh_from_db()
        timeline_append(
            event=event,
            actor=actor,
            action=action,
            from_status=event.status.code,
            to_status=event.status.code,
            note=note,
            public=public,
            data=data or {},
        )
        audit_record(
            actor=actor,
            action=f"event.{action}",
            obj=event,
            before=before,
            after={k: v for k, v in (data or {}).items() if k in ("unit", "user", "level")},
            reason=note[:200],
        )
    return event
