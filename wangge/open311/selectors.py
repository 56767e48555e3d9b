"""Reads behind the public Open311 GeoReport v2 endpoints.

Open311 GET methods are public by specification (no api_key): like the public tracking page
(`event_public`), they are scoped to the whole jurisdiction and show only anonymised fields. Never shown:
the reporter (name, phone, e-mail, device, account), handler persons, internal (non-public) timeline
notes. Free text is passed through `redact` (mobile and ID numbers masked). Life-safety calls (SOS
channel) are left out entirely, and dispute events (矛盾纠纷) show status and dates only.
"""

from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from wangge.core import crypto
from wangge.events.models import ApiKey, Category, Channel, Event, EventType, Status, TimelineEntry, Urgency
from wangge.events.services import scrub_text

MAX_RESULTS = 1000  # the spec's default query limit
MAX_IDS = 1000
# SOS calls, and history imported from an older system (its texts were never written for the public).
HIDDEN_CHANNELS = (Channel.SOS, Channel.HISTORY)
WITHHELD = "（矛盾纠纷类事件，内容不公开）"


def redact(text: str | None) -> str:
    """Free text for the public: ID numbers and mobile numbers written into it are masked."""
    return scrub_text(text or "")


def w3(value: datetime | None) -> str | None:
    """ISO 8601 / W3C date-time with the local offset, e.g. 2025-10-09T16:00:00+08:00."""
    if value is None:
        return None
    return timezone.localtime(value).replace(microsecond=0).isoformat()


# --- services ----------------------------------------------------------------------------------------


def _leaf_categories() -> QuerySet[Category]:
    return (
        Category.objects.filter(active=True)
        .filter(Q(parent__isnull=True) | Q(parent__active=True))
        .annotate(active_children=Count("children", filter=Q(children__active=True)))
        .filter(active_children=0)
        .select_related("parent")
    )


def service_find(code: str) -> Category | None:
    """The active leaf category whose code is `code` (None if unknown, inactive or not a leaf)."""
    return _leaf_categories().filter(code=code).first()


def service_list() -> list[dict[str, Any]]:
    out = []
    for c in _leaf_categories().order_by("parent__sort", "parent__code", "sort", "code"):
        group = c.parent.name if c.parent_id and c.parent else c.name
        type_label = EventType(c.default_type).label if c.default_type in EventType.values else ""
        description = f"{group} / {c.name}" + (f"（默认诉求类型：{type_label}）" if type_label else "")
        out.append(
            {
                "service_code": c.code,
                "service_name": c.name,
                "description": description,
                "metadata": True,
                "type": "realtime",
                "keywords": ", ".join(c.keyword_list()),
                "group": group,
            }
        )
    return out


def _choice_values(choices: Any) -> list[dict[str, str]]:
    return [{"key": str(value), "name": str(label)} for value, label in choices]


# Every service takes the same attributes; values are validated against this on POST.
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "urgency",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "不填则为“一般”",
        "order": 1,
        "description": "紧急程度",
        "values": _choice_values(Urgency.choices),
    },
    {
        "variable": True,
        "code": "event_type",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "不填则按分类的默认类型",
        "order": 2,
        "description": "诉求类型",
        "values": _choice_values(EventType.choices),
    },
    {
        "variable": True,
        "code": "anonymous",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "匿名时不保存上报人的姓名、电话和邮箱",
        "order": 3,
        "description": "是否匿名",
        "values": [{"key": "false", "name": "否"}, {"key": "true", "name": "是"}],
    },
    {
        "variable": True,
        "code": "occurred_datetime",
        "datatype": "datetime",
        "required": False,
        "datatype_description": "ISO 8601，如 2025-10-09T08:30:00+08:00",
        "order": 4,
        "description": "发现时间",
        "values": [],
    },
    {
        "variable": True,
        "code": "external_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "最长64个字符",
        "order": 5,
        "description": "客户端自己的编号：同一编号重复提交只会登记一次",
        "values": [],
    },
]


def service_definition(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": ATTRIBUTES}


# --- requests ----------------------------------------------------------------------------------------


def _closed_codes() -> dict[str, bool]:
    return dict(Status.objects.values_list("code", "is_closed"))


def visible_events() -> QuerySet[Event]:
    """Events the public feed may show (whole jurisdiction; see the module docstring)."""
    last_note = (
        TimelineEntry.objects.filter(event=OuterRef("pk"), public=True)
        .exclude(note="")
        .order_by("-at", "-id")
        .values("note")[:1]
    )
    return (
        Event.objects.exclude(channel__in=HIDDEN_CHANNELS)
        .select_related("category", "status", "handler_unit", "grid", "building")
        .annotate(public_note=Subquery(last_note))
    )


def request_find(code: str) -> Event | None:
    return visible_events().filter(tracking_code=(code or "").strip().upper()).first()


def requests_query(
    *,
    ids: list[str] | None = None,
    service_codes: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: list[str] | None = None,
) -> list[Event]:
    """Filtered as the spec says: a list of ids overrides every other argument; newest first, ≤1000."""
    qs = visible_events()
    if ids:
        return list(
            qs.filter(tracking_code__in=[i.upper() for i in ids[:MAX_IDS]]).order_by("-created_at", "-id")[
                :MAX_RESULTS
            ]
        )
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    if statuses and set(statuses) != {"open", "closed"}:
        qs = qs.filter(status__is_closed=(statuses[0] == "closed"))
    return list(qs.order_by("-created_at", "-id")[:MAX_RESULTS])


def _agency(event: Event) -> str | None:
    if event.handler_unit_id and event.handler_unit:
        return event.handler_unit.name
    if event.grid_id and event.grid:
        return event.grid.name
    return None


def request_row(event: Event) -> dict[str, Any]:
    """One service request as the spec's fields (no personal data)."""
    closed = event.status.is_closed
    dispute = bool(event.category_id and event.category and event.category.is_dispute)
    notes = event.reject_reason or getattr(event, "public_note", None) or ""
    o311 = event.extra.get("open311", {}) if isinstance(event.extra, dict) else {}
    address = event.address or (event.building.address if event.building_id and event.building else "")
    return {
        "service_request_id": event.tracking_code,
        "status": "closed" if closed else "open",
        "status_notes": None if dispute else (redact(notes) or None),
        "service_name": event.category.name if event.category_id and event.category else None,
        "service_code": event.category.code if event.category_id and event.category else None,
        "description": WITHHELD if dispute else redact(event.description),
        "agency_responsible": _agency(event),
        "service_notice": f"当前状态：{event.status.name}",
        "requested_datetime": w3(event.created_at),
        "updated_datetime": w3(event.closed_at if closed and event.closed_at else event.updated_at),
        "expected_datetime": None if closed else w3(event.deadline),
        "address": None if dispute else (address or None),
        "address_id": event.building.code if event.building and not dispute else None,
        "zipcode": None,
        "lat": None if dispute else event.lat,
        "long": None if dispute else event.lng,
        "media_url": None if dispute else (o311.get("media_url") or None),
    }


# --- mySociety's service request updates --------------------------------------------------------------


def updates_query(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Public timeline entries of visible events in [start, end], oldest first, at most 1000."""
    closed = _closed_codes()
    entries = (
        TimelineEntry.objects.filter(public=True, at__gte=start, at__lte=end)
        .exclude(event__channel__in=HIDDEN_CHANNELS)
        .select_related("event", "event__status", "event__category")
        .order_by("at", "id")[:MAX_RESULTS]
    )
    out = []
    for entry in entries:
        event = entry.event
        code = entry.to_status or event.status.code
        dispute = bool(event.category_id and event.category and event.category.is_dispute)
        out.append(
            {
                "update_id": str(entry.pk),
                "service_request_id": event.tracking_code,
                "status": "closed" if closed.get(code, False) else "open",
                "external_status_code": code,
                "updated_datetime": w3(entry.at),
                "description": "" if dispute else redact(entry.note),
                "media_url": None,
            }
        )
    return out


# --- api keys ----------------------------------------------------------------------------------------


def api_key_find(raw: str | None) -> ApiKey | None:
    """The active key whose keyed hash matches `raw` (None for empty or unknown keys)."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 200:
        return None
    return ApiKey.objects.filter(key_hash=crypto.digest(raw), active=True).first()


def api_keys() -> QuerySet[ApiKey]:
    return ApiKey.objects.order_by("name", "id")
