"""受理 and 不予受理: an event leaves the triage queue."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from wangge.core.errors import InvalidInput

from ..common import action_require, event_load
from ..models import (
    Category,
    Event,
    Urgency,
)
from ..sos import watch_if_critical
from .transitions import transition_apply


def event_accept(
    *,
    event_id: int,
    actor: Any,
    category_code: str | None = None,
    urgency: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Event:
    """受理: confirm (or correct) category and urgency; the event leaves the triage queue."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="accept", expected_version=expected_version)
    fields: dict[str, Any] = {"needs_triage": False, "triaged_at": timezone.now()}
    if category_code:
        category = Category.objects.filter(code=category_code, active=True).first()
        if category is None:
            raise InvalidInput("事件分类不存在", code="invalid_category")
        fields["category_id"] = category.pk
    elif event.category_id is None:
        raise InvalidInput("受理前须确定事件分类", code="category_required")
    if urgency:
        if urgency not in Urgency.values:
            raise InvalidInput("紧急程度无效", code="invalid_urgency")
        fields["urgency"] = urgency
    data = {}
    if (
        category_code
        and event.suggested_category_id
        and fields.get("category_id") != event.suggested_category_id
    ):
        data["corrected_from"] = event.suggested_category.code if event.suggested_category else ""
    with transaction.atomic():
        event, _ = transition_apply(
            event=event,
            target="accepted",
            actor=actor,
            note=note,
            expected_version=expected_version,
            extra_fields=fields,
            data=data,
            action="accept",
        )
        watch_if_critical(event)  # a person may have raised it to 特急
    return event


def event_reject(*, event_id: int, actor: Any, reason: str, expected_version: int | None = None) -> Event:
    """不予受理, with a reason the reporter sees on the tracking page."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="reject", expected_version=expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写不予受理的理由", code="reason_required")
    event, _ = transition_apply(
        event=event,
        target="rejected",
        actor=actor,
        note=reason,
        expected_version=expected_version,
        extra_fields={"reject_reason": reason[:300], "needs_triage": False},
        action="reject",
    )
    return event
