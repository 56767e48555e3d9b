"""The only writers of events. Each state change: one transaction, optimistic version check,
stage clock stored on the row, one appended TimelineEntry."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from wangge.core import crypto
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.core.scope import path_in_scope

from .calendar import WorkCalendar
from .models import (
    Category,
    Channel,
    Event,
    EventType,
    StageDeadline,
    Status,
    TimeLimit,
    TimelineEntry,
    Transition,
    Urgency,
    Warning,
)

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O/1/I: read over the phone


def tracking_code_new() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


@dataclass
class EventInput:
    """What any channel hands to intake, already parsed (coordinates in WGS-84)."""

    description: str
    title: str = ""
    channel: str = Channel.API
    event_type: str = ""
    urgency: str = Urgency.NORMAL
    category_code: str = ""
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    building_id: int | None = None
    anonymous: bool = False
    reporter_name: str = ""
    reporter_phone: str = ""
    external_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _validate(data: EventInput) -> Category | None:
    desc = (data.description or "").strip()
    if not desc:
        raise InvalidInput("请填写问题描述", code="description_required")
    if len(desc) > 5000:
        raise InvalidInput("问题描述不能超过5000字", code="description_too_long")
    if data.channel not in Channel.values:
        raise InvalidInput("来源渠道无效", code="invalid_channel")
    if data.urgency not in Urgency.values:
        raise InvalidInput("紧急程度无效", code="invalid_urgency")
    if data.event_type and data.event_type not in EventType.values:
        raise InvalidInput("事件类型无效", code="invalid_event_type")
    if (data.lat is None) != (data.lng is None):
        raise InvalidInput("经纬度须同时提供", code="invalid_location")
    if (
        data.lat is not None
        and data.lng is not None
        and not (-90 <= data.lat <= 90 and -180 <= data.lng <= 180)
    ):
        raise InvalidInput("经纬度超出范围", code="invalid_location")
    if data.lat is None and not data.address.strip() and data.building_id is None:
        raise InvalidInput("请提供位置：地图选点、地址或楼栋", code="location_required")
    category = None
    if data.category_code:
        category = Category.objects.filter(code=data.category_code, active=True).first()
        if category is None:
            raise InvalidInput("事件分类不存在", code="invalid_category")
    return category


def _actor_fields(actor: Any) -> dict[str, Any]:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return {"actor": actor, "actor_name": actor.get_username(), "actor_role": getattr(actor, "role", "")}
    return {"actor": None, "actor_name": "system", "actor_role": ""}


def timeline_append(
    *,
    event: Event,
    actor: Any,
    action: str,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append one step to an event's timeline (callers hold the transaction)."""
    return TimelineEntry.objects.create(
        event=event,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        data=data or {},
        **_actor_fields(actor),
    )


def time_limit_for(*, category: Category | None, urgency: str, stage: str) -> TimeLimit | None:
    """Most specific limit: category (or its nearest ancestor) beats any; urgency beats any."""
    chain: list[int | None] = []
    node = category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    chain.append(None)
    limits = list(TimeLimit.objects.filter(stage=stage, urgency__in=[urgency, ""]))
    best, best_rank = None, None
    for lim in limits:
        if lim.category_id not in chain:
            continue
        rank = (chain.index(lim.category_id), 0 if lim.urgency else 1)
        if best_rank is None or rank < best_rank:
            best, best_rank = lim, rank
    return best


def _clock_fields(
    event: Event, stage: str, start: datetime, cal: WorkCalendar | None = None
) -> dict[str, Any]:
    if not stage:
        return {
            "stage": "",
            "stage_started_at": None,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    limit = time_limit_for(category=event.category, urgency=event.urgency, stage=stage)
    if limit is None:
        return {
            "stage": stage,
            "stage_started_at": start,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    cal = cal or WorkCalendar()
    deadline = cal.deadline(start, limit.amount, limit.unit)
    warn_at = cal.warn_time(start, limit.amount, limit.unit, limit.warn_ratio)
    return {
        "stage": stage,
        "stage_started_at": start,
        "warn_at": warn_at,
        "deadline": deadline,
        "warning": Warning.NONE,
        "calendar_fallback": cal.fallback_used,
    }


def _open_clock(event: Event, fields: dict[str, Any]) -> None:
    if fields.get("deadline"):
        StageDeadline.objects.create(
            event=event,
            stage=fields["stage"],
            started_at=fields["stage_started_at"],
            warn_at=fields["warn_at"],
            deadline=fields["deadline"],
        )


def _close_clock(event: Event, at: datetime) -> None:
    for clock in StageDeadline.objects.filter(event=event, finished_at__isnull=True):
        clock.finished_at = at
        clock.overdue = at > clock.deadline
        clock.save(update_fields=["finished_at", "overdue"])


def event_create(
    *, data: EventInput, actor: Any = None, idempotency_key: str | None = None
) -> tuple[Event, bool]:
    """Durable intake: persist the report (idempotently) first; triage runs after and can be retried.

    Returns (event, created). A retried submission (same Idempotency-Key, or same channel + external id)
    returns the first event and created=False.
    """
    category = _validate(data)
    key = (idempotency_key or "").strip() or None
    if key and len(key) > 100:
        raise InvalidInput("Idempotency-Key 过长", code="invalid_idempotency_key")
    existing = _existing(key, data)
    if existing is not None:
        return existing, False
    initial = Status.objects.filter(is_initial=True).order_by("sort").first()
    if initial is None:
        raise InvalidInput("未配置初始状态", code="no_initial_status")
    now = timezone.now()
    try:
        with transaction.atomic():
            event = Event(
                tracking_code=tracking_code_new(),
                title=(data.title or data.description)[:60].strip(),
                description=data.description.strip(),
                event_type=data.event_type
                or (category.default_type if category and category.default_type else EventType.COMPLAINT),
                urgency=data.urgency,
                channel=data.channel,
                category=category,
                status=initial,
                lat=data.lat,
                lng=data.lng,
                address=data.address.strip()[:200],
                building_id=data.building_id,
                anonymous=data.anonymous,
                reporter_name_enc="" if data.anonymous else crypto.encrypt(data.reporter_name.strip()),
                reporter_phone_enc="" if data.anonymous else crypto.encrypt(data.reporter_phone.strip()),
                reporter_phone_hash=None if data.anonymous else crypto.digest(data.reporter_phone.strip()),
                reporter_user=actor
                if (actor is not None and getattr(actor, "is_authenticated", False))
                else None,
                idempotency_key=key,
                external_id=data.external_id or None,
                needs_triage=True,
            )
            clock = _clock_fields(event, initial.stage, now)
            for name, value in clock.items():
                setattr(event, name, value)
            event.save()
            _open_clock(event, clock)
            timeline_append(
                event=event,
                actor=actor,
                action="report",
                to_status=initial.code,
                note="",
                data={"channel": data.channel},
            )
    except IntegrityError:
        existing = _existing(key, data)
        if existing is None:
            raise
        return existing, False
    return event, True


def _existing(key: str | None, data: EventInput) -> Event | None:
    if key:
        found = Event.objects.filter(idempotency_key=key).first()
        if found is not None:
            return found
    if data.external_id:
        return Event.objects.filter(channel=data.channel, external_id=data.external_id).first()
    return None


def event_transition(
    *,
    event_id: int,
    target: str,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    check_scope: bool = True,
) -> Event:
    """Move an event along the status graph. Illegal edges, missing notes, wrong roles → clear errors;
    of two concurrent transitions on one event only one wins (version column)."""
    event = Event.objects.select_related("status", "category").filter(pk=event_id).first()
    if event is None or (check_scope and actor is not None and not _may_act(actor, event)):
        raise NotFound("事件不存在", code="not_found")
    target_status = Status.objects.filter(code=target).first()
    if target_status is None:
        raise InvalidInput("目标状态不存在", code="invalid_status")
    edge = Transition.objects.filter(source=event.status, target=target_status).first()
    if edge is None:
        raise Conflict(
            f"当前状态“{event.status.name}”不能变更为“{target_status.name}”", code="illegal_transition"
        )
    role = getattr(actor, "role", "") if actor is not None else ""
    if (
        edge.roles
        and actor is not None
        and role not in edge.roles
        and not getattr(actor, "is_superuser", False)
    ):
        raise Forbidden("您的角色不能执行此操作", code="role_not_allowed")
    if edge.requires_note and not note.strip():
        raise InvalidInput(f"“{edge.name}”须填写说明", code="note_required")
    version = event.version if expected_version is None else expected_version
    now = timezone.now()
    fields: dict[str, Any] = {"status_id": target_status.pk, "version": version + 1, "updated_at": now}
    if target_status.stage != event.stage or event.status.code != target_status.code:
        clock = _clock_fields(event, target_status.stage, now)
        fields.update(clock)
    if target_status.is_closed:
        fields["closed_at"] = now
    elif event.closed_at is not None:
        fields["closed_at"] = None
    fields.update(extra_fields or {})
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=version).update(**fields)
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        _close_clock(event, now)
        event.refresh_from_db()
        if target_status.stage:
            _open_clock(
                event,
                {
                    "stage": event.stage,
                    "stage_started_at": event.stage_started_at,
                    "warn_at": event.warn_at,
                    "deadline": event.deadline,
                },
            )
        timeline_append(
            event=event,
            actor=actor,
            action="transition",
            from_status=edge.source.code,
            to_status=target_status.code,
            note=note.strip(),
            public=edge.public,
            data={"name": edge.name, **(data or {})},
        )
    return event


def _may_act(actor: Any, event: Event) -> bool:
    if getattr(actor, "is_superuser", False):
        return True
    if event.handler_user_id == actor.pk:
        return True
    if event.handler_unit_id and event.handler_unit.members.filter(pk=actor.pk).exists():
        return True
    if not event.path:
        # Not located yet (or nowhere): the district command centre triages it.
        territory = getattr(actor, "territory", None)
        return territory is not None and territory.level == "district"
    return path_in_scope(actor, event.path)


def event_bump_version(*, event: Event) -> None:
    Event.objects.filter(pk=event.pk).update(version=F("version") + 1)


def classify_threshold() -> float:
    return float(settings.WANGGE_CLASSIFY_THRESHOLD)
