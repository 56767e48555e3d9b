"""Outbound notifications (I4) about any object: 催办, 督办, 吹哨, SOS, extension decisions, reminders of
any deadline … through pluggable channels (wangge.notify.channels).

A Notification row is queued inside the transaction of the service that decided to notify (so nothing
is sent for a change that rolled back, and nothing is lost if the process dies after commit);
`notifications_send_pending()` delivers due rows after commit — from an on_commit task, and from every
`wangge sweep` (registered as the sweep's final source). Delivery is at least once: a worker claims rows
(queued → sending, attempts + 1; on PostgreSQL with SELECT … FOR UPDATE SKIP LOCKED, wangge.core.claim)
so two workers never send the same row; a send that raises leaves the row queued with the (scrubbed)
error and a next attempt after WANGGE_NOTIFY_RETRY_BASE_SECONDS × 2^(attempts−1); when
WANGGE_NOTIFY_MAX_ATTEMPTS sends have failed it is `failed` for good. A row whose worker died mid-send is
taken up again when its claim runs out (WANGGE_NOTIFY_CLAIM_SECONDS). A failing channel never breaks the
caller. Each queued message becomes one row per recipient and accepting channel;
`Notification.dedupe_key` (unique) makes a rerun queue nothing twice. A message may be about an object
(`obj`): its content type and id are stored with its territory path (`path`, default obj.path).
"""

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.claim import claim_rows
from wangge.core.errors import Forbidden
from wangge.core.guards import require_district_admin
from wangge.core.tasks import task_enqueue

from .channels import Channel, ChannelError, configured_channels
from .models import Notification

logger = logging.getLogger("wangge.notify")


def notification_queue(
    *,
    kind: str,
    key: str,
    subject: str,
    body: str = "",
    obj: models.Model | None = None,
    path: str | None = None,
    recipients: Iterable[Any] = (),
    addresses: Iterable[str] = (),
) -> int:
    """Queue one message for each recipient (user or bare address) on every channel that accepts it.

    Runs inside the caller's transaction. `key` identifies the message (e.g. "cb:42:handle:…:red");
    the dedupe_key adds recipient and channel, so calling again with the same key queues nothing new.
    Returns how many rows were queued now. Subjects and bodies must not hold personal values.
    """
    return notification_queue_many(
        messages=[
            Message(
                kind=kind,
                key=key,
                subject=subject,
                body=body,
                obj=obj,
                path=path,
                recipients=list(recipients),
                addresses=list(addresses),
            )
        ]
    )[0]


@dataclass
class Message:
    """One message for `notification_queue_many` (the arguments of `notification_queue`)."""

    kind: str
    key: str
    subject: str
    body: str = ""
    obj: models.Model | None = None  # what the message is about
    path: str | None = None  # its territory path (default: obj.path)
    recipients: list[Any] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


_PATH_MAX = Notification._meta.get_field("path").max_length or 15  # the column (a grid code)


def _about(message: Message) -> dict[str, Any]:
    obj = message.obj
    path = message.path if message.path is not None else str(getattr(obj, "path", "") or "")
    if obj is None or obj.pk is None:
        return {"content_type": None, "object_id": None, "path": path[:_PATH_MAX]}
    return {
        "content_type": ContentType.objects.get_for_model(obj),
        "object_id": int(obj.pk),
        "path": path[:_PATH_MAX],
    }


def _message_rows(message: Message, chans: Sequence[Any]) -> dict[str, Notification]:
    m = message
    about = _about(m)
    rows: dict[str, Notification] = {}
    for user in m.recipients:
        for ch in chans:
            if ch.accepts(user, ""):
                dk = f"{m.key}:u{user.pk}:{ch.name}"[:150]
                rows[dk] = Notification(
                    kind=m.kind,
                    channel=ch.name,
                    recipient=user,
                    **about,
                    subject=m.subject[:200],
                    body=m.body,
                )
    for address in m.addresses:
        address = (address or "").strip()
        if not address:
            continue
        for ch in chans:
            if ch.accepts(None, address):
                dk = f"{m.key}:a{crypto.keyring().digest(address)[:16]}:{ch.name}"[:150]
                rows[dk] = Notification(
                    kind=m.kind,
                    channel=ch.name,
                    address_enc=crypto.encrypt(address),
                    **about,
                    subject=m.subject[:200],
                    body=m.body,
                )
    return rows


def notification_queue_many(*, messages: list[Message]) -> list[int]:
    """`notification_queue` for many messages at once (one lookup, one insert): how many rows each
    queued now."""
    chans = configured_channels()
    per_message = [_message_rows(m, chans) for m in messages]
    keys = [dk for rows in per_message for dk in rows]
    if not keys:
        return [0] * len(messages)
    existing = set(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    new: list[Notification] = []
    counts = []
    for rows in per_message:
        n = 0
        for dk, row in rows.items():
            if dk not in existing:
                existing.add(dk)  # the same row asked for twice in one call is queued once
                row.dedupe_key = dk
                new.append(row)
                n += 1
        counts.append(n)
    Notification.objects.bulk_create(new, ignore_conflicts=True)
    return counts


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
    failed: int = 0  # sends that failed in this pass (retried later, or dead)
    dead: int = 0  # rows given up in this pass (last allowed attempt failed, or abandoned mid-send)


# A worker claims this many rows at a time, so a claim (WANGGE_NOTIFY_CLAIM_SECONDS) covers the sends.
CLAIM_BATCH = 20
RETRY_MAX_DELAY = timedelta(days=1)


def max_attempts() -> int:
    return max(1, int(getattr(settings, "WANGGE_NOTIFY_MAX_ATTEMPTS", 6)))


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed send: BASE × 2^(attempts−1), at most a day."""
    base = max(0, int(getattr(settings, "WANGGE_NOTIFY_RETRY_BASE_SECONDS", 60)))
    return min(timedelta(seconds=base * 2 ** max(0, min(attempts - 1, 30))), RETRY_MAX_DELAY)


def _claim_time() -> timedelta:
    return timedelta(seconds=max(1, int(getattr(settings, "WANGGE_NOTIFY_CLAIM_SECONDS", 600))))


def notifications_due(*, now: datetime) -> QuerySet[Notification]:
    """Queued rows whose (next) attempt is due at `now`, in the order they are sent."""
    return Notification.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), state=Notification.State.QUEUED
    ).order_by("id")


def _release_abandoned(now: datetime) -> int:
    """Rows still claimed after their claim ran out (the worker died mid-send): queued again, or dead
    when that was the last allowed attempt. The send may have gone out — at least once, not exactly."""
    stale = Notification.objects.filter(state=Notification.State.SENDING, next_attempt_at__lte=now)
    dead = stale.filter(attempts__gte=max_attempts()).update(
        state=Notification.State.FAILED, next_attempt_at=None, error="发送中断（进程退出），已达最大尝试次数"
    )
    stale.update(state=Notification.State.QUEUED, error="发送中断（进程退出），将重试")
    return dead


def notifications_claim(*, now: datetime, limit: int) -> list[int]:
    """Take up to `limit` due rows for this worker (queued → sending, one more attempt); no other
    worker gets them until the claim runs out. Returns their ids, in sending order."""
    return claim_rows(
        notifications_due(now=now),
        limit=limit,
        values={
            "state": Notification.State.SENDING,
            "attempts": F("attempts") + 1,
            "last_attempt_at": now,
            # The claim runs on the wall clock, also when a sweep runs at another instant (--now).
            "next_attempt_at": max(now, timezone.now()) + _claim_time(),
        },
    )


def _deliver(notification: Notification, channel: Channel | None, at: datetime, result: SendResult) -> None:
    """One claimed row: send it, then mark it sent, queued for a retry, or dead."""
    try:
        if channel is None:
            raise ChannelError(f"通知渠道 {notification.channel} 未配置")
        channel.send(notification)
    except Exception as exc:  # a failing channel never breaks the caller
        error = _scrub(str(exc) or type(exc).__name__)
        dead = notification.attempts >= max_attempts()
        logger.warning(
            "notify failed id=%s kind=%s channel=%s attempt=%s%s error=%s",
            notification.pk,
            notification.kind,
            notification.channel,
            notification.attempts,
            " (giving up)" if dead else "",
            type(exc).__name__,
        )
        # Only while this worker's claim holds (another worker may have taken over an expired claim).
        Notification.objects.filter(
            pk=notification.pk, state=Notification.State.SENDING, attempts=notification.attempts
        ).update(
            state=Notification.State.FAILED if dead else Notification.State.QUEUED,
            next_attempt_at=None if dead else at + retry_delay(notification.attempts),
            error=error,
        )
        result.failed += 1
        result.dead += int(dead)
    else:
        Notification.objects.filter(pk=notification.pk).update(
            state=Notification.State.SENT, sent_at=at, next_attempt_at=None
        )
        result.sent += 1


def notifications_send_pending(*, limit: int = 500, now: datetime | None = None) -> SendResult:
    """Deliver due notifications (at most `limit` attempts): new rows and retries whose time has come.

    Call outside any transaction (after commit). Rows are claimed in small batches before any channel
    is called, so two workers never send the same row; each is then marked sent, queued for another
    attempt (with backoff), or failed after the last attempt.
    """
    result = SendResult()
    chans = {ch.name: ch for ch in configured_channels()}
    result.dead += _release_abandoned(now or timezone.now())
    done = 0
    while done < limit:
        ids = notifications_claim(now=now or timezone.now(), limit=min(CLAIM_BATCH, limit - done))
        if not ids:
            break
        done += len(ids)
        rows = Notification.objects.select_related("recipient").in_bulk(ids)
        for pk in ids:
            notification = rows.get(pk)
            if notification is not None:
                _deliver(notification, chans.get(notification.channel), now or timezone.now(), result)
    return result


def _enqueue_delivery() -> None:
    try:
        # Named, not imported: the task module calls these services (core.tasks).
        task_enqueue("wangge.notify.tasks.notifications_send")
    except Exception:  # the sweep picks the rows up
        logger.warning("notify: could not enqueue delivery task", exc_info=True)


def notifications_send_on_commit() -> None:
    """After the current transaction commits, hand delivery to the task worker (the next sweep also
    sends whatever is still queued, so a missing worker delays but never loses a notification). One
    task per transaction however many notifications it queued: the task sends every due row."""
    conn = transaction.get_connection()
    if conn.in_atomic_block and any(entry[1] is _enqueue_delivery for entry in conn.run_on_commit):
        return
    transaction.on_commit(_enqueue_delivery)


def notifications_requeue(*, actor: Any, ids: Sequence[int]) -> int:
    """Give dead (failed) notifications a fresh set of attempts — after the SMS gateway or mail server is
    fixed — and hand them to the worker. Rows not dead are left alone. District admins only; audited."""
    if actor is None:
        raise Forbidden("重新发送通知须由区级管理员操作", code="permission_denied")
    require_district_admin(actor, "仅限区级管理员重新发送通知")
    with transaction.atomic():
        dead = list(
            Notification.objects.select_for_update()
            .filter(pk__in=list(ids), state=Notification.State.FAILED)
            .values_list("pk", flat=True)
        )
        if not dead:
            return 0
        Notification.objects.filter(pk__in=dead).update(
            state=Notification.State.QUEUED, attempts=0, next_attempt_at=None
        )
        audit_record(
            actor=actor,
            action="notification.requeue",
            object_type="events.notification",  # the table's name since it began: one audit history
            after={"ids": sorted(dead), "count": len(dead)},
        )
        notifications_send_on_commit()
    return len(dead)


def notifications_sweep(*, now: datetime) -> dict[str, int]:
    """The sweep's final source: new notifications and retries that are due at `now`."""
    sent = notifications_send_pending(limit=10_000, now=now)
    return {
        "notifications_sent": sent.sent,
        "notifications_failed": sent.failed,
        "notifications_dead": sent.dead,
    }


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
