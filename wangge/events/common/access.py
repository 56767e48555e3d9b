"""Who may act on an event, loading an event for an actor, the version check every writer applies."""

from __future__ import annotations

from typing import Any

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.core.scope import path_in_scope

from ..models import Event, HandlingUnit, SosStep, SosWatch, WhistleSummon


def is_staff(actor: Any) -> bool:
    return getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in STAFF_ROLES


def handling_unit_ids(actor: Any) -> list[int]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return list(actor.handling_units.filter(active=True).values_list("pk", flat=True))


def is_handler(actor: Any, event: Event) -> bool:
    """The handler: handler_user, a member of handler_unit, or of a unit summoned by a whistle."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if event.handler_user_id == actor.pk:
        return True
    units = handling_unit_ids(actor)
    if not units:
        return False
    if event.handler_unit_id in units:
        return True
    return WhistleSummon.objects.filter(whistle__event=event, unit_id__in=units).exists()


def may_act(actor: Any, event: Event) -> bool:
    """May `actor` see and act on `event`: superuser, a handler, or staff whose territory holds it
    (events not located yet: the district level)."""
    if getattr(actor, "is_superuser", False):
        return True
    if is_handler(actor, event):
        return True
    if getattr(actor, "role", "") not in STAFF_ROLES:
        return False
    if not event.path:
        territory = getattr(actor, "territory", None)
        return territory is not None and territory.level == "district"
    return path_in_scope(actor, event.path)


def entry_office(actor: Any) -> tuple[str, str]:
    """(path, level) of the territory node of the staff account entering a report (hotline, walk-in,
    patrol, API), or ("", "") for anyone else. A report that cannot be located to a grid keeps this as
    its path and level, so it waits in the entering office's own triage queue (seen by that office and
    the levels above it) instead of going to the district; it still needs triage (no grid)."""
    if actor is None or getattr(actor, "role", "") not in STAFF_ROLES:
        return "", ""
    territory = getattr(actor, "territory", None)
    if territory is None:
        return "", ""
    return str(territory.code), str(territory.level)


def event_load(event_id: Any, actor: Any, *, check_scope: bool = True) -> Event:
    try:
        pk = int(event_id)
    except (TypeError, ValueError):
        raise NotFound("事件不存在", code="not_found") from None
    event = (
        Event.objects.select_related("status", "category", "category__parent", "handler_unit", "grid")
        .filter(pk=pk)
        .first()
    )
    if event is None or (check_scope and actor is not None and not may_act(actor, event)):
        raise NotFound("事件不存在", code="not_found")
    return event


def require_staff(actor: Any) -> None:
    if actor is not None and not is_staff(actor):
        raise Forbidden("仅网格员及以上工作人员可执行此操作", code="staff_only")


def check_version(event: Event, expected_version: int | None) -> None:
    """A client that names the version it saw learns first that it is stale (not what else is wrong)."""
    if expected_version is not None and int(expected_version) != event.version:
        raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")


def int_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput("编号须为整数", code="invalid_id") from None


# --- co-handlers (after a whistle) and the SOS duty: read by the action catalogue ---------------


def co_handler_ids(event: Event) -> list[int]:
    """Ids of the handling units that reported in on this event."""
    raw = (event.extra or {}).get("co_handlers") or []
    return [int(x) for x in raw if str(x).isdigit()]


def is_co_handler(user: Any, event: Event) -> bool:
    """True when `user` is a member of a unit that reported in on `event` (after a whistle)."""
    ids = co_handler_ids(event)
    if not ids or user is None or not getattr(user, "is_authenticated", False):
        return False
    return HandlingUnit.members.through.objects.filter(user_id=user.pk, handlingunit_id__in=ids).exists()


def event_scope_path(event: Event) -> str:
    """The territory path that governs an event: its located path, else the registered device's path."""
    if event.path:
        return str(event.path)
    device = (event.extra or {}).get("device") or {}
    return str(device.get("path") or "")


def sos_visible(*, user: Any, event: Event) -> bool:
    """Staff whose territory holds the event (not located anywhere: the district level), or superusers."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    if getattr(user, "role", "") not in STAFF_ROLES:
        return False
    path = event_scope_path(event)
    if not path:
        territory = getattr(user, "territory", None)
        return territory is not None and territory.level == "district"
    return path_in_scope(user, path)


def sos_may_acknowledge(*, watch: SosWatch, user: Any) -> bool:
    """Users of the current or an earlier step (or superusers) may acknowledge."""
    if getattr(user, "is_superuser", False):
        return True
    roles = {s.role for s in SosStep.objects.filter(order__lte=watch.step)}
    return getattr(user, "role", "") in roles
