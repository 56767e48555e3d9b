"""Notification channels: how a queued message reaches people.

Channels are classes named by dotted path in settings.WANGGE_NOTIFY_CHANNELS (default
["wangge.notify.channels.LogChannel"]; the former paths wangge.events.notify.X name the same classes and
keep working). Built in: LogChannel ("log"), EmailChannel ("email"); adapters for an SMS gateway
(SmsChannel, "sms") and WeCom/企业微信 (WeComChannel, "wecom") post JSON to an intranet gateway URL.
"""

import json
import logging
import urllib.request
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from wangge.core import crypto
from wangge.core.masking import mask_name, mask_phone

from .models import Notification

DEFAULT_CHANNELS = ["wangge.notify.channels.LogChannel"]
# Where the built-in channels lived before they moved here (settings written then still work).
OLD_PREFIX, NEW_PREFIX = "wangge.events.notify.", "wangge.notify.channels."

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


def _channel_path(path: str) -> str:
    if path.startswith(OLD_PREFIX) and path[len(OLD_PREFIX) :] in BUILT_IN:
        return NEW_PREFIX + path[len(OLD_PREFIX) :]
    return path


@lru_cache(maxsize=8)
def _load_channels(paths: tuple[str, ...]) -> tuple[Channel, ...]:
    return tuple(import_string(_channel_path(p))() for p in paths)


def configured_channels() -> tuple[Channel, ...]:
    """Instances of settings.WANGGE_NOTIFY_CHANNELS, in order."""
    paths = getattr(settings, "WANGGE_NOTIFY_CHANNELS", None) or DEFAULT_CHANNELS
    return _load_channels(tuple(paths))


BUILT_IN = {"LogChannel", "EmailChannel", "SmsChannel", "WeComChannel", "WebhookChannel", "Channel"}
