"""The only writers of events. Each state change: one transaction, optimistic version check,
stage clock stored on the row, one appended TimelineEntry and one audit row.

State changes all go through `event_transition` (graph check, role check, note check, version); the
named services (accept, reject, dispatch, escalate, feedback, verify, rate, reopen …) add their own rules
and fields on top of it. `event_move` routes a bare "go to status X" request to the named service.
"""

import importlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.db.models import F, ProtectedError, Q
from django.utils import timezone

from wangge.accounts.roles import STAFF_ROLES, Role
from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from wangge.core.queries import one_or_none
from wangge.core.scope import path_in_scope

from .calendar import WorkCalendar
from .models import (
    Attachment,
    Category,
    Channel,
    DispatchRule,
    Event,
    EventType,
    HandlingUnit,
    Level,
    ReturnVisit,
    StageDeadline,
    Status,
    TimeLimit,
    TimelineEntry,
    Transition,
    Urgency,
    Warning,
    WhistleSummon,
)
from .reference import reference
from .reporter import reporter_authorise
from .visibility import may_see, visible_among

log = logging.getLogger(__name__)

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O/1/I: read over the phone

LEVELS = [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT]
LEVEL_CODE_LENGTH: dict[str, int] = {Level.GRID: 15, Level.COMMUNITY: 12, Level.STREET: 9, Level.DISTRICT: 6}
# Who gets an event at a level when no dispatch rule matches (grid: its GridAssignment worker first).
LEVEL_DEFAULT_ROLE = {
    Level.GRID: Role.GRID_WORKER,
    Level.COMMUNITY: Role.COMMUNITY_STAFF,
    Level.STREET: Role.STREET_STAFF,
    Level.DISTRICT: Role.DISTRICT_ADMIN,
}
RATINGS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}

# Photos: what is accepted and how big (10 MB each, at most 9 per step).
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PHOTO_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_COUNT = 9

# Triage proposes a higher urgency when the text says so (it never lowers what the reporter chose).
URGENCY_WORDS = {
    Urgency.CRITICAL: (
        "着火",
        "起火",
        "火灾",
        "燃气泄漏",
        "煤气泄漏",
        "漏气",
        "困人",
        "救命",
        "呼救",
        "晕倒",
    ),
    Urgency.URGENT: ("冒烟", "触电", "电线掉落", "井盖丢失", "坍塌", "外墙脱落", "摔倒", "溺水"),
}
_URGENCY_RANK: dict[str, int] = {Urgency.NORMAL: 0, Urgency.URGENT: 1, Urgency.CRITICAL: 2}

# Timeline action of a plain transition, by (source, target) status code, then by target.
_EDGE_ACTIONS = {
    ("dispatched", "handling"): "sign",
    ("suspended", "handling"): "resume",
    ("handled", "handling"): "rework",
    ("verifying", "handling"): "rework",
    ("closed", "handling"): "reopen",
    ("rated", "handling"): "reopen",
    ("dispatched", "accepted"): "return",
    ("handling", "accepted"): "escalate",
}
_TARGET_ACTIONS = {
    "accepted": "accept",
    "rejected": "reject",
    "dispatched": "dispatch",
    "suspended": "suspend",
    "handled": "feedback",
    "verifying": "verify",
    "closed": "close",
    "rated": "rate",
}


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


def _validate(data: EventInput, categories: dict[str, Category] | None = None) -> Category | None:
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
        from wangge.territory.models import Building

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


def time_limit_for(
    *, category: Category | None, urgency: str, stage: str, limits: Sequence[TimeLimit] | None = None
) -> TimeLimit | None:
    """Most specific limit: category (or its nearest ancestor) beats any; urgency beats any.
    `limits`: every TimeLimit, preloaded by a batch."""
    chain: list[int | None] = []
    node = category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    chain.append(None)
    if limits is None:
        limits = list(TimeLimit.objects.filter(stage=stage, urgency__in=[urgency, ""]))
    best, best_rank = None, None
    for lim in limits:
        if lim.stage != stage or lim.urgency not in (urgency, "") or lim.category_id not in chain:
            continue
        rank = (chain.index(lim.category_id), 0 if lim.urgency else 1)
        if best_rank is None or rank < best_rank:
            best, best_rank = lim, rank
    return best


def _clock_fields(
    event: Event,
    stage: str,
    start: datetime,
    cal: WorkCalendar | None = None,
    limits: Sequence[TimeLimit] | None = None,
) -> dict[str, Any]:
    if not stage:
        return {
            "stage": "",
            "stage_started_at": None,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    limit = time_limit_for(category=event.category, urgency=event.urgency, stage=stage, limits=limits)
    if limit is None:
        return {
            "stage": stage,
            "stage_started_at": start,
            "warn_at": None,
            "deadline": None,
            "warning": Warning.NONE,
        }
    cal = cal or reference().calendar
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


def _fingerprint(data: EventInput) -> str:
    """Keyed hash of a submission: a replay with the same Idempotency-Key must carry the same body."""
    canonical = json.dumps(asdict(data), sort_keys=True, ensure_ascii=False, default=str)
    return crypto.digest(canonical) or ""


# --- intake ------------------------------------------------------------------------------------------


def event_new(*, data: EventInput, category: Category | None, actor: Any, initial: Status) -> Event:
    """The unsaved Event a report becomes (single and batched intake); reporter contact encrypted."""
    name, phone = data.reporter_name.strip(), data.reporter_phone.strip()
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
    category = _validate(data)
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


def event_intake(
    *, data: EventInput, actor: Any = None, idempotency_key: str | None = None
) -> tuple[Event, bool]:
    """What every channel calls: triage in memory, then one transaction writes the triaged report
    (`batch.event_intake_one`, idempotent). Should triage itself fail, the report is stored first
    (`event_create`) and stays `needs_triage` for a retry or a person: it is never lost."""
    from .batch import event_intake_one

    try:
        return event_intake_one(data=data, actor=actor, idempotency_key=idempotency_key)
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001 - fall back to durable-first intake
        log.exception("in-memory triage failed; storing the report untriaged first")
    event, created = event_create(data=data, actor=actor, idempotency_key=idempotency_key)
    if created:
        try:
            event = event_triage(event_id=event.pk)
        except Exception:  # noqa: BLE001 - intake must not fail after the report is stored
            log.exception("triage failed for event %s; left in the triage queue", event.pk)
            event = Event.objects.select_related("status", "category").get(pk=event.pk)
    return event, created


# --- triage ------------------------------------------------------------------------------------------


def classify(text: str) -> tuple[Category | None, float]:
    """The trained classifier when there is one, else keyword scoring (wangge.events.classifier)."""
    from .classifier import classify_text, keyword_classify

    try:
        return classify_text(text)
    except Exception:  # noqa: BLE001 - a broken model must not stop intake
        log.exception("classifier failed; falling back to keywords")
        return keyword_classify(text)


def propose_urgency(text: str, current: str, category: Category | None = None) -> str:
    """The higher of `current` and what the text suggests (the triage module's rule when present)."""
    try:
        module = importlib.import_module("wangge.events.classifier")
        fn = getattr(module, "propose_urgency", None)
    except ImportError:
        fn = None
    if fn is not None:
        suggested = str(fn(text, category))
        if _URGENCY_RANK.get(suggested, 0) > _URGENCY_RANK.get(current, 0):
            return suggested
        return current
    proposed = current
    for level, words in URGENCY_WORDS.items():
        if any(w in text for w in words) and _URGENCY_RANK[level] > _URGENCY_RANK.get(proposed, 0):
            proposed = level
    return proposed


def _locate(event: Event) -> tuple[Any, Any, str]:
    """(grid, building, how) for the event: coordinates first, then building, then the address."""
    from wangge.territory.locator import locate_point
    from wangge.territory.models import Building

    building = None
    if event.building_id:
        building = Building.objects.select_related("grid").filter(pk=event.building_id).first()
    if event.lat is not None and event.lng is not None:
        grid = locate_point(lat=event.lat, lng=event.lng)
        if grid is not None:
            return grid, building, "point"
    if building is not None and building.grid_id:
        return building.grid, building, "building"
    address = (event.address or "").strip()
    if address:
        found = list(Building.objects.select_related("grid").filter(address=address)[:2])
        if len(found) != 1 and len(address) >= 6:
            found = list(Building.objects.select_related("grid").filter(address__icontains=address)[:2])
        if len(found) == 1 and found[0].grid_id:
            return found[0].grid, found[0], "address"
    return None, building, ""


def event_triage(*, event_id: int) -> Event:
    """Locate to a grid, classify, propose urgency. Below the confidence threshold, or without a grid,
    the event stays in the human triage queue (needs_triage). Safe to run again while the event waits
    for acceptance (a no-op afterwards)."""
    event = Event.objects.select_related("status", "category", "category__parent").filter(pk=event_id).first()
    if event is None:
        raise NotFound("事件不存在", code="not_found")
    if not event.status.is_initial:
        return event  # already accepted or rejected by a person: nothing left to triage
    grid, building, how = _locate(event)
    text = f"{event.title}\n{event.description}"
    suggested, confidence = classify(text)
    urgency = propose_urgency(text, event.urgency, event.category or suggested)
    category = event.category or (suggested if suggested and confidence >= classify_threshold() else None)
    duplicate = _likely_duplicate(event, category, suggested, building)
    needs_triage = category is None or grid is None or duplicate is not None
    fields: dict[str, Any] = {
        "suggested_category_id": suggested.pk if suggested else None,
        "confidence": confidence if suggested else None,
        "urgency": urgency,
        "category_id": category.pk if category else None,
        "needs_triage": needs_triage,
        "grid_id": grid.pk if grid else None,
        "path": grid.code if grid else "",
        "building_id": building.pk if building else event.building_id,
        "triaged_at": None if needs_triage else timezone.now(),
    }
    if duplicate is not None:
        fields["extra"] = {**(event.extra or {}), "likely_duplicate": duplicate}
    old_category_id, old_urgency = event.category_id, event.urgency
    event.category, event.urgency = category, urgency
    clock: dict[str, Any] = {}
    if (
        event.stage
        and event.stage_started_at
        and (old_category_id != event.category_id or old_urgency != urgency)
    ):
        clock = _clock_fields(event, event.stage, event.stage_started_at)
        fields.update(clock)
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=event.version).update(
            **fields, version=F("version") + 1, updated_at=timezone.now()
        )
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        if clock.get("deadline"):
            StageDeadline.objects.filter(event=event, finished_at__isnull=True, stage=event.stage).update(
                deadline=clock["deadline"], warn_at=clock["warn_at"]
            )
        timeline_append(
            event=event,
            actor=None,
            action="triage",
            note="",
            public=False,
            data={
                "located_by": how,
                "grid": grid.code if grid else "",
                "suggested_category": suggested.code if suggested else "",
                "confidence": confidence,
                "urgency": urgency,
                "needs_triage": needs_triage,
                "likely_duplicate": duplicate,
            },
        )
        event.refresh_from_db()
        audit_record(
            actor=None,
            action="event.triage",
            obj=event,
            after={
                "grid": event.path,
                "category": category.code if category else "",
                "needs_triage": needs_triage,
            },
        )
        _watch_if_critical(event)
    return event


def _watch_if_critical(event: Event) -> None:
    """A 特急 event gets the SOS watch however it became 特急 (idempotent: one watch per event)."""
    if event.urgency == Urgency.CRITICAL:
        from .sos import sos_watch_critical

        sos_watch_critical(events=[event])


def _likely_duplicate(
    event: Event, category: Category | None, suggested: Category | None, building: Any
) -> dict[str, Any] | None:
    """An open report at the same place, same category, similar text: {id, tracking_code, score}."""
    from .dedupe import find_duplicates, likely_duplicate

    probe = Event(
        pk=event.pk,
        lat=event.lat,
        lng=event.lng,
        address=event.address,
        building_id=building.pk if building is not None else event.building_id,
        category_id=category.pk if category else None,
        suggested_category_id=suggested.pk if suggested else None,
        title=event.title,
        description=event.description,
        created_at=event.created_at,
    )
    found = likely_duplicate(find_duplicates(event=probe, limit=1))
    if found is None:
        return None
    other, score = found
    return {"id": other.pk, "tracking_code": other.tracking_code, "score": score}


def classify_threshold() -> float:
    return float(settings.WANGGE_CLASSIFY_THRESHOLD)


# --- the one state-change writer ---------------------------------------------------------------------


def _is_staff(actor: Any) -> bool:
    return getattr(actor, "is_superuser", False) or getattr(actor, "role", "") in STAFF_ROLES


def _unit_ids(actor: Any) -> list[int]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return list(actor.handling_units.filter(active=True).values_list("pk", flat=True))


def is_handler(actor: Any, event: Event) -> bool:
    """The handler: handler_user, a member of handler_unit, or of a unit summoned by a whistle."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if event.handler_user_id == actor.pk:
        return True
    units = _unit_ids(actor)
    if not units:
        return False
    if event.handler_unit_id in units:
        return True
    return WhistleSummon.objects.filter(whistle__event=event, unit_id__in=units).exists()


def _may_act(actor: Any, event: Event) -> bool:
    """May `actor` see and act on `event`: superuser, a handler, or staff whose territory holds it
    (events not located yet: the district level)."""
    if getattr(actor, "is_superuser", False):
        return True
    if is_handler(actor, event):
        return True
    if getattr(actor, "role", "") not in STAFF_ROLES:
        return False
    if not event.path:
        territory = getattr(actor, "territory", None)
        return territory is not None and territory.level == "district"
    return path_in_scope(actor, event.path)


def _load(event_id: Any, actor: Any, *, check_scope: bool = True) -> Event:
    try:
        pk = int(event_id)
    except (TypeError, ValueError):
        raise NotFound("事件不存在", code="not_found") from None
    event = (
        Event.objects.select_related("status", "category", "category__parent", "handler_unit", "grid")
        .filter(pk=pk)
        .first()
    )
    if event is None or (check_scope and actor is not None and not _may_act(actor, event)):
        raise NotFound("事件不存在", code="not_found")
    return event


def _require_staff(actor: Any) -> None:
    if actor is not None and not _is_staff(actor):
        raise Forbidden("仅网格员及以上工作人员可执行此操作", code="staff_only")


def _check_version(event: Event, expected_version: int | None) -> None:
    """A client that names the version it saw learns first that it is stale (not what else is wrong)."""
    if expected_version is not None and int(expected_version) != event.version:
        raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")


def _transition(
    *,
    event: Event,
    target: str,
    actor: Any,
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    action: str = "",
) -> tuple[Event, TimelineEntry]:
    _check_version(event, expected_version)
    target_status = Status.objects.filter(code=target).first()
    if target_status is None:
        raise InvalidInput("目标状态不存在", code="invalid_status")
    edge = (
        Transition.objects.select_related("source").filter(source=event.status, target=target_status).first()
    )
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
    note = (note or "").strip()
    if edge.requires_note and not note:
        raise InvalidInput(f"“{edge.name}”须填写说明", code="note_required")
    version = event.version if expected_version is None else int(expected_version)
    now = timezone.now()
    before = {"status": event.status.code, "level": event.level}
    fields: dict[str, Any] = {"status_id": target_status.pk, "version": version + 1, "updated_at": now}
    fields.update(extra_fields or {})
    # The new clock depends on the fields being set (category, urgency): compute it on the new values.
    for name in ("category_id", "urgency"):
        if name in fields:
            setattr(event, name, fields[name])
    if "category_id" in fields:
        event.category = Category.objects.filter(pk=fields["category_id"]).first()
    if target_status.stage != event.stage or event.status.code != target_status.code:
        fields.update(_clock_fields(event, target_status.stage, now))
    if target_status.is_closed:
        # The first closing counts (closed → rated keeps the date the reopen window runs from).
        fields["closed_at"] = event.closed_at if event.status.is_closed and event.closed_at else now
    elif event.closed_at is not None:
        fields["closed_at"] = None
    action = (
        action or _EDGE_ACTIONS.get((edge.source.code, target)) or _TARGET_ACTIONS.get(target, "transition")
    )
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
        entry = timeline_append(
            event=event,
            actor=actor,
            action=action,
            from_status=edge.source.code,
            to_status=target_status.code,
            note=note,
            public=edge.public,
            data={"name": edge.name, **(data or {})},
        )
        audit_record(
            actor=actor,
            action=f"event.{action}",
            obj=event,
            before=before,
            after={"status": target_status.code, "level": event.level},
            reason=note[:200] if action in ("reject", "reassign", "escalate", "reopen") else "",
        )
        if target_status.is_closed and Event.objects.filter(master_id=event.pk).exists():
            # Reporters of merged duplicates follow the master: tell them the outcome (once per closure).
            from .merge import merge_followers_notify

            merge_followers_notify(master_id=event.pk)
    return event, entry


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
    action: str = "",
) -> Event:
    """Move an event along the status graph. Illegal edges, missing notes, wrong roles → clear errors;
    of two concurrent transitions on one event only one wins (version column)."""
    event = _load(event_id, actor, check_scope=check_scope)
    event, _ = _transition(
        event=event,
        target=target,
        actor=actor,
        note=note,
        expected_version=expected_version,
        data=data,
        extra_fields=extra_fields,
        action=action,
    )
    return event


def _update(
    *,
    event: Event,
    actor: Any,
    action: str,
    fields: dict[str, Any],
    note: str = "",
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    before: dict[str, Any] | None = None,
) -> Event:
    """A change without a status change (reassign, escalate in place): version, timeline, audit."""
    _check_version(event, expected_version)
    version = event.version if expected_version is None else int(expected_version)
    with transaction.atomic():
        won = Event.objects.filter(pk=event.pk, version=version).update(
            **fields, version=version + 1, updated_at=timezone.now()
        )
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        event.refresh_from_db()
        timeline_append(
            event=event,
            actor=actor,
            action=action,
            from_status=event.status.code,
            to_status=event.status.code,
            note=note,
            public=public,
            data=data or {},
        )
        audit_record(
            actor=actor,
            action=f"event.{action}",
            obj=event,
            before=before,
            after={k: v for k, v in (data or {}).items() if k in ("unit", "user", "level")},
            reason=note[:200],
        )
    return event


def _notify(kind: str, event: Event, subject: str, recipients: Iterable[Any]) -> None:
    """Queue a notification in the caller's transaction (wangge.events.notify), sent after commit."""
    recipients = [r for r in recipients if r is not None]
    if not recipients:
        return
    try:
        from . import notify
    except ImportError:  # pragma: no cover - notifications not installed
        return
    queued = notify.notification_queue(
        kind=kind,
        key=f"{kind}:{event.pk}:{event.version}",
        subject=subject,
        event=event,
        recipients=recipients,
    )
    if queued:
        notify.notifications_send_on_commit()


def _handler_users(event: Event) -> list[Any]:
    if event.handler_user_id:
        return [event.handler_user]
    if event.handler_unit is not None:
        return list(event.handler_unit.members.filter(is_active=True).order_by("pk"))
    return []


# --- accept / reject ---------------------------------------------------------------------------------


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
    event = _load(event_id, actor)
    _require_staff(actor)
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
        event, _ = _transition(
            event=event,
            target="accepted",
            actor=actor,
            note=note,
            expected_version=expected_version,
            extra_fields=fields,
            data=data,
            action="accept",
        )
        _watch_if_critical(event)  # a person may have raised it to 特急
    return event


def event_reject(*, event_id: int, actor: Any, reason: str, expected_version: int | None = None) -> Event:
    """不予受理, with a reason the reporter sees on the tracking page."""
    event = _load(event_id, actor)
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写不予受理的理由", code="reason_required")
    event, _ = _transition(
        event=event,
        target="rejected",
        actor=actor,
        note=reason,
        expected_version=expected_version,
        extra_fields={"reject_reason": reason[:300], "needs_triage": False},
        action="reject",
    )
    return event


# --- dispatch ----------------------------------------------------------------------------------------


def _category_chain(category: Category | None) -> list[int]:
    chain = []
    node = category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    return chain


def _rule_matches(rule: DispatchRule, event: Event, chain: list[int]) -> bool:
    if rule.level != event.level:
        return False
    if rule.category_id is not None:
        if not chain:
            return False
        if rule.include_subcategories:
            if rule.category_id not in chain:
                return False
        elif rule.category_id != chain[0]:
            return False
    if rule.path_prefix and not (event.path or "").startswith(rule.path_prefix):
        return False
    return not (rule.urgency and rule.urgency != event.urgency)


def _node_at(event: Event, level: str) -> Any:
    from wangge.territory.models import Territory

    if not event.path:
        return None
    return Territory.objects.filter(code=event.path[: LEVEL_CODE_LENGTH[level]]).first()


def _user_for_role(event: Event, level: str, role: str) -> Any:
    """Users with `role` bound to the event's node at `level`; for the grid level its active
    GridAssignment worker comes first."""
    from wangge.territory.models import GridAssignment, GridDuty

    User = get_user_model()
    node = _node_at(event, level)
    if node is None:
        return None
    today = timezone.localdate()
    if level == Level.GRID:
        assigned = (
            GridAssignment.objects.select_related("user")
            .filter(grid=node, since__lte=today, user__is_active=True)
            .filter(Q(until__isnull=True) | Q(until__gte=today))
        )
        if role == Role.GRID_WORKER:
            assigned = assigned.filter(duty=GridDuty.WORKER)
        else:
            assigned = assigned.filter(user__role=role)
        found = assigned.order_by("since", "pk").first()
        if found is not None:
            return found.user
    return User.objects.filter(role=role, territory=node, is_active=True).order_by("pk").first()


def _who(unit: HandlingUnit | None, user: Any) -> str:
    parts = []
    if unit is not None:
        parts.append(f"处置单位“{unit.name}”")
    if user is not None:
        parts.append(f"人员“{user}”")
    return "、".join(parts) or "无"


def dispatch_resolve(*, event: Event) -> dict[str, Any]:
    """Dry run: who would get this event? The first active rule (by order) that matches category (or an
    ancestor), territory prefix, urgency and the event's current level; else the level's default (the
    grid's worker at grid level). Returns rule id, unit/user and a Chinese explanation."""
    chain = _category_chain(event.category)
    skipped: list[str] = []
    level_name = Level(event.level).label
    for rule in (
        DispatchRule.objects.filter(active=True).select_related("unit", "category").order_by("order", "id")
    ):
        if not _rule_matches(rule, event, chain):
            continue
        unit = rule.unit if rule.unit_id and rule.unit and rule.unit.active else None
        user = None
        if unit is None and rule.role:
            user = _user_for_role(event, rule.level, rule.role)
        if unit is None and user is None:
            skipped.append(f"规则#{rule.pk}匹配但{Level(rule.level).label}层级没有可接收的单位或人员")
            continue
        why = f"按分拨规则#{rule.pk}（顺序{rule.order}"
        if rule.category is not None:
            why += f"，分类“{rule.category.name}”{'及其子类' if rule.include_subcategories else ''}"
        if rule.path_prefix:
            why += f"，区划前缀{rule.path_prefix}"
        if rule.urgency:
            why += f"，{Urgency(rule.urgency).label}"
        why += f"，{Level(rule.level).label}层级）派给{_who(unit, user)}"
        return _resolution(rule.pk, unit, user, event.level, "；".join([*skipped, why]))
    if not event.path:
        return _resolution(None, None, None, event.level, "事件尚未定位到网格，无法自动分拨，请手动指定")
    role = LEVEL_DEFAULT_ROLE[Level(event.level)]
    user = _user_for_role(event, event.level, role)
    if user is None:
        why = f"没有匹配的分拨规则，且{level_name}层级没有{Role(role).label}，请手动指定"
        return _resolution(None, None, None, event.level, "；".join([*skipped, why]))
    if event.level == Level.GRID:
        why = f"没有匹配的分拨规则，默认派给本网格网格员“{user}”"
    else:
        why = f"没有匹配的分拨规则，默认派给{level_name}的{Role(role).label}“{user}”"
    return _resolution(None, None, user, event.level, "；".join([*skipped, why]))


def _resolution(
    rule_id: int | None, unit: HandlingUnit | None, user: Any, level: str, why: str
) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "unit_id": unit.pk if unit else None,
        "unit_name": unit.name if unit else "",
        "user_id": user.pk if user else None,
        "user_name": str(user) if user else "",
        "level": level,
        "found": unit is not None or user is not None,
        "explanation": why,
    }


def _target(unit_id: Any, user_id: Any) -> tuple[HandlingUnit | None, Any]:
    unit = user = None
    if unit_id not in (None, ""):
        unit = HandlingUnit.objects.filter(pk=_int(unit_id), active=True).first()
        if unit is None:
            raise InvalidInput("处置单位不存在或已停用", code="invalid_unit")
    if user_id not in (None, ""):
        user = (
            get_user_model()
            .objects.filter(pk=_int(user_id), is_active=True, role__in=[*STAFF_ROLES, Role.DEPT_HANDLER])
            .first()
        )
        if user is None:
            raise InvalidInput("处置人不存在或不是工作人员", code="invalid_user")
    return unit, user


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput("编号须为整数", code="invalid_id") from None


def event_dispatch(
    *,
    event_id: int,
    actor: Any,
    unit_id: int | None = None,
    user_id: int | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Event:
    """派遣: to the unit/user given, or by the dispatch rules (default: the grid's worker)."""
    event = _load(event_id, actor)
    _require_staff(actor)
    unit, user = _target(unit_id, user_id)
    data: dict[str, Any]
    if unit is None and user is None:
        resolved = dispatch_resolve(event=event)
        if not resolved["found"]:
            raise InvalidInput(resolved["explanation"], code="no_dispatch_target")
        unit, user = _target(resolved["unit_id"], resolved["user_id"])
        data = {"rule": resolved["rule_id"], "explanation": resolved["explanation"]}
    else:
        data = {"rule": None, "explanation": "人工指定"}
    data.update(
        {"unit": unit.pk if unit else None, "user": user.pk if user else None, "to": _who(unit, user)}
    )
    with transaction.atomic():
        event, _ = _transition(
            event=event,
            target="dispatched",
            actor=actor,
            note=reason,
            expected_version=expected_version,
            extra_fields={
                "handler_unit_id": unit.pk if unit else None,
                "handler_user_id": user.pk if user else None,
            },
            data=data,
            action="dispatch",
        )
        _notify("dispatch", event, f"事件 {event.tracking_code} 已派给您处置", _handler_users(event))
    return event


def event_reassign(
    *,
    event_id: int,
    actor: Any,
    reason: str,
    unit_id: int | None = None,
    user_id: int | None = None,
    expected_version: int | None = None,
) -> Event:
    """改派: a new handler for an event already dispatched; the reason is required and on record."""
    event = _load(event_id, actor)
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("改派须填写理由", code="reason_required")
    if event.status.is_closed or not (event.handler_unit_id or event.handler_user_id):
        raise Conflict(f"当前状态“{event.status.name}”不能改派", code="illegal_transition")
    unit, user = _target(unit_id, user_id)
    if unit is None and user is None:
        raise InvalidInput("请指定新的处置单位或处置人", code="target_required")
    if (unit.pk if unit else None) == event.handler_unit_id and (
        user.pk if user else None
    ) == event.handler_user_id:
        raise InvalidInput("新处置人与原处置人相同", code="same_handler")
    old = {"unit": event.handler_unit_id, "user": event.handler_user_id}
    with transaction.atomic():
        event = _update(
            event=event,
            actor=actor,
            action="reassign",
            fields={
                "handler_unit_id": unit.pk if unit else None,
                "handler_user_id": user.pk if user else None,
            },
            note=reason,
            expected_version=expected_version,
            data={
                "from": old,
                "unit": unit.pk if unit else None,
                "user": user.pk if user else None,
                "to": _who(unit, user),
            },
            public=False,
            before=old,
        )
        _notify("reassign", event, f"事件 {event.tracking_code} 已改派给您处置", _handler_users(event))
    return event


def _escalation_target(event: Event) -> tuple[HandlingUnit | None, Any, dict[str, Any]] | None:
    """Whom an event just escalated goes to at once: the first dispatch rule written for its new level
    (DispatchRule.level; category × territory prefix × urgency, as in dispatch_resolve) whose unit or
    role resolves. The level's default (its staff) is not chosen automatically: without such a rule the
    event waits at "accepted" for that level's staff to dispatch it. None: nothing resolved."""
    resolved = dispatch_resolve(event=event)
    if not resolved["found"] or resolved["rule_id"] is None:
        return None
    try:
        unit, user = _target(resolved["unit_id"], resolved["user_id"])
    except InvalidInput:  # the rule's unit or person cannot take events (inactive, not staff)
        return None
    data = {
        "rule": resolved["rule_id"],
        "explanation": resolved["explanation"],
        "auto": "escalate",
        "unit": unit.pk if unit else None,
        "user": user.pk if user else None,
        "to": _who(unit, user),
    }
    return unit, user, data


def _escalation_dispatch(event: Event) -> Event | None:
    """Dispatch an event just escalated by the rules of its new level, as a system step (actor None) in
    the caller's transaction. None (and nothing changed) when no rule resolves or the status graph
    refuses accepted → dispatched."""
    target = _escalation_target(event)
    if target is None:
        return None
    unit, user, data = target
    try:
        with transaction.atomic():
            dispatched, _ = _transition(
                event=event,
                target="dispatched",
                actor=None,
                note=f"上报至{Level(event.level).label}后按分拨规则自动派遣",
                extra_fields={
                    "handler_unit_id": unit.pk if unit else None,
                    "handler_user_id": user.pk if user else None,
                },
                data=data,
                action="dispatch",
            )
    except ServiceError as exc:
        log.info("event %s: no dispatch after escalation (%s)", event.pk, exc.code)
        event.refresh_from_db()
        return None
    return dispatched


def event_escalate(
    *, event_id: int, actor: Any, reason: str, expected_version: int | None = None, check_scope: bool = True
) -> Event:
    """上报: one level up the ladder grid → community → street → district (never beyond). The event goes
    back to "accepted" at the higher level and, when a dispatch rule of that level resolves, is
    dispatched at once by the system (a second timeline step, actor None); otherwise it waits there and
    the level's staff are told to dispatch it. `actor=None` is the system (a red limit passed)."""
    event = _load(event_id, actor, check_scope=check_scope)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("上报须说明本级无法解决的原因", code="reason_required")
    if event.status.is_closed or event.status.is_initial:
        raise Conflict(f"当前状态“{event.status.name}”不能上报", code="illegal_transition")
    idx = LEVELS.index(Level(event.level))
    if idx + 1 >= len(LEVELS):
        raise Conflict("已是区级，不能继续上报", code="escalation_top")
    new_level = LEVELS[idx + 1]
    data = {"from_level": event.level, "level": new_level}
    fields = {"level": new_level, "handler_unit_id": None, "handler_user_id": None}
    with transaction.atomic():
        if event.status.code == "accepted":
            # Not dispatched yet at this level: move up in place, the dispatch clock keeps running.
            event = _update(
                event=event,
                actor=actor,
                action="escalate",
                fields=fields,
                note=reason,
                expected_version=expected_version,
                data=data,
                public=True,
                before={"level": event.level},
            )
        else:
            event, _ = _transition(
                event=event,
                target="accepted",
                actor=actor,
                note=reason,
                expected_version=expected_version,
                extra_fields=fields,
                data=data,
                action="escalate",
            )
        try:
            from .notify import staff_at

            above = list(staff_at(path=event.path, level=new_level)) if event.path else []
        except ImportError:  # pragma: no cover
            above = []
        dispatched = _escalation_dispatch(event)
        if dispatched is None:
            _notify(
                "escalate",
                event,
                f"事件 {event.tracking_code} 已上报至{Level(new_level).label}，请派遣",
                above,
            )
            return event
        event = dispatched
        handlers = _handler_users(event)
        _notify("dispatch", event, f"事件 {event.tracking_code} 已派给您处置", handlers)
        _notify(
            "escalate",
            event,
            f"事件 {event.tracking_code} 已上报至{Level(new_level).label}，已按分拨规则自动派遣",
            [u for u in above if u not in handlers],
        )
    return event


# --- handling, feedback, verification ----------------------------------------------------------------


def photo_check(file: Any) -> str:
    """The real content type of an uploaded photo (jpeg/png/webp, ≤10 MB, declared type must match)."""
    from PIL import Image, UnidentifiedImageError

    size = getattr(file, "size", None)
    if size is None:
        raise InvalidInput("无法读取照片", code="invalid_photo")
    if size > PHOTO_MAX_BYTES:
        raise InvalidInput("照片不能超过10MB", code="photo_too_large")
    if size == 0:
        raise InvalidInput("照片为空", code="invalid_photo")
    declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared not in PHOTO_EXT:
        raise InvalidInput("只接受 JPEG、PNG 或 WebP 格式的照片", code="photo_type")
    try:
        file.seek(0)
        with Image.open(file) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("上传的文件不是有效的图片", code="not_an_image") from None
    finally:
        file.seek(0)
    actual = PHOTO_TYPES.get(fmt or "")
    if actual is None:
        raise InvalidInput("只接受 JPEG、PNG 或 WebP 格式的照片", code="photo_type")
    if actual != declared:
        raise InvalidInput("照片的实际格式与声明的类型不符", code="photo_type_mismatch")
    return actual


def _check_photos(files: Sequence[Any]) -> list[tuple[Any, str]]:
    files = [f for f in files if f is not None]
    if len(files) > PHOTO_MAX_COUNT:
        raise InvalidInput(f"每次最多上传{PHOTO_MAX_COUNT}张照片", code="too_many_photos")
    return [(f, photo_check(f)) for f in files]


def _store_photos(
    event: Event, entry: TimelineEntry, checked: list[tuple[Any, str]], stored: list[str]
) -> list[int]:
    ids = []
    for f, content_type in checked:
        att = Attachment(event=event, entry=entry, content_type=content_type, size=f.size)
        # A random name: nothing the uploader typed ends up in a path or URL.
        att.file.save(uuid.uuid4().hex + PHOTO_EXT[content_type], f, save=False)
        stored.append(str(att.file.name))
        att.save()
        ids.append(att.pk)
    return ids


def _remove_files(names: Iterable[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover
            log.warning("could not remove stored file after rollback")


def event_feedback(
    *, event_id: int, actor: Any, note: str, files: Sequence[Any] = (), expected_version: int | None = None
) -> Event:
    """处置反馈 by the handler, with photos. An event still "dispatched" is signed for first."""
    event = _load(event_id, actor)
    note = (note or "").strip()
    if not note:
        raise InvalidInput("请填写处置情况", code="note_required")
    checked = _check_photos(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            if event.status.code == "dispatched":
                event, _ = _transition(
                    event=event,
                    target="handling",
                    actor=actor,
                    expected_version=expected_version,
                    action="sign",
                )
                expected_version = None
            event, entry = _transition(
                event=event,
                target="handled",
                actor=actor,
                note=note,
                expected_version=expected_version,
                data={"photos": len(checked)},
                action="feedback",
            )
            if checked:
                _store_photos(event, entry, checked, stored)  # linked to the entry by Attachment.entry
    except Exception:
        _remove_files(stored)  # the transaction rolled back: do not keep orphan files
        raise
    return event


def event_photos_add(*, event_id: int, actor: Any, files: Sequence[Any]) -> list[Attachment]:
    """Photos sent with a report (intake pages): the reporter while the event is still waiting for
    acceptance, or anyone who may act on the event. Same checks as handler photos."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = _load(event_id, None, check_scope=False)
    if not event.status.is_initial and not (authenticated and _may_act(actor, event)):
        raise NotFound("事件不存在", code="not_found")
    checked = _check_photos(files)
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
            _store_photos(event, entry, checked, stored)
            audit_record(
                actor=actor if authenticated else None,
                action="event.photos",
                obj=event,
                after={"photos": len(checked)},
            )
    except Exception:
        _remove_files(stored)
        raise
    return list(Attachment.objects.filter(entry=entry).order_by("pk"))


def event_verify(
    *, event_id: int, actor: Any, passed: bool, note: str = "", expected_version: int | None = None
) -> Event:
    """核查: passed → closed (结案); not passed → back to handling (返工, reason required)."""
    event = _load(event_id, actor)
    _require_staff(actor)
    note = (note or "").strip()
    if event.status.code not in ("handled", "verifying"):
        raise Conflict(f"当前状态“{event.status.name}”不能核查", code="illegal_transition")
    if passed:
        event, _ = _transition(
            event=event,
            target="closed",
            actor=actor,
            note=note,
            expected_version=expected_version,
            data={"verified": True},
            action="close",
        )
        return event
    if not note:
        raise InvalidInput("核查不通过须说明返工原因", code="note_required")
    event, _ = _transition(
        event=event,
        target="handling",
        actor=actor,
        note=note,
        expected_version=expected_version,
        data={"verified": False},
        action="rework",
    )
    return event


def _by_tracking_code(tracking_code: str) -> Event:
    """The event behind a public tracking code, or 404. The code only finds it: acting on it needs
    the reporter's token or account (`reporter.reporter_authorise`)."""
    code = (tracking_code or "").strip().upper()
    # A code no event can have is not looked up: PostgreSQL refuses NUL even in a comparison (the API
    # passes the URL's code here as it came; selectors.event_by_tracking_code has the same guard).
    if len(code) > (Event._meta.get_field("tracking_code").max_length or 16) or not code.isprintable():
        raise NotFound("查询码不存在", code="not_found")
    event = (
        Event.objects.select_related("status", "master", "master__status").filter(tracking_code=code).first()
    )
    if event is None:
        raise NotFound("查询码不存在", code="not_found")
    return event


def event_verify_by_reporter(
    *, tracking_code: str, passed: bool, note: str = "", reporter_token: str = "", actor: Any = None
) -> Event:
    """核查 by the reporter (their token from the reporter link, or their own signed-in account; the
    public tracking code alone is refused): once the handler has reported back, "solved" closes the
    event, "not solved" sends it back to handling (返工) with the reporter's reason. A merged duplicate
    cannot (its outcome follows the master, which staff verify)."""
    note = (note or "").strip()[:500]
    event = _by_tracking_code(tracking_code)
    reporter_authorise(event=event, token=reporter_token, actor=actor)
    if event.master_id:
        raise Conflict("该事件已并入其他事件办理，请查看主事件的办理结果", code="merged")
    if event.status.code not in ("handled", "verifying"):
        raise Conflict(f"当前状态“{event.status.name}”不需要您确认", code="illegal_transition")
    if not passed and not note:
        raise InvalidInput("请说明哪里还没有解决", code="note_required")
    event, _ = _transition(
        event=event,
        target="closed" if passed else "handling",
        actor=None,
        note=note,
        data={"verified": passed, "by": "reporter"},
        action="close" if passed else "rework",
    )
    return event


# --- rating, return visit, reopen --------------------------------------------------------------------


def _return_visit_assignee(event: Event) -> Any:
    """The community staff of the event's community, else the handler."""
    staff = _user_for_role(event, Level.COMMUNITY, Role.COMMUNITY_STAFF) if event.path else None
    return staff or event.handler_user


def event_rate(
    *, tracking_code: str, rating: str, comment: str = "", reporter_token: str = "", actor: Any = None
) -> Event:
    """The reporter rates (token from the reporter link, or their own signed-in account; only when
    closed). 不满意 creates a return-visit task (回访) and opens the reopen window. A merged duplicate
    follows its master."""
    event = _by_tracking_code(tracking_code)
    reporter_authorise(event=event, token=reporter_token, actor=actor)
    if rating not in RATINGS:
        raise InvalidInput("评价须为：满意、基本满意或不满意", code="invalid_rating")
    comment = (comment or "").strip()[:500]
    if event.rating:
        raise Conflict("该事件已评价", code="already_rated")
    master = event.master or event
    if event.master_id:
        if not master.status.is_closed or master.status.code == "rejected":
            raise Conflict("事件尚未办结，暂不能评价", code="not_closed")
    elif event.status.code != "closed":
        raise Conflict("事件尚未办结，暂不能评价", code="not_closed")
    data = {"rating": rating, "label": RATINGS[rating]}
    with transaction.atomic():
        if event.master_id:
            # The duplicate keeps its own rating; the master's timeline records it.
            if not Event.objects.filter(pk=event.pk, version=event.version).update(
                rating=rating, version=F("version") + 1, updated_at=timezone.now()
            ):
                raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
            timeline_append(event=event, actor=None, action="rate", note=comment, data=data)
            timeline_append(
                event=master,
                actor=None,
                action="rate",
                note=comment,
                public=False,
                data={**data, "duplicate": event.pk},
            )
            audit_record(actor=None, action="event.rate", obj=event, after={"rating": rating})
            event.refresh_from_db()
        else:
            event, _ = _transition(
                event=event,
                target="rated",
                actor=None,
                note=comment,
                extra_fields={"rating": rating},
                data=data,
                action="rate",
            )
        if rating == "unsatisfied":
            cal = reference().calendar
            visit = ReturnVisit.objects.create(
                event=master,
                reason=f"上报人评价不满意{('：' + comment[:200]) if comment else ''}",
                assigned_to=_return_visit_assignee(master),
                due=cal.deadline(timezone.now(), 3, TimeLimit.Unit.WORKDAY),
            )
            _notify(
                "return_visit",
                master,
                f"事件 {master.tracking_code} 上报人不满意，请回访",
                [visit.assigned_to],
            )
            timeline_append(
                event=master,
                actor=None,
                action="return_visit",
                public=False,
                data={"visit": visit.pk, "assigned_to": visit.assigned_to_id},
            )
            audit_record(actor=None, action="event.return_visit", obj=master, after={"visit": visit.pk})
    return event


def reopen_deadline(event: Event) -> datetime | None:
    if event.closed_at is None:
        return None
    return event.closed_at + timedelta(days=int(settings.WANGGE_REOPEN_DAYS))


def event_reopen(*, event_id: int, actor: Any, reason: str, expected_version: int | None = None) -> Event:
    """重新打开 a closed event within settings.WANGGE_REOPEN_DAYS of closing; back to the handler."""
    event = _load(event_id, actor)
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("重新打开须填写理由", code="reason_required")
    if event.status.code == "rejected":
        raise Conflict("不予受理的事件不能重新打开", code="illegal_transition")
    limit = reopen_deadline(event)
    if limit is not None and timezone.now() > limit:
        raise Conflict(
            f"已超过结案后{settings.WANGGE_REOPEN_DAYS}天的重新打开期限", code="reopen_window_passed"
        )
    event, _ = _transition(
        event=event,
        target="handling",
        actor=actor,
        note=reason,
        expected_version=expected_version,
        extra_fields={"rating": ""},
        action="reopen",
    )
    return event


def return_visit_complete(
    *, visit_id: int, actor: Any, outcome: str, reopen: bool = False, reason: str = ""
) -> ReturnVisit:
    """回访 done: outcome on record; optionally reopen the event (within the window)."""
    visit = ReturnVisit.objects.select_related("event").filter(pk=_int(visit_id)).first()
    if visit is None or not _may_act(actor, visit.event):
        raise NotFound("回访任务不存在", code="not_found")
    _require_staff(actor)
    outcome = (outcome or "").strip()
    if not outcome:
        raise InvalidInput("请填写回访情况", code="outcome_required")
    if visit.done_at is not None:
        raise Conflict("该回访已完成", code="already_done")
    with transaction.atomic():
        if not ReturnVisit.objects.filter(pk=visit.pk, done_at__isnull=True).update(
            done_at=timezone.now(), outcome=outcome[:2000]
        ):
            raise Conflict("该回访已完成", code="already_done")
        timeline_append(
            event=visit.event,
            actor=actor,
            action="return_visit_done",
            note=outcome,
            public=False,
            data={"visit": visit.pk},
        )
        audit_record(
            actor=actor, action="event.return_visit_done", obj=visit.event, after={"visit": visit.pk}
        )
        if reopen:
            event_reopen(event_id=visit.event_id, actor=actor, reason=reason or outcome)
    visit.refresh_from_db()
    return visit


# --- generic "go to status X" ------------------------------------------------------------------------


def event_move(
    *, event_id: int, actor: Any, target: str, note: str = "", expected_version: int | None = None
) -> Event:
    """A bare transition request (API `transitions/`): routed to the named service when the target
    has one (so its rules apply), else a plain graph transition."""
    event = _load(event_id, actor)
    source = event.status.code
    kw = {"event_id": event.pk, "actor": actor, "expected_version": expected_version}
    if target == "rated":
        raise Conflict("评价须由上报人通过查询码提交", code="rating_public_only")
    if target == "accepted" and source == "pending":
        return event_accept(note=note, **kw)
    if target == "rejected":
        return event_reject(reason=note, **kw)
    if target == "dispatched" and source == "accepted":
        return event_dispatch(reason=note, **kw)
    if target == "handled" and source in ("handling", "dispatched"):
        return event_feedback(note=note, **kw)
    if target == "closed" and source in ("handled", "verifying"):
        return event_verify(passed=True, note=note, **kw)
    if target == "handling" and source in ("handled", "verifying"):
        return event_verify(passed=False, note=note, **kw)
    if target == "handling" and source in ("closed", "rated"):
        return event_reopen(reason=note, **kw)
    if target == "accepted" and source == "handling":
        return event_escalate(reason=note, **kw)
    extra = (
        {"handler_unit_id": None, "handler_user_id": None}
        if (source, target) == ("dispatched", "accepted")
        else None
    )
    event, _ = _transition(
        event=event,
        target=target,
        actor=actor,
        note=note,
        expected_version=expected_version,
        extra_fields=extra,
    )
    return event


# --- configuration (categories, statuses, transitions, limits, rules, units, calendar days) ----------


def config_save(*, actor: Any, model: type[models.Model], data: dict[str, Any], instance: Any = None) -> Any:
    """Create or update one configuration row (validated by the model), with an audit row."""
    obj = instance if instance is not None else model()
    m2m = {}
    for name, value in data.items():
        f = obj._meta.get_field(name)
        if f.many_to_many:
            m2m[name] = value
        else:
            setattr(obj, name, value)
    from django.core.exceptions import ValidationError

    try:
        obj.full_clean()
    except ValidationError as exc:
        raise InvalidInput("配置数据有误", code="invalid", details=exc.message_dict) from None
    before = None if instance is None else {"id": instance.pk}
    with transaction.atomic():
        try:
            obj.save()
        except IntegrityError:
            raise Conflict("与已有配置重复", code="duplicate") from None
        for name, value in m2m.items():
            getattr(obj, name).set(value)
        audit_record(
            actor=actor,
            action=f"events.config_{'create' if instance is None else 'update'}",
            obj=obj,
            before=before,
            after={k: _plain(v) for k, v in data.items() if k != "members"},
            path=str(getattr(obj, "path", "") or ""),
        )
        _categories_changed(model)
    return obj


def _categories_changed(model: type[models.Model]) -> None:
    """This process classifies with the new keywords at once; other processes within RECHECK_SECONDS."""
    if model is Category:
        from .classifier import classifier_reset

        classifier_reset()  # this transaction sees the change already…
        transaction.on_commit(classifier_reset)  # …and a reload by another request before commit is dropped


def config_delete(*, actor: Any, instance: models.Model) -> None:
    """Delete one configuration row; rows still in use are refused (deactivate them instead)."""
    with transaction.atomic():
        label = str(instance)
        pk = instance.pk
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("该配置仍在使用中，不能删除（可改为停用）", code="in_use") from None
        audit_record(
            actor=actor,
            action="events.config_delete",
            object_type=f"{instance._meta.app_label}.{instance._meta.model_name}",
            object_id=str(pk),
            object_repr=label,
            path="",
        )
        _categories_changed(type(instance))


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# Text masking for what the public may read (numbers that look like phones or ID numbers).
_PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def scrub_text(text: str) -> str:
    """Mask phone numbers and ID numbers inside free text (public tracking page)."""
    from wangge.core.masking import mask_id_number, mask_phone

    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text or "")
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
