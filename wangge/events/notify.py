"""The events' side of the notifications (wangge.notify): a message about an event is a message whose
subject is the event (its territory path with it), and who is chased or supervised for an event.

Everything else — channels, queue, delivery with retries, claim, requeue — is wangge.notify; the names
stay importable from here with the same signatures (`event=` where wangge.notify says `obj=`).
"""

import urllib.request  # noqa: F401 - tests patch notify.urllib.request.urlopen (the gateway adapters use it)
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from wangge.notify import services as _services
from wangge.notify.channels import (
    Channel,
    ChannelError,
    EmailChannel,
    LogChannel,
    SmsChannel,
    WebhookChannel,
    WeComChannel,
    configured_channels,
)
from wangge.notify.selectors import notification_list as _notification_list
from wangge.notify.services import (
    CLAIM_BATCH,
    LEVEL_ROLES,
    LEVELS,
    RETRY_MAX_DELAY,
    SendResult,
    level_above,
    max_attempts,
    notifications_claim,
    notifications_due,
    notifications_requeue,
    notifications_send_on_commit,
    notifications_send_pending,
    retry_delay,
    staff_at,
)

from .models import Event, Notification

__all__ = [
    "CLAIM_BATCH",
    "LEVELS",
    "LEVEL_ROLES",
    "RETRY_MAX_DELAY",
    "Channel",
    "ChannelError",
    "EmailChannel",
    "LogChannel",
    "Message",
    "SendResult",
    "SmsChannel",
    "WeComChannel",
    "WebhookChannel",
    "configured_channels",
    "handler_recipients",
    "level_above",
    "max_attempts",
    "notification_list",
    "notification_queue",
    "notification_queue_many",
    "notifications_attach_events",
    "notifications_claim",
    "notifications_due",
    "notifications_requeue",
    "notifications_send_on_commit",
    "notifications_send_pending",
    "retry_delay",
    "staff_at",
    "staff_above",
]


@dataclass
class Message(_services.Message):
    """One message for `notification_queue_many`; `event` is what it is about."""

    event: Event | None = None

    def __post_init__(self) -> None:
        if self.event is not None and self.obj is None:
            self.obj = self.event


def notification_queue(
    *,
    kind: str,
    key: str,
    subject: str,
    body: str = "",
    event: Event | None = None,
    recipients: Iterable[Any] = (),
    addresses: Iterable[str] = (),
) -> int:
    """Queue one message about `event` for each recipient (user or bare address) on every channel that
    accepts it, in the caller's transaction; the same `key` again queues nothing new (wangge.notify)."""
    return _services.notification_queue(
        kind=kind, key=key, subject=subject, body=body, obj=event, recipients=recipients, addresses=addresses
    )


def notification_queue_many(*, messages: list[Message]) -> list[int]:
    """`notification_queue` for many messages at once (one lookup, one insert)."""
    return _services.notification_queue_many(messages=list(messages))


def notification_list(*, user: Any, state: str = "") -> QuerySet[Notification]:
    """The caller's own notifications, newest first (wangge.notify.selectors.notification_list, as the
    events' Notification with `.event`)."""
    own = _notification_list(user=user, state=state)
    return Notification.objects.filter(pk__in=own.values("pk")).order_by("-created_at", "-id")


def notifications_attach_events(rows: Sequence[Notification]) -> list[Notification]:
    """Load the events of a page of notifications in one query (each row's `.event` then asks nothing)."""
    rows = list(rows)
    ids = {r.event_id for r in rows if r.event_id is not None}
    events = Event.objects.in_bulk(list(ids)) if ids else {}
    for r in rows:
        r.__dict__["_event"] = events.get(r.event_id) if r.event_id is not None else None
    return rows


# --- who gets told ---------------------------------------------------------------------------------


def handler_recipients(event: Event) -> list[Any]:
    """Who is chased (催办): the handling user, else the members of the handling unit, else the staff
    of the event's current level (before dispatch)."""
    if event.handler_user is not None and event.handler_user.is_active:
        return [event.handler_user]
    if event.handler_unit is not None:
        members = list(event.handler_unit.members.filter(is_active=True).order_by("id"))
        if members:
            return members
    return list(staff_at(path=event.path, level=event.level or "grid"))


def staff_above(event: Event) -> list[Any]:
    """Staff of the level above the event's current level (who supervises is
    common.notifying.supervisor_recipients: those of them whose role supervises)."""
    level = event.level or "grid"
    above = level_above(level)
    return list(staff_at(path=event.path, level=above))
