"""Reporters of merged duplicates follow their master: when it closes they are told the outcome."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from wangge.audit.services import audit_record
from wangge.core import crypto

from ..common import REJECTED_STATUS, timeline_append
from ..models import (
    Event,
    Status,
    TimelineEntry,
)
from ..notify import notification_queue

OUTCOME_KIND = "outcome"


def _closure_number(master: Event) -> int:
    """How many times the master has entered a closed status from an open one (reopen + close = 2)."""
    closed = set(Status.objects.filter(is_closed=True).values_list("code", flat=True))
    n = 0
    for from_status, to_status in master.timeline.values_list("from_status", "to_status"):
        if to_status in closed and from_status not in closed:
            n += 1
    return max(n, 1)


def _outcome_text(master: Event) -> str:
    if master.status.code == REJECTED_STATUS and master.reject_reason:
        return f"不予受理，理由：{master.reject_reason}"
    last = (
        master.timeline.filter(public=True)
        .exclude(note="")
        .exclude(action__in=["merge", "merged_into"])
        .order_by("-at", "-pk")
        .first()
    )
    result = master.status.name
    if last is not None:
        result += f"。处理情况：{last.note[:200]}"
    return result


def public_source(event: Event) -> Event:
    """The event whose status a reporter should see: the master of a merged duplicate (followed to the
    end of the chain), else the event itself. For `event_public`."""
    seen = {event.pk}
    current = event
    while current.master_id is not None and current.master_id not in seen:
        seen.add(current.master_id)
        current = Event.objects.select_related("status").get(pk=current.master_id)
    return current


def merge_followers_notify(*, master_id: Any) -> int:
    """When a master is closed (or rated), tell each duplicate's reporter the outcome: one "outcome"
    Notification per duplicate with a reporter contact, and one public timeline entry per duplicate.
    Idempotent per closure: calling again creates nothing; closing again after a reopen notifies again.
    Returns the number of notifications created. Call it after the close/rate transition commits."""
    master = Event.objects.select_related("status").filter(pk=master_id).first()
    if master is None or not master.status.is_closed:
        return 0
    closure = _closure_number(master)
    outcome = _outcome_text(master)
    created = 0
    with transaction.atomic():
        for dup in Event.objects.filter(master=master).order_by("pk"):
            key = f"outcome:{dup.pk}:{master.pk}:{closure}"
            if not TimelineEntry.objects.filter(event=dup, action="master_outcome", data__key=key).exists():
                timeline_append(
                    event=dup,
                    actor=None,
                    action="master_outcome",
                    to_status=master.status.code,
                    note=f"合并处理的事件{outcome}",
                    public=True,
                    data={"master": master.pk, "key": key},
                )
            if dup.anonymous:
                continue
            # One message per duplicate: by phone when the reporter left one, else to their account.
            phone = crypto.decrypt(dup.reporter_phone_enc) if dup.reporter_phone_enc else ""
            user = dup.reporter_user if dup.reporter_user_id and not phone else None
            if not phone and user is None:
                continue
            created += notification_queue(
                kind=OUTCOME_KIND,
                key=key,
                subject=f"您反映的问题（查询码 {dup.tracking_code}）已{master.status.name}",
                body=f"您反映的问题已与反映同一问题的事件合并处理，处理结果：{outcome}",
                event=dup,
                recipients=[user] if user is not None else [],
                addresses=[phone] if phone else [],
            )
        if created:
            audit_record(
                actor=None,
                action="event.merge_notify",
                obj=master,
                after={"notified": created, "closure": closure},
            )
    return created
