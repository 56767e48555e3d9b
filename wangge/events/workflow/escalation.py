"""上报: one level up the ladder grid → community → street → district, dispatched at once when a rule of
the new level resolves."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from wangge.core.errors import InvalidInput, ServiceError

from .. import notify
from ..common import LEVELS, action_require, event_load, handler_users, notify_event
from ..models import (
    Event,
    HandlingUnit,
    Level,
)
from .dispatch import dispatch_resolve, dispatch_target, who_label
from .transitions import event_fields_update, transition_apply

log = logging.getLogger(__name__)


def _escalation_target(event: Event) -> tuple[HandlingUnit | None, Any, dict[str, Any]] | None:
    """Whom an event just escalated goes to at once: the first dispatch rule written for its new level
    (DispatchRule.level; category × territory prefix × urgency, as in dispatch_resolve) whose unit or
    role resolves. The level's default (its staff) is not chosen automatically: without such a rule the
    event waits at "accepted" for that level's staff to dispatch it. None: nothing resolved."""
    resolved = dispatch_resolve(event=event)
    if not resolved["found"] or resolved["rule_id"] is None:
        return None
    try:
        unit, user = dispatch_target(resolved["unit_id"], resolved["user_id"])
    except InvalidInput:  # the rule's unit or person cannot take events (inactive, not staff)
        return None
    data = {
        "rule": resolved["rule_id"],
        "explanation": resolved["explanation"],
        "auto": "escalate",
        "unit": unit.pk if unit else None,
        "user": user.pk if user else None,
        "to": who_label(unit, user),
    }
    return unit, user, data


def _escalation_dispatch(event: Event) -> Event | None:
    """Dispatch an event just escalated by the rules of its new level, as a system step (actor None) in
    the caller's transaction. None (and nothing changed) when no rule resolves or the status graph
    refuses accepted → dispatched."""
    target = _escalation_target(event)
    if target is None:
        return None
    unit, user, data = target
    try:
        with transaction.atomic():
            dispatched, _ = transition_apply(
                event=event,
                target="dispatched",
                actor=None,
                note=f"上报至{Level(event.level).label}后按分拨规则自动派遣",
                extra_fields={
                    "handler_unit_id": unit.pk if unit else None,
                    "handler_user_id": user.pk if user else None,
                },
                data=data,
                action="dispatch",
            )
    except ServiceError as exc:
        log.info("event %s: no dispatch after escalation (%s)", event.pk, exc.code)
        event.refresh_from_db()
        return None
    return dispatched


def event_escalate(
    *, event_id: int, actor: Any, reason: str, expected_version: int | None = None, check_scope: bool = True
) -> Event:
    """上报: one level up the ladder grid → community → street → district (never beyond). The event goes
    back to "accepted" at the higher level and, when a dispatch rule of that level resolves, is
    dispatched at once by the system (a second timeline step, actor None); otherwise it waits there and
    the level's staff are told to dispatch it. `actor=None` is the system (a red limit passed)."""
    event = event_load(event_id, actor, check_scope=check_scope)
    action_require(user=actor, event=event, key="escalate", expected_version=expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("上报须说明本级无法解决的原因", code="reason_required")
    new_level = LEVELS[LEVELS.index(Level(event.level)) + 1]
    data = {"from_level": event.level, "level": new_level}
    fields = {"level": new_level, "handler_unit_id": None, "handler_user_id": None}
    with transaction.atomic():
        if event.status.code == "accepted":
            # Not dispatched yet at this level: move up in place, the dispatch clock keeps running.
            event = event_fields_update(
                event=event,
                actor=actor,
                action="escalate",
                fields=fields,
                note=reason,
                expected_version=expected_version,
                data=data,
                public=True,
                before={"level": event.level},
            )
        else:
            event, _ = transition_apply(
                event=event,
                target="accepted",
                actor=actor,
                note=reason,
                expected_version=expected_version,
                extra_fields=fields,
                data=data,
                action="escalate",
            )
        above = list(notify.staff_at(path=event.path, level=new_level)) if event.path else []
        dispatched = _escalation_dispatch(event)
        if dispatched is None:
            notify_event(
                "escalate",
                event,
                f"事件 {event.tracking_code} 已上报至{Level(new_level).label}，请派遣",
                above,
            )
            return event
        event = dispatched
        handlers = handler_users(event)
        notify_event("dispatch", event, f"事件 {event.tracking_code} 已派给您处置", handlers)
        notify_event(
            "escalate",
            event,
            f"事件 {event.tracking_code} 已上报至{Level(new_level).label}，已按分拨规则自动派遣",
            [u for u in above if u not in handlers],
        )
    return event
