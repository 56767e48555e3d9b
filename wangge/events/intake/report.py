"""Intake of one report from any channel: validation, idempotency (Idempotency-Key, channel + external
id) and who may be answered with an earlier report, the durable-first write, photos sent with a report."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.db.queries import one_or_none
from wangge.core.errors import Conflict, InvalidInput, NotFound
from wangge.territory.locator import grid_index
from wangge.territory.models import Building

from ..common import (
    clock_fields,
    entry_office,
    event_load,
    files_remove,
    may_act,
    may_see,
    open_clock,
    photos_check,
    photos_store,
    timeline_append,
    visible_among,
)
from ..models import (
    Attachment,
    Category,
    Channel,
    Event,
    EventType,
    Level,
    Status,
    Urgency,
)
from ..triage import locate

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


def validate_input(data: EventInput, categories: dict[str, Category] | None = None) -> Category | None:
    """The report's own category (None when the channel gave none); `categories`: active ones by code,
    preloaded by a batch."""
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
    if len(data.reporter_name or "") > 50 or len(data.reporter_phone or "") > 32:
        raise InvalidInput("上报人姓名或电话过长", code="invalid_reporter")
    if data.building_id is not None:
        # Checked here, not left to the foreign key: the key is checked at COMMIT, after the answer
        # was decided, so an unknown building id was a server error instead of this message.
        if not Building.objects.filter(pk=data.building_id).exists():
            raise InvalidInput("楼栋不存在", code="invalid_building")
    category = None
    if data.category_code:
        if categories is not None:
            category = categories.get(data.category_code)
        else:
            category = Category.objects.filter(code=data.category_code, active=True).first()
        if category is None:
            raise InvalidInput("事件分类不存在", code="invalid_category")
    check_jurisdiction(data)
    return category


# A device's alarm or a call for help (and any report sent as 特急) is never turned away for its position:
# a wrong fix must still reach a person, through triage. Closed cases of an older system are history.
_NEVER_OUTSIDE = frozenset({Channel.SOS, Channel.SENSOR, Channel.HISTORY})
OUTSIDE_MESSAGE = "该位置不在本系统辖区内，请核对地图选点，或填写本辖区内的地址"


def check_jurisdiction(data: EventInput) -> None:
    """Refuse a report whose point lies outside every grid, unless its building or address places it
    in one (same precedence as triage's `locate`). Without a point nothing is refused: an address-only
    report goes to triage. Nor before any grid boundary is drawn: there is no jurisdiction yet to be
    outside of. Every channel's intake passes here (`validate_input`); a batch or 12345 import gets it
    as that row's error."""
    if data.lat is None or data.lng is None or data.channel in _NEVER_OUTSIDE:
        return
    if data.urgency == Urgency.CRITICAL:
        return  # 特急 as sent (e.g. a 12345 order about a gas leak): to the district queue and the SOS watch
    index = grid_index()
    if len(index) == 0 or index.locate(data.lng, data.lat) is not None:
        return
    # Rare (a point outside): only now the building and the address are looked up.
    grid, _, _ = locate(Event(building_id=data.building_id, address=data.address or ""))
    if grid is None:
        raise InvalidInput(OUTSIDE_MESSAGE, code="outside_jurisdiction")


def _fingerprint(data: EventInput) -> str:
    """Keyed hash of a submission: a replay with the same Idempotency-Key must carry the same body."""
    canonical = json.dumps(asdict(data), sort_keys=True, ensure_ascii=False, default=str)
    return crypto.digest(canonical) or ""


def event_new(*, data: EventInput, category: Category | None, actor: Any, initial: Status) -> Event:
    """The unsaved Event a report becomes (single and batched intake); reporter contact encrypted."""
    name, phone = data.reporter_name.strip(), data.reporter_phone.strip()
    # Until triage locates it to a grid, a report entered by staff belongs to their office (not to the
    # district): the operator's office triages it, and the operator sees what they entered.
    office_path, office_level = entry_office(actor)
    return Event(
        tracking_code=tracking_code_new(),
        title=(data.title or data.description).strip()[:60].strip(),
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
        path=office_path,
        level=office_level or Level.GRID,
        anonymous=data.anonymous,
        reporter_name_enc="" if data.anonymous else crypto.encrypt(name),
        reporter_phone_enc="" if data.anonymous else crypto.encrypt(phone),
        reporter_phone_hash=None if data.anonymous else crypto.digest(phone),
        reporter_user=actor if (actor is not None and getattr(actor, "is_authenticated", False)) else None,
        external_id=data.external_id or None,
        extra=dict(data.extra or {}),
    )


def event_create(
    *, data: EventInput, actor: Any = None, idempotency_key: str | None = None
) -> tuple[Event, bool]:
    """Durable intake: persist the report (idempotently) first; triage runs after and can be retried.

    Returns (event, created). A retried submission (same Idempotency-Key, or same channel + external id)
    returns the first event and created=False; the same key with a different body is a conflict.
    """
    category = validate_input(data)
    key, fingerprint, existing = intake_replay(data=data, actor=actor, idempotency_key=idempotency_key)
    if existing is not None:
        return existing, False
    initial = Status.objects.filter(is_initial=True).order_by("sort").first()
    if initial is None:
        raise InvalidInput("未配置初始状态", code="no_initial_status")
    now = timezone.now()
    extra = dict(data.extra or {})
    if fingerprint:
        extra["_fp"] = fingerprint
    try:
        with transaction.atomic():
            event = event_new(data=data, category=category, actor=actor, initial=initial)
            event.idempotency_key = key
            event.needs_triage = True
            event.extra = extra
            clock = clock_fields(event, initial.stage, now)
            for name, value in clock.items():
                setattr(event, name, value)
            event.save()
            open_clock(event, clock)
            timeline_append(
                event=event,
                actor=actor,
                action="report",
                to_status=initial.code,
                note="",
                data={"channel": data.channel},
            )
            audit_record(
                actor=actor,
                action="event.create",
                obj=event,
                after={"channel": data.channel, "category": data.category_code, "anonymous": data.anonymous},
            )
    except IntegrityError:
        existing = _existing(key, data, fingerprint, actor)
        if existing is None:
            raise
        return existing, False
    return event, True


# Idempotency keys the Open311 endpoint stores for its clients ("open311:<key id>:<their key>"). A REST
# caller may not send one: it would take a client's next key first and make its report a duplicate.
RESERVED_KEY_PREFIX = "open311:"


def idempotency_key_from_client(raw: str | None) -> str | None:
    """The Idempotency-Key header of a REST report; the prefix kept for Open311 clients is refused."""
    key = (raw or "").strip() or None
    if key and key.lower().startswith(RESERVED_KEY_PREFIX):
        raise InvalidInput(
            "Idempotency-Key 不能以 open311: 开头（该前缀留给 Open311 接口）", code="invalid_idempotency_key"
        )
    return key


def intake_key(*, data: EventInput, idempotency_key: str | None) -> tuple[str | None, str]:
    """(key, body fingerprint) of a submission; a key too long to store is refused."""
    key = (idempotency_key or "").strip() or None
    if key and len(key) > 100:
        raise InvalidInput("Idempotency-Key 过长", code="invalid_idempotency_key")
    return key, _fingerprint(data) if key else ""


def intake_replay(
    *, data: EventInput, actor: Any, idempotency_key: str | None
) -> tuple[str | None, str, Event | None]:
    """(key, body fingerprint, the event a retry points at or None) for a submission."""
    key, fingerprint = intake_key(data=data, idempotency_key=idempotency_key)
    return key, fingerprint, _existing(key, data, fingerprint, actor)


def intake_existing(*, data: EventInput, actor: Any, key: str | None, fingerprint: str) -> Event | None:
    """The event an earlier submission with this key (or channel + external id) created, if any."""
    return _existing(key, data, fingerprint, actor)


def _existing(key: str | None, data: EventInput, fingerprint: str = "", actor: Any = None) -> Event | None:
    if key:
        found = one_or_none(Event.objects.filter(idempotency_key=key))
        if found is not None:
            # An Idempotency-Key is the submitter's own: another account is refused even within its
            # scope, and before the body is compared (a mismatch must not tell them anything either).
            other_user = (
                found.reporter_user_id is not None
                and getattr(actor, "pk", None) is not None
                and found.reporter_user_id != actor.pk
            )
            if other_user:
                raise replay_refused()
            found = replay_answer(event=found, actor=actor, channel=data.channel)
            stored = (found.extra or {}).get("_fp")
            if fingerprint and stored and stored != fingerprint:
                raise Conflict("该 Idempotency-Key 已用于另一份不同的上报", code="idempotency_key_reused")
            return found
    if data.external_id:
        found = one_or_none(Event.objects.filter(channel=data.channel, external_id=data.external_id))
        return None if found is None else replay_answer(event=found, actor=actor, channel=data.channel)
    return None


def replay_refused() -> Conflict:
    """The one answer to a replayed key whose event the caller may not see: names nothing about it."""
    return Conflict("该编号已被使用，不能重复提交；如确需登记，请更换编号", code="duplicate_key")


def replay_allowed(*, event: Event, actor: Any, channel: str) -> bool:
    """May `actor`, replaying a client-supplied key (Idempotency-Key, channel + external id, device
    message id) that points at `event`, be answered with that event?

    An account: when it submitted the event itself (it had the first answer already) or may see it by
    the events' visibility rule (`visibility.may_see`). A caller without an account — an MQTT device, an
    Open311 api_key client, the public 我要说 form — has no scope, so it may see only what it sent
    itself: an event reported without an account on the same channel. That is enough because those
    channels namespace their keys by the sender: MQTT external ids are "<device_id>:<msg_id>" (and
    DeviceMessage rows are per device), Open311 keys and external ids carry the api key's id, and an
    account cannot forge one (its events carry it as reporter_user).
    """
    if actor is not None and getattr(actor, "is_authenticated", False):
        if event.reporter_user_id == actor.pk:
            return True
        return may_see(actor, event)
    return event.reporter_user_id is None and event.channel == channel


def replay_allowed_many(*, events: Sequence[Event], actor: Any) -> set[int]:
    """`replay_allowed` for events a batch found by their own channel + external id: the ids among them
    `actor` may be answered with, in at most one query."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {e.pk for e in events if replay_allowed(event=e, actor=actor, channel=e.channel)}
    own = {e.pk for e in events if e.reporter_user_id == actor.pk}
    rest = {e.pk for e in events} - own
    return own | {e.pk for e in visible_among(user=actor, ids=rest)}


def replay_answer(*, event: Event, actor: Any, channel: str) -> Event:
    """`event` when `actor` may be answered with it (`replay_allowed`); else Conflict duplicate_key."""
    if not replay_allowed(event=event, actor=actor, channel=channel):
        raise replay_refused()
    return event


def event_photos_add(*, event_id: int, actor: Any, files: Sequence[Any]) -> list[Attachment]:
    """Photos sent with a report (intake pages): the reporter while the event is still waiting for
    acceptance, or anyone who may act on the event. Same checks as handler photos."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = event_load(event_id, None, check_scope=False)
    if not event.status.is_initial and not (authenticated and may_act(actor, event)):
        raise NotFound("事件不存在", code="not_found")
    checked = photos_check(files)
    if not checked:
        return []
    stored: list[str] = []
    try:
        with transaction.atomic():
            entry = timeline_append(
                event=event,
                actor=actor if authenticated else None,
                action="photos",
                public=False,
                data={"photos": len(checked)},
            )
            photos_store(event, entry, checked, stored)
            audit_record(
                actor=actor if authenticated else None,
                action="event.photos",
                obj=event,
                after={"photos": len(checked)},
            )
    except Exception:
        files_remove(stored)
        raise
    return list(Attachment.objects.filter(entry=entry).order_by("pk"))
