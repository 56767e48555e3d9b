"""Outbound messages about any object. The table was created by the events app and keeps its name
(Meta.db_table); its event column became the generic subject (content type + id) and the subject's
territory path, filled from the events by migration events/0008."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Notification(models.Model):
    """Outbound message (催办, 督办, SOS, outcome to a reporter …), sent after commit by a channel adapter."""

    class State(models.TextChoices):
        QUEUED = "queued", "待发送"  # new, or waiting for its next attempt (next_attempt_at)
        SENDING = "sending", "发送中"  # claimed by a worker until next_attempt_at
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"  # dead: the last allowed attempt failed too

    kind = models.CharField("类型", max_length=32)
    channel = models.CharField("渠道", max_length=32, default="log")
    # What the message is about (an event, an instruction, a deadline …), if anything.
    content_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name="对象类型",
    )
    object_id = models.PositiveBigIntegerField("对象编号", null=True, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    # The territory of what it is about.
    path = models.CharField("区划路径", max_length=15, db_index=True, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="接收人",
    )
    address_enc = models.TextField("接收地址(加密)", blank=True)
    subject = models.CharField("标题", max_length=200)
    body = models.TextField("内容", blank=True)
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.QUEUED)
    dedupe_key = models.CharField("去重键", max_length=150, null=True, blank=True, unique=True)  # noqa: DJ001
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    # queued: not before this time (empty = at once); sending: the worker's claim runs out then.
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    last_attempt_at = models.DateTimeField("最近尝试", null=True, blank=True)
    error = models.CharField("最近错误", max_length=300, blank=True)  # scrubbed of personal values

    class Meta:
        db_table = "events_notification"
        verbose_name = "通知"
        verbose_name_plural = "通知"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="events_notification_due"),
            models.Index(fields=["content_type", "object_id"], name="notify_notification_about"),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"
