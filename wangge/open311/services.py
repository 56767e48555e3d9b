"""Writes of the Open311 channel: api keys, and service requests handed to the events intake.

A POST is parsed and validated against the spec and the service definition here (every problem is
reported, in Chinese, as the spec's error list), then becomes one `event_intake` call with channel
"open311". Idempotency: the Idempotency-Key header, or `attribute[external_id]`, or — for clients that
send neither — device_id plus the exact form: a retry returns the first event, never a second one.
"""

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.errors import Conflict, InvalidInput, NotFound
from wangge.events import notify as event_notify
from wangge.events import services as event_services
from wangge.events.common import handler_users
from wangge.events.models import ApiKey, Channel, Event, TimelineEntry
from wangge.registry.validation import normalise_phone
from wangge.territory.models import Building

from . import selectors

MAX_DESCRIPTION = 4000  # the spec's limit for description
KEY_PREFIX = "o311_"


class Open311Errors(InvalidInput):
    """Several 400 problems at once (the spec's error response is a list)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages[0], code="open311_invalid", details={"errors": messages})
        self.messages = messages


# --- api keys ----------------------------------------------------------------------------------------


@transaction.atomic
def api_key_create(*, actor: Any, name: str) -> tuple[ApiKey, str]:
    """Create a key for an outside client. Returns (row, raw key); only a keyed hash is stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写客户端名称（不超过100个字符）", code="invalid_name")
    if ApiKey.objects.filter(name=name, active=True).exists():
        raise Conflict(f"已有名为“{name}”的有效 api_key，请先停用或换一个名称", code="duplicate_name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, key_hash=crypto.digest(raw) or "")
    audit_record(actor=actor, action="open311.key_create", obj=key, after={"name": name})
    return key, raw


@transaction.atomic
def api_key_revoke(*, actor: Any, name: str) -> int:
    """Deactivate the active key(s) named `name`; returns how many."""
    keys = list(ApiKey.objects.select_for_update().filter(name=(name or "").strip(), active=True))
    if not keys:
        raise NotFound("没有该名称的有效 api_key", code="not_found")
    for key in keys:
        key.active = False
        key.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="open311.key_revoke",
            obj=key,
            before={"active": True},
            after={"active": False},
        )
    return len(keys)


# --- POST requests -----------------------------------------------------------------------------------


@dataclass
class Submitted:
    event: Event
    created: bool
    account_id: str | None


def _intake(**kwargs: Any) -> tuple[Event, bool]:
    # event_intake (create + triage) is the one entry point of every channel; event_create is its
    # durable first half, used only until intake exists in wangge.events.services.
    fn = getattr(event_services, "event_intake", None) or event_services.event_create
    return fn(**kwargs)


_ATTR = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _attributes(form: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in form:
        m = _ATTR.match(key)
        if m:
            values = [v.strip() for v in form.getlist(key) if v.strip()]
            if values:
                out.setdefault(m.group(1), []).extend(values)
    return out


def _check_attributes(given: dict[str, list[str]], errors: list[str]) -> dict[str, Any]:
    """Validate attribute[code] values against the service definition; returns code -> value(s)."""
    definitions = {a["code"]: a for a in selectors.ATTRIBUTES}
    values: dict[str, Any] = {}
    for code in given:
        if code not in definitions:
            errors.append(f"未知的属性 attribute[{code}]（可用：{'、'.join(definitions)}）")
    for code, attr in definitions.items():
        vals = given.get(code, [])
        if not vals:
            if attr["required"]:
                errors.append(f"缺少必填属性 attribute[{code}]（{attr['description']}）")
            continue
        datatype = attr["datatype"]
        if datatype in ("singlevaluelist", "multivaluelist"):
            keys = [v["key"] for v in attr["values"]]
            bad = [v for v in vals if v not in keys]
            if bad:
                errors.append(f"attribute[{code}] 的取值无效，可选：{'、'.join(keys)}")
                continue
            if datatype == "singlevaluelist" and len(vals) > 1:
                errors.append(f"attribute[{code}] 只能取一个值")
                continue
            values[code] = vals[0] if datatype == "singlevaluelist" else vals
        elif len(vals) > 1:
            errors.append(f"attribute[{code}] 只能取一个值")
        elif datatype == "datetime":
            parsed = _parse_w3(vals[0])
            if parsed is None:
                errors.append(f"attribute[{code}] 应为 ISO 8601 日期时间，如 2025-10-09T08:30:00+08:00")
            else:
                values[code] = parsed.isoformat()
        elif datatype == "number":
            try:
                number = float(vals[0])
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                errors.append(f"attribute[{code}] 应为数字")
            else:
                values[code] = number
        else:
            if code == "external_id" and len(vals[0]) > 64:
                errors.append("attribute[external_id] 不能超过64个字符")
                continue
            if datatype == "string" and ("\n" in vals[0] or "\r" in vals[0]):
                errors.append(f"attribute[{code}] 不能包含换行")
                continue
            values[code] = vals[0]
    return values


def _parse_w3(value: str) -> datetime | None:
    """A W3C/ISO 8601 date-time (or date); naive values are read in the installation's time zone."""
    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00"
    # "+08:00" arrives as " 08:00" when a client forgets to URL-encode the plus sign.
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def parse_w3(value: str) -> datetime | None:
    return _parse_w3(value)


def _float(form: Any, name: str, errors: list[str]) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.append(f"{name} 应为数字（WGS-84 坐标）")
        return None
    return value


def _fingerprint(form: Any) -> str:
    items = sorted((k, v) for k in form for v in form.getlist(k) if k != "api_key")
    return hashlib.sha256(repr(items).encode()).hexdigest()


def check_jurisdiction(value: str | None) -> None:
    """jurisdiction_id is optional (one jurisdiction per endpoint) but must be ours when given."""
    value = (value or "").strip()
    if value and value != settings.WANGGE_OPEN311_JURISDICTION:
        raise NotFound(f"jurisdiction_id “{value[:50]}” 不存在", code="unknown_jurisdiction")


def _form_email(form: Any, errors: list[str]) -> str:
    """The form's optional e-mail, stripped; a malformed one adds its error (requests and updates)."""
    email = (form.get("email") or "").strip()
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            errors.append("email 格式不正确")
    return email


def request_submit(*, api_key: ApiKey, form: Any, idempotency_key: str | None = None) -> Submitted:
    """POST requests: validate the form, then intake (idempotently). Raises NotFound for an unknown
    service_code, Open311Errors (400, all problems listed) for anything else wrong."""
    errors: list[str] = []
    code = (form.get("service_code") or "").strip()
    category = None
    if not code:
        errors.append("缺少 service_code 参数")
    else:
        category = selectors.service_find(code)
        if category is None:
            raise NotFound(f"service_code “{code[:32]}” 不存在", code="unknown_service")

    lat_raw, long_raw = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    lat, lng = _float(form, "lat", errors), _float(form, "long", errors)
    address = (form.get("address_string") or "").strip()
    address_id = (form.get("address_id") or "").strip()
    if bool(lat_raw) != bool(long_raw):
        errors.append("lat 和 long 须同时提供")
        lat = lng = None
    if lat is not None and lng is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180):
        errors.append("lat/long 超出范围（WGS-84 纬度 -90~90，经度 -180~180）")
    if len(address) > 200:
        errors.append("address_string 不能超过200个字符")
    building = None
    if address_id:
        building = Building.objects.filter(code=address_id).first()
        if building is None and address_id.isdigit():
            building = Building.objects.filter(pk=int(address_id)).first()
        if building is None:
            errors.append(f"address_id “{address_id[:32]}” 不存在（应为楼栋编码）")
    if not lat_raw and not long_raw and not address and not address_id:
        errors.append("缺少位置：须提供 lat 和 long，或 address_string，或 address_id")

    description = (form.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors.append(f"description 不能超过{MAX_DESCRIPTION}个字符")
    email = _form_email(form, errors)
    phone = (form.get("phone") or "").strip()
    if phone:
        try:
            phone = normalise_phone(phone)
        except InvalidInput as exc:
            errors.append(f"phone：{exc.message}")
    media_url = (form.get("media_url") or "").strip()
    if media_url:
        try:
            if len(media_url) > 500:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            errors.append("media_url 应为 http(s) 网址，且不超过500个字符")
    name = ((form.get("last_name") or "").strip() + (form.get("first_name") or "").strip())[:50]
    account_id = (form.get("account_id") or "").strip()[:100] or None
    device_id = (form.get("device_id") or "").strip()[:200]

    attrs = _check_attributes(_attributes(form), errors)
    raw_key = (idempotency_key or "").strip()
    if len(raw_key) > 80:
        errors.append("Idempotency-Key 不能超过80个字符")
    if errors:
        raise Open311Errors(errors)
    assert category is not None

    anonymous = attrs.get("anonymous") == "true"
    fingerprint = _fingerprint(form)
    # Every key below carries the api key's id: a client's replay can only ever find what that client
    # sent. The intake answers a replay only with an event reported without an account on this channel
    # (events.services.replay_allowed: a client may see what it created itself); anything else, e.g. an
    # account that registered an open311 external id first, is a conflict that names nothing.
    key = None
    if raw_key:
        key = f"open311:{api_key.pk}:{raw_key}"
    elif device_id and "external_id" not in attrs:
        # A client without retry keys: the same device sending the very same form is a retry.
        key = (
            f"open311:{api_key.pk}:dev:"
            + hashlib.sha256(f"{device_id}\n{fingerprint}".encode()).hexdigest()[:40]
        )
    external_id = f"{api_key.pk}:{attrs['external_id']}" if "external_id" in attrs else None

    extra: dict[str, Any] = {
        "client": api_key.name,
        "api_key_id": api_key.pk,  # whose request this is: only that client may post updates to it
        "media_url": media_url,
        "attributes": {k: v for k, v in attrs.items() if k not in ("anonymous",)},
    }
    if not anonymous:
        # Keyed hashes only (deterministic, so a retried form has the same fingerprint in intake).
        extra["email_hash"] = crypto.digest(email.lower())
        extra["account_hash"] = crypto.digest(account_id)
        extra["device_hash"] = crypto.digest(device_id)
    data = event_services.EventInput(
        description=description or category.name,
        channel=Channel.OPEN311,
        event_type=attrs.get("event_type", ""),
        urgency=attrs.get("urgency", "normal"),
        category_code=category.code,
        lat=lat,
        lng=lng,
        address=address or (building.address if building else ""),
        building_id=building.pk if building else None,
        anonymous=anonymous,
        reporter_name="" if anonymous else name,
        reporter_phone="" if anonymous else phone,
        external_id=external_id,
        extra={"open311": extra},
    )
    event, created = _intake(data=data, actor=None, idempotency_key=key)
    return Submitted(event=event, created=created, account_id=account_id)


def service_notice(event: Event) -> str:
    """What happens next, for the POST response."""
    text = f"已登记，查询码 {event.tracking_code}"
    if event.deadline and not event.status.is_closed:
        when = timezone.localtime(event.deadline).strftime("%Y-%m-%d %H:%M")
        text += f"；当前环节“{event.status.name}”，办理时限 {when}"
    return text + "。"


# --- POST servicerequestupdates (mySociety) ----------------------------------------------------------

UPDATE_ACTION = "reporter_update"  # the timeline step a client's update becomes
UPDATE_STATUSES = ("OPEN", "CLOSED")
SAME_BODY_WINDOW = timedelta(minutes=1)


@dataclass
class UpdateSubmitted:
    entry: TimelineEntry
    created: bool


def _owned_by(event: Event, api_key: ApiKey) -> bool:
    """Did this api key's client submit `event`? Keys and external ids carry the key id as well, so
    requests from before `api_key_id` was stored are recognised too. A public tracking code never is."""
    if event.channel != Channel.OPEN311:
        return False
    o311 = event.extra.get("open311", {}) if isinstance(event.extra, dict) else {}
    if isinstance(o311, dict) and "api_key_id" in o311:
        return o311["api_key_id"] == api_key.pk
    return (event.idempotency_key or "").startswith(f"open311:{api_key.pk}:") or (
        event.external_id or ""
    ).startswith(f"{api_key.pk}:")


def request_update_submit(*, api_key: ApiKey, form: Any) -> UpdateSubmitted:
    """mySociety POST servicerequestupdates: the submitting client passes on its user's follow-up to a
    request it submitted (e.g. "still broken" on a closed one). Recorded as a public timeline entry
    with an audit row, and the event's handler is notified; the event's status is NOT changed: a
    citizen's OPEN/CLOSED is a claim for the handler to act on through the status graph, not a
    transition. Idempotent: the same client's `update_id` again, or (without one) the same body within
    a minute, answers with the first entry. Another client's request, or an unknown one, is NotFound."""
    errors: list[str] = []
    code = (form.get("service_request_id") or "").strip()
    if not code:
        errors.append("缺少 service_request_id 参数")
    ref = (form.get("update_id") or "").strip()
    if len(ref) > 64:
        errors.append("update_id 不能超过64个字符")
    status = (form.get("status") or "").strip().upper()
    if not status:
        errors.append("缺少 status 参数（OPEN 或 CLOSED）")
    elif status not in UPDATE_STATUSES:
        errors.append("status 只能为 OPEN 或 CLOSED")
    raw_when = (form.get("updated_datetime") or "").strip()
    when = _parse_w3(raw_when) if raw_when else None
    if not raw_when:
        errors.append("缺少 updated_datetime 参数")
    elif when is None:
        errors.append("updated_datetime 不是有效的 ISO 8601 日期时间（如 2025-10-01T08:30:00+08:00）")
    description = (form.get("description") or "").strip()
    if not description:
        errors.append("缺少 description 参数")
    elif len(description) > MAX_DESCRIPTION:
        errors.append(f"description 不能超过{MAX_DESCRIPTION}个字符")
    email = _form_email(form, errors)
    media_url = (form.get("media_url") or "").strip()
    if media_url:
        try:
            if len(media_url) > 500:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            errors.append("media_url 应为 http(s) 网址，且不超过500个字符")
    if errors:
        raise Open311Errors(errors)
    assert when is not None
    unknown = NotFound(f"service_request_id “{code[:32]}” 不存在", code="not_found")
    found = selectors.request_find(code)
    if found is None or not _owned_by(found, api_key):
        raise unknown  # another client's request: the same answer as an unknown one
    fingerprint = hashlib.sha256(
        repr((status, when.isoformat(), description, email.lower(), media_url)).encode()
    ).hexdigest()
    with transaction.atomic():
        # The event's row lock makes a concurrent twin of this update wait, then find the first one.
        event = Event.objects.select_for_update().select_related("status").get(pk=found.pk)
        mine = TimelineEntry.objects.filter(
            event=event, action=UPDATE_ACTION, data__open311__api_key_id=api_key.pk
        )
        if ref:
            earlier = mine.filter(data__open311__update_id=ref).order_by("pk").first()
        else:
            since = timezone.now() - SAME_BODY_WINDOW
            earlier = mine.filter(data__open311__fp=fingerprint, at__gte=since).order_by("pk").first()
        if earlier is not None:
            return UpdateSubmitted(entry=earlier, created=False)
        claim = status
        entry = event_services.timeline_append(
            event=event,
            actor=None,
            action=UPDATE_ACTION,
            note=description,
            public=True,
            data={
                "open311": {
                    "api_key_id": api_key.pk,
                    "client": api_key.name,
                    "update_id": ref,
                    "status": claim,
                    "updated_datetime": when.isoformat(),
                    "media_url": media_url,
                    "email_hash": crypto.digest(email.lower()) if email else "",
                    "fp": fingerprint,
                }
            },
        )
        audit_record(
            actor=None,
            action="open311.request_update",
            obj=event,
            after={"client": api_key.name, "status": claim, "entry": entry.pk},
        )
        _notify_handler(event, entry, claim)
    return UpdateSubmitted(entry=entry, created=True)


def _notify_handler(event: Event, entry: TimelineEntry, claim: str) -> None:
    """Tell whoever handles the event (after commit) that the reporter wrote back; a claim that
    contradicts the event's status is said so."""
    closed = event.status.is_closed
    if claim == "OPEN" and closed:
        subject = f"事件 {event.tracking_code} 已办结，但上报人反映问题仍未解决，请核实"
    elif claim == "CLOSED" and not closed:
        subject = f"事件 {event.tracking_code} 的上报人表示问题已解决，请核实后办结"
    else:
        subject = f"事件 {event.tracking_code} 的上报人补充了情况"
    recipients = handler_users(event)
    if not recipients:
        return  # not yet dispatched: the entry waits on the timeline for whoever accepts the event
    queued = event_notify.notification_queue(
        kind="reporter_update",
        key=f"reporter_update:{entry.pk}",
        subject=subject,
        event=event,
        recipients=recipients,
    )
    if queued:
        event_notify.notifications_send_on_commit()
