"""派遣 and 改派: dispatch rules (category × territory × urgency × level → unit or role) and the handler."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangge.accounts.roles import STAFF_ROLES, Role
from wangge.core.errors import InvalidInput
from wangge.territory.models import GridAssignment, GridDuty, Territory

from ..common import (
    LEVEL_CODE_LENGTH,
    LEVEL_DEFAULT_ROLE,
    action_require,
    event_load,
    handler_users,
    int_id,
    notify_event,
)
from ..models import (
    Category,
    DispatchRule,
    Event,
    HandlingUnit,
    Level,
    Urgency,
)
from .transitions import event_fields_update, transition_apply


def category_chain(category: Category | None) -> list[int]:
    chain = []
    node = category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    return chain


def _rule_matches(rule: DispatchRule, event: Event, chain: list[int]) -> bool:
    if rule.level != event.level:
        return False
    if rule.category_id is not None:
        if not chain:
            return False
        if rule.include_subcategories:
            if rule.category_id not in chain:
                return False
        elif rule.category_id != chain[0]:
            return False
    if rule.path_prefix and not (event.path or "").startswith(rule.path_prefix):
        return False
    return not (rule.urgency and rule.urgency != event.urgency)


def _node_at(event: Event, level: str) -> Any:
    if not event.path:
        return None
    return Territory.objects.filter(code=event.path[: LEVEL_CODE_LENGTH[level]]).first()


def user_for_role(event: Event, level: str, role: str) -> Any:
    """Users with `role` bound to the event's node at `level`; for the grid level its active
    GridAssignment worker comes first."""
    User = get_user_model()
    node = _node_at(event, level)
    if node is None:
        return None
    today = timezone.localdate()
    if level == Level.GRID:
        assigned = (
            GridAssignment.objects.select_related("user")
            .filter(grid=node, since__lte=today, user__is_active=True)
            .filter(Q(until__isnull=True) | Q(until__gte=today))
        )
        if role == Role.GRID_WORKER:
            assigned = assigned.filter(duty=GridDuty.WORKER)
        else:
            assigned = assigned.filter(user__role=role)
        found = assigned.order_by("since", "pk").first()
        if found is not None:
            return found.user
    return User.objects.filter(role=role, territory=node, is_active=True).order_by("pk").first()


def who_label(unit: HandlingUnit | None, user: Any) -> str:
    parts = []
    if unit is not None:
        parts.append(f"处置单位“{unit.name}”")
    if user is not None:
        parts.append(f"人员“{user}”")
    return "、".join(parts) or "无"


def dispatch_resolve(*, event: Event) -> dict[str, Any]:
    """Dry run: who would get this event? The first active rule (by order) that matches category (or an
    ancestor), territory prefix, urgency and the event's current level; else the level's default (the
    grid's worker at grid level). Returns rule id, unit/user and a Chinese explanation."""
    chain = category_chain(event.category)
    skipped: list[str] = []
    level_name = Level(event.level).label
    for rule in (
        DispatchRule.objects.filter(active=True).select_related("unit", "category").order_by("order", "id")
    ):
        if not _rule_matches(rule, event, chain):
            continue
        unit = rule.unit if rule.unit_id and rule.unit and rule.unit.active else None
        user = None
        if unit is None and rule.role:
            user = user_for_role(event, rule.level, rule.role)
        if unit is None and user is None:
            skipped.append(f"规则#{rule.pk}匹配但{Level(rule.level).label}层级没有可接收的单位或人员")
            continue
        why = f"按分拨规则#{rule.pk}（顺序{rule.order}"
        if rule.category is not None:
            why += f"，分类“{rule.category.name}”{'及其子类' if rule.include_subcategories else ''}"
        if rule.path_prefix:
            why += f"，区划前缀{rule.path_prefix}"
        if rule.urgency:
            why += f"，{Urgency(rule.urgency).label}"
        why += f"，{Level(rule.level).label}层级）派给{who_label(unit, user)}"
        return _resolution(rule.pk, unit, user, event.level, "；".join([*skipped, why]))
    if not event.path:
        return _resolution(None, None, None, event.level, "事件尚未定位到网格，无法自动分拨，请手动指定")
    role = LEVEL_DEFAULT_ROLE[Level(event.level)]
    user = user_for_role(event, event.level, role)
    if user is None:
        why = f"没有匹配的分拨规则，且{level_name}层级没有{Role(role).label}，请手动指定"
        return _resolution(None, None, None, event.level, "；".join([*skipped, why]))
    if event.level == Level.GRID:
        why = f"没有匹配的分拨规则，默认派给本网格网格员“{user}”"
    else:
        why = f"没有匹配的分拨规则，默认派给{level_name}的{Role(role).label}“{user}”"
    return _resolution(None, None, user, event.level, "；".join([*skipped, why]))


def _resolution(
    rule_id: int | None, unit: HandlingUnit | None, user: Any, level: str, why: str
) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "unit_id": unit.pk if unit else None,
        "unit_name": unit.name if unit else "",
        "user_id": user.pk if user else None,
        "user_name": str(user) if user else "",
        "level": level,
        "found": unit is not None or user is not None,
        "explanation": why,
    }


def dispatch_target(unit_id: Any, user_id: Any) -> tuple[HandlingUnit | None, Any]:
    unit = user = None
    if unit_id not in (None, ""):
        unit = HandlingUnit.objects.filter(pk=int_id(unit_id), active=True).first()
        if unit is None:
            raise InvalidInput("处置单位不存在或已停用", code="invalid_unit")
    if user_id not in (None, ""):
        user = (
            get_user_model()
            .objects.filter(pk=int_id(user_id), is_active=True, role__in=[*STAFF_ROLES, Role.DEPT_HANDLER])
            .first()
        )
        if user is None:
            raise InvalidInput("处置人不存在或不是工作人员", code="invalid_user")
    return unit, user


def event_dispatch(
    *,
    event_id: int,
    actor: Any,
    unit_id: int | None = None,
    user_id: int | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Event:
    """派遣: to the unit/user given, or by the dispatch rules (default: the grid's worker)."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="dispatch", expected_version=expected_version)
    unit, user = dispatch_target(unit_id, user_id)
    data: dict[str, Any]
    if unit is None and user is None:
        resolved = dispatch_resolve(event=event)
        if not resolved["found"]:
            raise InvalidInput(resolved["explanation"], code="no_dispatch_target")
        unit, user = dispatch_target(resolved["unit_id"], resolved["user_id"])
        data = {"rule": resolved["rule_id"], "explanation": resolved["explanation"]}
    else:
        data = {"rule": None, "explanation": "人工指定"}
    data.update(
        {"unit": unit.pk if unit else None, "user": user.pk if user else None, "to": who_label(unit, user)}
    )
    with transaction.atomic():
        event, _ = transition_apply(
            event=event,
            target="dispatched",
            actor=actor,
            note=reason,
            expected_version=expected_version,
            extra_fields={
                "handler_unit_id": unit.pk if unit else None,
                "handler_user_id": user.pk if user else None,
            },
            data=data,
            action="dispatch",
        )
        notify_event("dispatch", event, f"事件 {event.tracking_code} 已派给您处置", handler_users(event))
    return event


def event_reassign(
    *,
    event_id: int,
    actor: Any,
    reason: str,
    unit_id: int | None = None,
    user_id: int | None = None,
    expected_version: int | None = None,
) -> Event:
    """改派: a new handler for an event in the handle stage, by a supervisor (`common.actions`); the
    reason is required and on record."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="reassign", expected_version=expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("改派须填写理由", code="reason_required")
    unit, user = dispatch_target(unit_id, user_id)
    if unit is None and user is None:
        raise InvalidInput("请指定新的处置单位或处置人", code="target_required")
    if (unit.pk if unit else None) == event.handler_unit_id and (
        user.pk if user else None
    ) == event.handler_user_id:
        raise InvalidInput("新处置人与原处置人相同", code="same_handler")
    old = {"unit": event.handler_unit_id, "user": event.handler_user_id}
    with transaction.atomic():
        event = event_fields_update(
            event=event,
            actor=actor,
            action="reassign",
            fields={
                "handler_unit_id": unit.pk if unit else None,
                "handler_user_id": user.pk if user else None,
            },
            note=reason,
            expected_version=expected_version,
            data={
                "from": old,
                "unit": unit.pk if unit else None,
                "user": user.pk if user else None,
                "to": who_label(unit, user),
            },
            public=False,
            before=old,
        )
        notify_event("reassign", event, f"事件 {event.tracking_code} 已改派给您处置", handler_users(event))
    return event
