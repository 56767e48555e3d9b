"""Notification channels: log, e-mail, gateway adapters, delivery states, the caller's inbox."""

import json
import logging

import pytest
from django.core import mail

from wangge.core import crypto
from wangge.events import notify
from wangge.events.models import Notification

pytestmark = pytest.mark.django_db


class BrokenChannel(notify.Channel):
    """A channel whose gateway is down (its error text carries a phone number, which must be scrubbed)."""

    name = "broken"

    def send(self, notification):
        raise RuntimeError("gateway refused 13812345678")


def queue(users, key="k1", **kw):
    return notify.notification_queue(
        kind="remind", key=key, subject="【催办】事件ABC", recipients=users, **kw
    )


def test_queue_is_idempotent_per_recipient_and_channel(world):
    users = [world.users.grid1, world.users.grid2]
    assert queue(users) == 2
    assert queue(users) == 0
    assert queue(users, key="k2") == 2
    assert Notification.objects.count() == 4
    assert set(Notification.objects.values_list("channel", flat=True)) == {"log"}


def test_log_channel_masks_the_recipient(world, caplog):
    world.users.grid1.display_name = "张三丰"
    world.users.grid1.save()
    queue([world.users.grid1], body="正文不进日志")
    with caplog.at_level(logging.INFO, logger="wangge.notify"):
        result = notify.notifications_send_pending()
    assert (result.sent, result.failed) == (1, 0)
    text = caplog.text
    assert (
        "张*丰" in text and "张三丰" not in text and "【催办】事件ABC" in text and "正文不进日志" not in text
    )
    n = Notification.objects.get()
    assert n.state == "sent" and n.sent_at is not None
    # Sent rows are not sent again.
    assert notify.notifications_send_pending().sent == 0


def test_email_channel(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.EmailChannel"]
    world.users.grid1.email = "grid1@example.org"
    world.users.grid1.save()
    assert queue([world.users.grid1, world.users.grid2]) == 1  # grid2 has no e-mail address
    assert notify.notifications_send_pending().sent == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["grid1@example.org"]
    assert mail.outbox[0].subject == "【催办】事件ABC"


def test_failing_and_unknown_channels_are_marked_failed(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = [
        "wangge.events.tests.test_notify.BrokenChannel",
        "wangge.events.notify.LogChannel",
    ]
    queue([world.users.grid1])
    Notification.objects.create(kind="x", channel="pigeon", recipient=world.users.grid1, subject="s")
    result = notify.notifications_send_pending()
    assert (result.sent, result.failed) == (1, 2)
    broken = Notification.objects.get(channel="broken")
    assert (
        broken.state == "failed" and "13812345678" not in broken.error and "gateway refused" in broken.error
    )
    assert "未配置" in Notification.objects.get(channel="pigeon").error


def test_gateway_adapters(world, settings, monkeypatch):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.SmsChannel", "wangge.events.notify.WeComChannel"]
    settings.WANGGE_SMS_URL = "http://sms.gateway.invalid/send"
    settings.WANGGE_WECOM_URL = "http://wecom.gateway.invalid/send"
    settings.WANGGE_WECOM_TOKEN = "t0ken"
    posted = []

    class Resp:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(request, timeout):
        posted.append((request.full_url, json.loads(request.data), request.headers.get("Authorization")))
        return Resp()

    monkeypatch.setattr(notify.urllib.request, "urlopen", fake_urlopen)
    # A user goes by WeCom only (no phone on accounts); a bare address goes by SMS only.
    assert queue([world.users.grid1], addresses=["13900001111"]) == 2
    n = Notification.objects.get(channel="sms")
    assert n.recipient is None and crypto.decrypt(n.address_enc) == "13900001111"
    assert notify.notifications_send_pending().sent == 2
    by_url = {url: (payload, auth) for url, payload, auth in posted}
    assert by_url["http://sms.gateway.invalid/send"][0] == {"to": "13900001111", "text": "【催办】事件ABC"}
    wecom, auth = by_url["http://wecom.gateway.invalid/send"]
    assert wecom["touser"] == "grid1" and auth == "Bearer t0ken"


def test_adapter_without_url_fails_cleanly(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.WeComChannel"]
    settings.WANGGE_WECOM_URL = ""
    queue([world.users.grid1])
    assert notify.notifications_send_pending().failed == 1
    assert "WANGGE_WECOM_URL" in Notification.objects.get().error


def test_delivery_after_commit(world, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        queue([world.users.grid1])
        notify.notifications_send_on_commit()
        assert Notification.objects.get().state == "queued"
    assert Notification.objects.get().state == "sent"


def test_recipients(world):
    assert list(notify.staff_at(path=world.g111.code, level="community")) == [world.users.community1]
    assert list(notify.staff_at(path=world.g111.code, level="street")) == [world.users.street1]
    assert list(notify.staff_at(path=world.g211.code, level="street")) == [world.users.street2]
    assert list(notify.staff_at(path="", level="district")) == [world.users.admin]
    assert notify.level_above("grid") == "community" and notify.level_above("district") == "district"


def test_notifications_api_lists_own_only(world, api_for):
    queue([world.users.grid1, world.users.grid2])
    resp = api_for(world.users.grid1).get("/api/v1/notifications/")
    assert resp.status_code == 200
    rows = resp.json()["results"]
    assert len(rows) == 1 and rows[0]["subject"] == "【催办】事件ABC" and rows[0]["state"] == "queued"
    assert api_for(world.users.grid1).get("/api/v1/notifications/?state=sent").json()["results"] == []
    assert api_for(world.users.admin).get("/api/v1/notifications/").json()["results"] == []
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/notifications/").status_code in (401, 403)
