"""Queueing a notification about an event in the caller's transaction (sent after commit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import notify
from ..models import Event
from .rules import supervisor_roles


def notify_event(kind: str, event: Event, subject: str, recipients: Iterable[Any]) -> None:
    """Queue a notification in the caller's transaction (wangge.events.notify), sent after commit."""
    recipients = [r for r in recipients if r is not None]
    if not recipients:
        return
    queued = notify.notification_queue(
        kind=kind,
        key=f"{kind}:{event.pk}:{event.version}",
        subject=subject,
        event=event,
        recipients=recipients,
    )
    if queued:
        notify.notifications_send_on_commit()


def handler_users(event: Event) -> list[Any]:
    """The people an event's handler is: its handler, else the active members of its unit."""
    if event.handler_user_id:
        return [event.handler_user]
    if event.handler_unit is not None:
        return list(event.handler_unit.members.filter(is_active=True).order_by("pk"))
    return []


def supervisor_recipients(event: Event) -> list[Any]:
    """Who supervises (督办): staff of the level above the event's level whose role supervises
    (`rules.supervisor_roles`, the admin's 角色事件规则)."""
    roles = supervisor_roles()
    return [u for u in notify.staff_above(event) if getattr(u, "role", "") in roles]
