"""The one place where events become display dicts (API and pages).

Reporter contact leaves here only masked (staff) or not at all (public). The public tracking view is
anonymised: no description, address, coordinates, names or photos; step names, times and the reasons a
reporter must see (rejection, handling result) with phone/ID numbers masked. Photos are served only to
users who can see the event, through the attachment endpoint (never a public URL).
"""

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from wangge.accounts.roles import Role
from wangge.core.crypto import decrypt
from wangge.core.db.queries import Prepared, rows_from_json
from wangge.core.masking import mask_name, mask_phone

from .closure import reopen_deadline
from .common import RATINGS, scrub_text
from .common.visibility import visible_among
from .models import (
    Attachment,
    Channel,
    Event,
    EventType,
    Level,
    ReturnVisit,
    Stage,
    StageDeadline,
    TimelineEntry,
    Urgency,
    Warning,
)
from .reference import reference

ACTION_LABELS = {
    "report": gettext_noop("上报"),
    "triage": gettext_noop("智能分拣"),
    "accept": gettext_noop("受理"),
    "reject": gettext_noop("不予受理"),
    "dispatch": gettext_noop("派遣"),
    "reassign": gettext_noop("改派"),
    "sign": gettext_noop("签收"),
    "return": gettext_noop("退回"),
    "escalate": gettext_noop("上报上级"),
    "suspend": gettext_noop("挂起"),
    "resume": gettext_noop("恢复处置"),
    "feedback": gettext_noop("处置反馈"),
    "verify": gettext_noop("核查"),
    "rework": gettext_noop("返工"),
    "close": gettext_noop("结案"),
    "rate": gettext_noop("评价"),
    "reopen": gettext_noop("重新打开"),
    "return_visit": gettext_noop("回访任务"),
    "return_visit_done": gettext_noop("完成回访"),
    "photos": gettext_noop("补充照片"),
    "merge": gettext_noop("合并"),
    "merged_into": gettext_noop("并入主事件"),
    "whistle": gettext_noop("吹哨"),
    "transition": gettext_noop("状态变更"),
    "dispute_party": gettext_noop("登记当事人"),
    "mediation": gettext_noop("调解"),
    "dispute_outcome": gettext_noop("调解结果"),
    "unmerge": gettext_noop("取消合并"),
    "master_outcome": gettext_noop("主事件办理结果"),
    "report_in": gettext_noop("报到"),
    "report_in_missed": gettext_noop("未按时报到"),
    "warning": gettext_noop("时限预警"),
    "extension_request": gettext_noop("申请延期"),
    "extension_decision": gettext_noop("延期审批"),
    "sos_start": gettext_noop("一键呼叫值守开始"),
    "sos_skip": gettext_noop("值守层级无人，跳过"),
    "sos_escalate": gettext_noop("超时未确认，升级通知"),
    "sos_realert": gettext_noop("仍未确认，再次通知"),
    "sos_ack": gettext_noop("值守确认"),
    "history_import": gettext_noop("历史导入"),
    "reporter_update": gettext_noop("上报人补充"),
}
# A step whose action has no label (a status-graph edge an installation added, an entry written by an
# older version) is shown by its edge name, else by this — never by its code.
OTHER_ACTION = gettext_noop("其他处理")


def action_label(action: str, data: dict[str, Any] | None = None) -> str:
    """The Chinese name of a timeline step (the edge's own name for an edge without a label)."""
    name = (data or {}).get("name")
    edge_name = name if isinstance(name, str) and name else ""
    if action == "transition" and edge_name:  # a plain move along an edge: its own name says more
        return edge_name
    return ACTION_LABELS.get(action) or edge_name or OTHER_ACTION


# Public view: the note of these steps is shown (masked); others show only the step.
PUBLIC_NOTE_ACTIONS = {"reject", "feedback", "close", "merge"}


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


def _iso(value: datetime | None) -> str | None:
    # UTC, as read from the database: a value computed in local time (a new event's deadline) looks the same.
    return value.astimezone(UTC).isoformat() if value else None


def _status_names() -> dict[str, str]:
    return reference().status_names


def warning_now(event: Event, now: datetime | None = None) -> str:
    """The warning level right now (the stored one may wait for the next sweep)."""
    if event.status.is_closed or not event.stage:
        return Warning.NONE
    now = now or timezone.now()
    if event.deadline and now >= event.deadline:
        return Warning.RED
    if event.warning == Warning.RED:
        return Warning.RED
    if event.warn_at and now >= event.warn_at:
        return Warning.YELLOW
    return event.warning


def _cat(cat: Any) -> dict[str, Any] | None:
    return None if cat is None else {"code": cat.code, "name": cat.name}


def _user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": str(user), "role": user.role, "role_name": _label(Role, user.role)}


def traffic_light(event: Event, now: datetime | None = None) -> str:
    """Traffic light of the current stage clock: green / yellow (warning) / red (overdue); "" = no clock."""
    if event.deadline is None or event.status.is_closed:
        return ""
    lights: dict[str, str] = {Warning.RED: "red", Warning.YELLOW: "yellow"}
    return lights.get(warning_now(event, now), "green")


def event_row(event: Event, now: datetime | None = None) -> dict[str, Any]:
    """A list row (no reporter data at all)."""
    now = now or timezone.now()
    warning = warning_now(event, now)
    return {
        "id": event.pk,
        "tracking_code": event.tracking_code,
        "title": event.title,
        "status": {"code": event.status.code, "name": event.status.name},
        "category": _cat(event.category),
        "urgency": event.urgency,
        "urgency_name": _label(Urgency, event.urgency),
        "channel": event.channel,
        "channel_name": _label(Channel, event.channel),
        "grid": event.grid_id,
        "grid_code": event.grid.code if event.grid_id and event.grid else None,
        "path": event.path,
        "level": event.level,
        "handler_unit": event.handler_unit.name if event.handler_unit_id and event.handler_unit else "",
        "handler_user": str(event.handler_user) if event.handler_user_id and event.handler_user else "",
        "needs_triage": event.needs_triage,
        "master": event.master_id,
        "stage": event.stage,
        "deadline": _iso(event.deadline),
        "warning": warning,
        "overdue": warning == Warning.RED,
        "created_at": _iso(event.created_at),
    }


def event_rows(events: Iterable[Event], *, viewer: Any) -> list[dict[str, Any]]:
    """List rows for `viewer`: a row merged into an event `viewer` may not see (staff above can merge
    across grids) keeps `master` as None, not the other event's id. One query, none without merges."""
    now = timezone.now()
    rows = [event_row(e, now) for e in events]
    masters = {r["master"] for r in rows if r["master"] is not None}
    if masters and not getattr(viewer, "is_superuser", False):
        seen = {e.pk for e in visible_among(user=viewer, ids=masters)}
        for r in rows:
            if r["master"] is not None and r["master"] not in seen:
                r["master"] = None
    return rows


def reporter_display(event: Event) -> dict[str, Any]:
    """Reporter contact for staff: always masked."""
    if event.anonymous:
        return {"anonymous": True, "name": "", "phone": ""}
    return {
        "anonymous": False,
        "name": mask_name(decrypt(event.reporter_name_enc)),
        "phone": mask_phone(decrypt(event.reporter_phone_enc)),
    }


def attachment_url(att: Attachment) -> str:
    try:
        return reverse("api-event-attachment", kwargs={"pk": att.event_id, "att_id": att.pk})
    except NoReverseMatch:  # pragma: no cover - URLconf without the events API
        return ""


def attachment_display(att: Attachment) -> dict[str, Any]:
    return {
        "id": att.pk,
        "entry": att.entry_id,
        "content_type": att.content_type,
        "size": att.size,
        "url": attachment_url(att),
        "created_at": _iso(att.created_at),
    }


def timeline_display(
    entries: Iterable[TimelineEntry], attachments: Iterable[Attachment] = ()
) -> list[dict[str, Any]]:
    names = _status_names()
    by_entry: dict[int, list[dict[str, Any]]] = {}
    for att in attachments:
        if att.entry_id:
            by_entry.setdefault(att.entry_id, []).append(attachment_display(att))
    out = []
    for e in entries:
        out.append(
            {
                "id": e.pk,
                "at": _iso(e.at),
                "action": e.action,
                "action_name": action_label(e.action, e.data),
                "actor": e.actor_name,
                "actor_role": e.actor_role,
                "actor_role_name": _label(Role, e.actor_role) if e.actor_role else "系统",
                "from_status": e.from_status,
                "from_status_name": names.get(e.from_status, e.from_status),
                "to_status": e.to_status,
                "to_status_name": names.get(e.to_status, e.to_status),
                "note": e.note,
                "public": e.public,
                "data": {k: v for k, v in (e.data or {}).items() if not k.startswith("_")},
                "attachments": by_entry.get(e.pk, []),
            }
        )
    return out


def clock_display(clock: StageDeadline, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    end = clock.finished_at or now
    if end >= clock.deadline:
        warning = Warning.RED
    elif end >= clock.warn_at:
        warning = Warning.YELLOW
    else:
        warning = Warning.NONE
    return {
        "id": clock.pk,
        "stage": clock.stage,
        "stage_name": _label(Stage, clock.stage),
        "started_at": _iso(clock.started_at),
        "warn_at": _iso(clock.warn_at),
        "deadline": _iso(clock.deadline),
        "finished_at": _iso(clock.finished_at),
        "overdue": clock.overdue if clock.finished_at else now > clock.deadline,
        "warning": warning,
    }


def return_visit_display(visit: ReturnVisit) -> dict[str, Any]:
    return {
        "id": visit.pk,
        "reason": visit.reason,
        "assigned_to": _user(visit.assigned_to),
        "due": _iso(visit.due),
        "done_at": _iso(visit.done_at),
        "outcome": visit.outcome,
        "created_at": _iso(visit.created_at),
    }


@functools.cache
def _related_query(name: str) -> Prepared[Any]:
    """The rows of the event's reverse relation `name`, compiled once (they are read on every detail);
    unsorted (the caller sorts, so there is no ORDER BY to run)."""
    rel = getattr(Event, name).rel
    qs = rel.related_model._default_manager.all()  # what the related manager starts from
    if name == "return_visits":
        qs = qs.select_related("assigned_to")
    return Prepared(lambda event_id: qs.filter(**{rel.field.attname: event_id}), event_id=int)


_ABSENT = object()


def _related(event: Event, name: str) -> list[Any]:
    """The event's related rows `name`: prefetched ones when there (a new event from intake), none when
    the annotation `<name>_n` counted none, the rows `selectors.event_get_detail` packed as JSON
    (`<name>_json`, PostgreSQL), else one query."""
    cached = getattr(event, "_prefetched_objects_cache", {}).get(name)
    if cached is not None:
        return list(cached)
    if getattr(event, f"{name}_n", None) == 0:
        return []
    packed: Any = getattr(event, f"{name}_json", _ABSENT)  # brought by the detail read on PostgreSQL
    if packed is not _ABSENT:
        rows = rows_from_json(
            getattr(Event, name).rel.related_model, packed, using=event._state.db or "default"
        )
    else:
        rows = _related_query(name).rows(event_id=event.pk)
    field = getattr(Event, name).rel.field
    for row in rows:  # as the related manager does: row.event is this event, not another query
        field.set_cached_value(row, event)
    return rows


def _count(event: Event, name: str) -> int:
    n = getattr(event, f"{name}_n", None)
    if n is not None:
        return int(n)
    cached = getattr(event, "_prefetched_objects_cache", {}).get(name)
    return len(cached) if cached is not None else int(getattr(event, name).count())


def event_detail(event: Event, *, viewer: Any) -> dict[str, Any]:
    """Everything a staff member who may see the event gets (reporter contact masked). The likely
    duplicate noted at triage is shown only when `viewer` may see that event too: a report near a grid
    boundary can resemble an event of a neighbouring grid."""
    now = timezone.now()
    row = event_row(event, now)
    clocks = sorted(_related(event, "clocks"), key=lambda c: (c.started_at, c.pk))
    entries = sorted(_related(event, "timeline"), key=lambda e: (e.at, e.pk))
    atts = sorted(_related(event, "attachments"), key=lambda a: a.pk)
    visits = sorted(_related(event, "return_visits"), key=lambda v: v.pk)
    reopen_until = reopen_deadline(event) if event.status.is_closed else None
    timeline = timeline_display(entries, atts)
    merged_count = _references_scoped(event, row, timeline, viewer)
    row.update(
        {
            "description": event.description,
            "event_type": event.event_type,
            "event_type_name": _label(EventType, event.event_type),
            "suggested_category": _cat(event.suggested_category),
            "confidence": event.confidence,
            "location": {
                "lat": event.lat,
                "lng": event.lng,
                "address": event.address,
                "building": event.building_id,
            },
            "grid_name": event.grid.name if event.grid_id and event.grid else "",
            "level_name": _label(Level, event.level),
            "reporter": reporter_display(event),
            "handler": {
                "unit": {"id": event.handler_unit_id, "name": event.handler_unit.name}
                if event.handler_unit_id and event.handler_unit
                else None,
                "user": _user(event.handler_user) if event.handler_user_id else None,
            },
            "current_stage": {
                "stage": event.stage,
                "stage_name": _label(Stage, event.stage) if event.stage else "",
                "started_at": _iso(event.stage_started_at),
                "warn_at": _iso(event.warn_at),
                "deadline": _iso(event.deadline),
                "warning": row["warning"],
                "calendar_fallback": event.calendar_fallback,
            },
            "deadlines": [clock_display(c, now) for c in clocks],
            "timeline": timeline,
            "attachments": [attachment_display(a) for a in atts],
            "merged_count": merged_count,
            "rating": event.rating,
            "reject_reason": event.reject_reason,
            "return_visits": [return_visit_display(v) for v in visits],
            "reopen_until": _iso(reopen_until),
            "version": event.version,
            "closed_at": _iso(event.closed_at),
            "updated_at": _iso(event.updated_at),
        }
    )
    return row


# Timeline data keys that hold the id (or a list of ids) of another event, by action.
_EVENT_REFS = {
    "merge": ("duplicates",),
    "merged_into": ("master", "via"),
    "master_outcome": ("master",),
    "unmerge": ("event",),
    "rate": ("duplicate",),
}


def _references_scoped(event: Event, row: dict[str, Any], timeline: list[dict[str, Any]], viewer: Any) -> int:
    """Scope for `viewer` every other event the detail names, and return how many merged reports it may
    see (`merged_count`): a merge by staff above can join events of several grids, and a grid worker
    must not learn another grid's tracking codes, ids or count from it. Timeline entries keep their
    step; references to events the viewer may not see (`visibility.may_see`) become None or are left out
    of their list. A dispute party's resident id is left out (the dispute panel shows parties, scoped).
    One query (`visibility.visible_among`), none when nothing is named; `timeline` is changed in place
    (its data dicts are copies, never the rows')."""
    ids: set[int] = {event.master_id} if event.master_id else set()
    codes: set[str] = set()
    for t in timeline:
        data = t["data"]
        for key in _EVENT_REFS.get(t["action"], ()):
            value = data.get(key)
            ids.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
        if t["action"] == "merge":
            codes.update(c for c in data.get("tracking_codes") or [] if isinstance(c, str))
        if isinstance(data.get("likely_duplicate"), dict):
            ids.update(i for i in [data["likely_duplicate"].get("id")] if isinstance(i, int))
        if t["action"] == "dispute_party":
            data.pop("resident", None)
    merged = _count(event, "merged")
    if getattr(viewer, "is_superuser", False):
        return merged
    seen = visible_among(user=viewer, ids=ids, codes=codes, merged_into=event.pk if merged else None)
    seen_ids = {e.pk for e in seen}
    seen_codes = {e.tracking_code for e in seen}
    if event.master_id and event.master_id not in seen_ids:
        row["master"] = None  # merged into another grid's event: that it was merged shows in the timeline
    for t in timeline:
        data = t["data"]
        for key in _EVENT_REFS.get(t["action"], ()):
            value = data.get(key)
            if isinstance(value, list):
                data[key] = [v for v in value if v in seen_ids]
            elif value is not None and value not in seen_ids:
                data[key] = None
                data.pop("key", None)  # master_outcome's key names the master too
        if t["action"] == "merge" and isinstance(data.get("tracking_codes"), list):
            data["tracking_codes"] = [c for c in data["tracking_codes"] if c in seen_codes]
        dup = data.get("likely_duplicate")
        if isinstance(dup, dict) and dup.get("id") not in seen_ids:
            data["likely_duplicate"] = None
    return sum(1 for e in seen if e.master_id == event.pk) if merged else 0


def event_public_display(event: Event) -> dict[str, Any]:
    """Anonymised tracking view. A merged duplicate shows its master's progress under its own code."""
    source = event.master if event.master_id and event.master is not None else event
    names = _status_names()
    entries = TimelineEntry.objects.filter(event=source, public=True).order_by("at", "pk")
    steps = []
    for e in entries:
        steps.append(
            {
                "at": _iso(e.at),
                "action": e.action,
                "action_name": action_label(e.action, e.data),
                "by": _label(Role, e.actor_role) if e.actor_role else "",
                "status": names.get(e.to_status, "") if e.to_status else "",
                "note": scrub_text(e.note) if e.action in PUBLIC_NOTE_ACTIONS else "",
            }
        )
    if event.master_id:
        closed_for_rating = source.status.is_closed and source.status.code != "rejected"
    else:
        closed_for_rating = source.status.code == "closed"
    return {
        "tracking_code": event.tracking_code,
        "category": source.category.name if source.category_id and source.category else "",
        "event_type": _label(EventType, source.event_type),
        "status": {"code": source.status.code, "name": source.status.name},
        "merged": bool(event.master_id),
        "created_at": _iso(event.created_at),
        "closed_at": _iso(source.closed_at),
        "reject_reason": scrub_text(source.reject_reason) if source.status.code == "rejected" else "",
        "rating": event.rating,
        "rating_name": RATINGS.get(event.rating, ""),
        "can_rate": closed_for_rating and not event.rating,
        # The handler has reported back: the reporter may confirm it is solved, or say it is not.
        "can_verify": not event.master_id and source.status.code in ("handled", "verifying"),
        "timeline": steps,
    }


def reporter_rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """我的上报: per report of the signed-in reporter, what the tracking page shows of it at a glance —
    status and the last public step (of the master, for a merged duplicate) — read in one query."""
    events = list(events)
    sources = {e.pk: (e.master if e.master_id and e.master is not None else e) for e in events}
    last: dict[int, TimelineEntry] = {}
    entries = TimelineEntry.objects.filter(event_id__in={s.pk for s in sources.values()}, public=True)
    for entry in entries.order_by("at", "pk"):
        last[entry.event_id] = entry  # the latest wins
    rows = []
    for event in events:
        source = sources[event.pk]
        step = last.get(source.pk)
        rows.append(
            {
                "event": event,
                "status": source.status.name,
                "closed": source.status.is_closed,
                "merged": bool(event.master_id),
                "category": source.category.name if source.category_id and source.category else "",
                "step": action_label(step.action, step.data) if step else "",
                "step_at": step.at if step else None,
            }
        )
    return rows
