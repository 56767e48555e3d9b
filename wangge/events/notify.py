"""Outbound notifications (I4): 催办, 督办, 吹哨, extension decisions … through pluggable channels.

A Notification row is queued inside the transaction of the service that decided to notify (so nothing
is sent for a change that rolled back, and nothing is lost if the process dies after commit);
`notifications_send_pending()` delivers queued rows after commit — from an on_commit task, and from
every `wangge sweep`. Delivery is at most once: a row is claimed (queued → sent) before the channel is
called and turned to `failed` with the error text if the channel raises. A failing channel never
breaks the caller.

Channels are classes named by dotted path in settings.WANGGE_NOTIFY_CHANNELS
(default ["wangge.events.notify.LogChannel"]). Built in: LogChannel ("log"), EmailChannel ("email");
adapters for an SMS gateway (SmsChannel, "sms") and WeCom/企业微信 (WeComChannel, "wecom") post JSON to
an intranet gateway URL. Each queued message becomes one row per recipient and accepting channel;
`Notification.dedupe_key` (unique) makes a rerun queue nothing twice.
"""

import json
import logging
import re
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from wangge.core import crypto
from wangge.core.masking import mask_name, mask_phone

from .models import Event, Notification

logger = logging.getLogger("wangge.notify")


class ChannelError(Exception):
    """A channel could not deliver (message is stored on the notification, so keep it free of
    personal values)."""


class Channel:
    """A way to reach people. Subclasses set `name` and implement `send`; `accepts` says whether this
    channel can reach a recipient (a user, or a bare address such as a reporter's phone)."""

    name = "base"

    def accepts(self, user: Any | None, address: str = "") -> bool:
        return user is not None

    def send(self, notification: Notification) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _recipient_label(notification: Notification) -> str:
    user = notification.recipient
    if user is not None:
        return f"user#{user.pk}({mask_name(user.display_name or user.get_username())})"
    if notification.address_enc:
        return f"address({mask_phone(crypto.decrypt(notification.address_enc))})"
    return "nobody"


class LogChannel(Channel):
    """Writes subject and masked recipient to the log (logger "wangge.notify"); never the body."""

    name = "log"

    def accepts(self, user: Any | None, address: str = "") -> bool:
        return user is not None or bool(address)

    def send(self, notification: Notification) -> None:
        logger.info(
            "notify kind=%s to=%s subject=%s",
            notification.kind,
            _recipient_label(notification),
            notification.subject,
        )


class EmailChannel(Channel):
    """Django's send_mail to the user's e-mail address (users without one are not sent e-mail)."""

    name = "email"

    def accepts(self, user: Any | None, address: str = "") -> bool:
        return user is not None and bool(getattr(user, "email", ""))

    def send(self, notification: Notification) -> None:
        user = notification.recipient
        if user is None or not user.email:
            raise ChannelError("收件人没有邮箱")
        send_mail(
            notification.subject,
            notification.body or notification.subject,
            getattr(settings, "DEFAULT_FROM_EMAIL", None),
            [user.email],
            fail_silently=False,
        )


class WebhookChannel(Channel):
    """Base of HTTP gateway adapters: POST a JSON payload to the URL in settings[`url_setting`]
    (with `Authorization: Bearer <token_setting>` when set). Subclasses build the payload."""

    url_setting = ""
    token_setting = ""
    timeout = 10

    def payload(self, notification: Notification) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def post(self, payload: dict[str, Any]) -> None:
        url = getattr(settings, self.url_setting, "") if self.url_setting else ""
        if not url:
            raise ChannelError(f"未配置 {self.url_setting}")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        token = getattr(settings, self.token_setting, "") if self.token_setting else ""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - URL comes from the installation's settings
            url, data=json.dumps(payload, ensure_ascii=False).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise ChannelError(f"网关返回 {response.status}")

    def send(self, notification: Notification) -> None:
        self.post(self.payload(notification))


class SmsChannel(WebhookChannel):
    """SMS through an intranet gateway (settings.WANGGE_SMS_URL, WANGGE_SMS_TOKEN). Staff accounts have
    no phone number, so only notifications queued with an address (e.g. a reporter's phone) go by SMS."""

    name = "sms"
    url_setting = "WANGGE_SMS_URL"
    token_setting = "WANGGE_SMS_TOKEN"  # noqa: S105 - name of a setting, not a secret

    def accepts(self, user: Any | None, address: str = "") -> bool:
        return bool(address)

    def payload(self, notification: Notification) -> dict[str, Any]:
        phone = crypto.decrypt(notification.address_enc) if notification.address_enc else ""
        if not phone:
            raise ChannelError("没有手机号")
        return {"to": phone, "text": notification.subject}


class WeComChannel(WebhookChannel):
    """企业微信 application message through a gateway (settings.WANGGE_WECOM_URL, WANGGE_WECOM_TOKEN);
    the WeCom user id is the account's username."""

    name = "wecom"
    url_setting = "WANGGE_WECOM_URL"
    token_setting = "WANGGE_WECOM_TOKEN"  # noqa: S105 - name of a setting, not a secret

    def payload(self, notification: Notification) -> dict[str, Any]:
        user = notification.recipient
        if user is None:
            raise ChannelError("没有收件人")
        text = notification.subject + (f"\n{notification.body}" if notification.body else "")
        return {"touser": user.get_username(), "msgtype": "text", "text": {"content": text}}


@lru_cache(maxsize=8)
def _load_channels(paths: tuple[str, ...]) -> tuple[Channel, ...]:
    return tuple(import_string(p)() for p in paths)


def configured_channels() -> tuple[Channel, ...]:
    """Instances of settings.WANGGE_NOTIFY_CHANNELS, in order."""
    paths = getattr(settings, "WANGGE_NOTIFY_CHANNELS", None) or ["wangge.events.notify.LogChannel"]
    return _load_channels(tuple(paths))


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
    """Queue one message for each recipient (user or bare address) on every channel that accepts it.

    Runs inside the caller's transaction. `key` identifies the message (e.g. "cb:42:handle:…:red");
    the dedupe_key adds recipient and channel, so calling again with the same key queues nothing new.
    Returns how many rows were queued now. Subjects and bodies must not hold personal values.
    """
    rows: dict[str, Notification] = {}
    chans = configured_channels()
    for user in recipients:
        for ch in chans:
            if ch.accepts(user, ""):
                dk = f"{key}:u{user.pk}:{ch.name}"[:150]
                rows[dk] = Notification(
                    kind=kind, channel=ch.name, event=event, recipient=user, subject=subject[:200], body=body
                )
    for address in addresses:
        address = (address or "").strip()
        if not address:
            continue
        for ch in chans:
            if ch.accepts(None, address):
                dk = f"{key}:a{crypto.digest(address)[:16]}:{ch.name}"[:150]
                rows[dk] = Notification(
                    kind=kind,
                    channel=ch.name,
                    event=event,
                    address_enc=crypto.encrypt(address),
                    subject=subject[:200],
                    body=body,
                )
    if not rows:
        return 0
    existing = set(
        Notification.objects.filter(dedupe_key__in=list(rows)).values_list("dedupe_key", flat=True)
    )
    new = []
    for dk, row in rows.items():
        if dk not in existing:
            row.dedupe_key = dk
            new.append(row)
    Notification.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


_SCRUB = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "***@***"),
    (re.compile(r"\d{7,}"), "*******"),
]


def _scrub(text: str) -> str:
    """Keep e-mail addresses and long numbers (phones, ID numbers) out of stored error text."""
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return text[:300]


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0


def notifications_send_pending(*, limit: int = 500, now: datetime | None = None) -> SendResult:
    """Deliver queued notifications (oldest first, at most `limit`); mark each sent or failed.

    Call outside any transaction (after commit). Each row is claimed with a conditional UPDATE first,
    so two workers never send the same row.
    """
    result = SendResult()
    chans = {ch.name: ch for ch in configured_channels()}
    ids = list(
        Notification.objects.filter(state=Notification.State.QUEUED)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        at = now or timezone.now()
        claimed = Notification.objects.filter(pk=pk, state=Notification.State.QUEUED).update(
            state=Notification.State.SENT, sent_at=at
        )
        if not claimed:
            continue
        notification = Notification.objects.select_related("recipient", "event").get(pk=pk)
        channel = chans.get(notification.channel)
        try:
            if channel is None:
                raise ChannelError(f"通知渠道 {notification.channel} 未配置")
            channel.send(notification)
        except Exception as exc:  # a failing channel never breaks the caller
            error = _scrub(str(exc) or type(exc).__name__)
            logger.warning(
                "notify failed id=%s kind=%s channel=%s error=%s",
                pk,
                notification.kind,
                notification.channel,
                type(exc).__name__,
            )
            Notification.objects.filter(pk=pk).update(state=Notification.State.FAILED, error=error)
            result.failed += 1
        else:
            result.sent += 1
    return result


def notifications_send_on_commit() -> None:
    """After the current transaction commits, hand delivery to the task worker (the next sweep also
    sends whatever is still queued, so a missing worker delays but never loses a notification)."""

    def enqueue() -> None:
        try:
            from .tasks import notifications_send

            notifications_send.enqueue()
        except Exception:  # the sweep picks the rows up
            logger.warning("notify: could not enqueue delivery task", exc_info=True)

    transaction.on_commit(enqueue)


def notification_list(*, user: Any, state: str = "") -> QuerySet[Notification]:
    """The caller's own notifications, newest first."""
    qs = Notification.objects.filter(recipient=user).select_related("event").order_by("-created_at", "-id")
    if state:
        qs = qs.filter(state=state)
    return qs


# --- who gets told ---------------------------------------------------------------------------------

LEVELS = ["grid", "community", "street", "district"]
LEVEL_ROLES = {
    "grid": ["grid_worker"],
    "community": ["community_staff"],
    "street": ["street_staff"],
    "district": ["district_admin"],
}


def level_above(level: str) -> str:
    """grid → community → street → district (district stays district)."""
    i = LEVELS.index(level) if level in LEVELS else 0
    return LEVELS[min(i + 1, len(LEVELS) - 1)]


def staff_at(*, path: str, level: str) -> QuerySet[Any]:
    """Active staff accounts of the `level` node above `path` (grid workers of the grid, community
    staff of the community …). Without a path: the district administrators."""
    from django.contrib.auth import get_user_model

    from wangge.territory.models import CODE_LENGTH

    users = get_user_model().objects.filter(is_active=True, role__in=LEVEL_ROLES.get(level, []))
    length = CODE_LENGTH.get(level, 0)
    if path and len(path) >= length:
        return users.filter(territory__code=path[:length]).order_by("id")
    return users.filter(role="district_admin").order_by("id") if level == "district" else users.none()


def handler_recipients(event: Event) -> list[Any]:
    """Who is chased (催办): the handling user, else the members of the handling unit, else the staff
    of the event's current level (before dispatch)."""
    if event.handler_user_id and event.handler_user.is_active:
        return [event.handler_user]
    if event.handler_unit_id:
        members = list(event.handler_unit.members.filter(is_active=True).order_by("id"))
        if members:
            return members
    return list(staff_at(path=event.path, level=event.level or "grid"))


def supervisor_recipients(event: Event) -> list[Any]:
    """Who supervises (督办): staff of the level above the event's current level."""
    level = event.level or "grid"
    above = level_above(level)
    return list(staff_at(path=event.path, level=above))
