"""吹哨报到: a community or street "blows the whistle" on an event, summoning departments.

Each summoned HandlingUnit gets a WhistleSummon whose deadline is its `ack_limit_hours` in working
hours on the official calendar. A member of the unit reports in (报到): in time → acknowledged, after
the deadline → still recorded, flagged late (acknowledged_at > deadline). Reporting in makes the unit a
co-handler of the event: its id is kept in Event.extra["co_handlers"], and `may_act` / `is_co_handler`
let its members see and act on the event. The sweep marks summonses past their deadline as missed.
Timeline actions: "whistle", "report_in", "report_in_missed" (internal entries).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.core.scope import path_in_scope, scope_q

from .. import notify
from ..common import action_require, co_handler_ids, is_co_handler, may_see, timeline_append
from ..common import may_act as common_may_act
from ..models import Event, HandlingUnit, Whistle, WhistleSummon
from ..reference import reference


def may_act(actor: Any, event: Event) -> bool:
    """`common.may_act` (handler, handling unit, territory scope) or co-handler."""
    if actor is None:
        return False
    if common_may_act(actor, event):
        return True
    return is_co_handler(actor, event)


def can_see(actor: Any, event: Event) -> bool:
    # may_see: also the staff account that entered the event (issue 18), whose page shows this board.
    if may_act(actor, event) or may_see(actor, event):
        return True
    if not event.path:
        territory = getattr(actor, "territory", None)
        return territory is not None and territory.level == "district"
    return path_in_scope(actor, event.path)


def _actor_level(actor: Any) -> str:
    territory = getattr(actor, "territory", None)
    if territory is not None:
        return str(territory.level)
    return "district"


def _summonable(actor: Any, event: Event, unit_ids: list[int]) -> list[HandlingUnit]:
    """Units the actor may summon for this event: those above or at the event's place (a district
    department, the street's law-enforcement team) or inside the actor's territory."""
    units = list(HandlingUnit.objects.filter(pk__in=unit_ids, active=True).order_by("id"))
    ok = [u for u in units if (event.path and event.path.startswith(u.path)) or path_in_scope(actor, u.path)]
    if len(ok) != len(set(unit_ids)):
        raise NotFound("处置单位不存在", code="unit_not_found")
    return ok


def whistle_blow(
    *, event_id: int, actor: Any, unit_ids: list[int], note: str = "", now: datetime | None = None
) -> Whistle:
    """Summon departments to an event. Only community/street staff (or district) in scope."""
    now = now or timezone.now()
    event = Event.objects.select_related("status").filter(pk=event_id).first()
    if event is None or actor is None or not can_see(actor, event):
        raise NotFound("事件不存在", code="not_found")
    action_require(user=actor, event=event, key="whistle")  # who (rules.whistle_roles) and when
    try:
        ids = sorted({int(x) for x in unit_ids or []})
    except (TypeError, ValueError):
        raise InvalidInput("处置单位编号无效", code="invalid_unit")
    if not ids:
        raise InvalidInput("请选择被召集的部门", code="units_required")
    units = _summonable(actor, event, ids)
    busy = set(
        WhistleSummon.objects.filter(
            whistle__event=event,
            state__in=[WhistleSummon.State.SUMMONED, WhistleSummon.State.ACKNOWLEDGED],
        ).values_list("unit_id", flat=True)
    ) | set(co_handler_ids(event))
    units = [u for u in units if u.pk not in busy]
    if not units:
        raise Conflict("所选部门已被召集或已在处置本事件", code="already_summoned")
    note = (note or "").strip()[:2000]
    cal = reference().calendar
    with transaction.atomic():
        whistle = Whistle.objects.create(event=event, blown_by=actor, level=_actor_level(actor), note=note)
        summons = []
        queued = 0
        for unit in units:
            deadline = cal.deadline(now, unit.ack_limit_hours, "workhour")
            summon = WhistleSummon.objects.create(whistle=whistle, unit=unit, deadline=deadline)
            summons.append(summon)
            local = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
            queued += notify.notification_queue(
                kind="whistle",
                key=f"whistle:{summon.pk}",
                subject=f"【吹哨报到】事件{event.tracking_code}召集{unit.name}，请于{local}前报到",
                body=f"详情：/events/{event.pk}/",
                event=event,
                recipients=unit.members.filter(is_active=True).order_by("id"),
            )
        timeline_append(
            event=event,
            actor=actor,
            action="whistle",
            note=note,
            public=False,
            data={
                "whistle_id": whistle.pk,
                "units": [
                    {
                        "summon_id": s.pk,
                        "unit_id": s.unit_id,
                        "unit": s.unit.name,
                        "deadline": s.deadline.isoformat(),
                    }
                    for s in summons
                ],
            },
        )
        audit_record(
            actor=actor,
            action="event.whistle",
            obj=event,
            after={"whistle_id": whistle.pk, "units": [u.pk for u in units]},
        )
    if queued:
        notify.notifications_send_on_commit()
    return whistle


def _add_co_handler(event_id: int, unit_id: int) -> None:
    for _ in range(5):
        row = Event.objects.filter(pk=event_id).values("extra", "version").first()
        if row is None:
            raise NotFound("事件不存在", code="not_found")
        extra = dict(row["extra"] or {})
        ids = list(extra.get("co_handlers") or [])
        if unit_id in ids:
            return
        extra["co_handlers"] = [*ids, unit_id]
        if Event.objects.filter(pk=event_id, version=row["version"]).update(
            extra=extra, version=F("version") + 1
        ):
            return
    raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")


def whistle_acknowledge(*, summon_id: int, actor: Any, now: datetime | None = None) -> WhistleSummon:
    """A member of a summoned unit reports in. After the deadline it is still recorded, flagged late;
    the unit becomes a co-handler of the event either way."""
    now = now or timezone.now()
    summon = (
        WhistleSummon.objects.select_related("whistle", "whistle__event", "unit", "whistle__blown_by")
        .filter(pk=summon_id)
        .first()
    )
    if summon is None or actor is None:
        raise NotFound("召集记录不存在", code="not_found")
    event = summon.whistle.event
    if not summon.unit.members.filter(pk=actor.pk).exists():
        if can_see(actor, event):
            raise Forbidden("只有被召集部门的人员可以报到", code="not_unit_member")
        raise NotFound("召集记录不存在", code="not_found")
    if summon.state == WhistleSummon.State.ACKNOWLEDGED:
        raise Conflict("本部门已报到", code="already_acknowledged")
    late = now > summon.deadline
    with transaction.atomic():
        won = WhistleSummon.objects.filter(
            pk=summon.pk, state__in=[WhistleSummon.State.SUMMONED, WhistleSummon.State.MISSED]
        ).update(state=WhistleSummon.State.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor)
        if not won:
            raise Conflict("本部门已报到", code="already_acknowledged")
        _add_co_handler(event.pk, summon.unit_id)
        event.refresh_from_db()
        note = f"{summon.unit.name}报到" + ("（超时）" if late else "")
        timeline_append(
            event=event,
            actor=actor,
            action="report_in",
            note=note,
            public=False,
            data={
                "summon_id": summon.pk,
                "unit_id": summon.unit_id,
                "unit": summon.unit.name,
                "late": late,
                "deadline": summon.deadline.isoformat(),
            },
        )
        audit_record(
            actor=actor,
            action="event.report_in",
            obj=event,
            after={"summon_id": summon.pk, "unit_id": summon.unit_id, "late": late},
        )
        queued = 0
        if summon.whistle.blown_by is not None:
            queued = notify.notification_queue(
                kind="report_in",
                key=f"whistle:{summon.pk}:ack",
                subject=f"【吹哨报到】{summon.unit.name}已就事件{event.tracking_code}报到"
                + ("（超时）" if late else ""),
                event=event,
                recipients=[summon.whistle.blown_by],
            )
    if queued:
        notify.notifications_send_on_commit()
    summon.refresh_from_db()
    return summon


def whistle_sweep_missed(*, now: datetime | None = None) -> tuple[int, int]:
    """Mark summonses past their deadline without a report-in as missed (timeline "report_in_missed",
    a notice to whoever blew the whistle). Returns (missed, notifications queued)."""
    now = now or timezone.now()
    missed = queued = 0
    due = (
        WhistleSummon.objects.filter(state=WhistleSummon.State.SUMMONED, deadline__lte=now)
        .select_related("whistle", "whistle__event", "whistle__blown_by", "unit")
        .order_by("deadline", "id")
    )
    for summon in due[:5000]:
        event = summon.whistle.event
        with transaction.atomic():
            if not WhistleSummon.objects.filter(pk=summon.pk, state=WhistleSummon.State.SUMMONED).update(
                state=WhistleSummon.State.MISSED
            ):
                continue
            timeline_append(
                event=event,
                actor=None,
                action="report_in_missed",
                note=f"{summon.unit.name}未按时报到",
                public=False,
                data={
                    "summon_id": summon.pk,
                    "unit_id": summon.unit_id,
                    "deadline": summon.deadline.isoformat(),
                },
            )
            audit_record(
                actor=None,
                action="event.report_in_missed",
                obj=event,
                after={"summon_id": summon.pk, "unit_id": summon.unit_id},
            )
            if summon.whistle.blown_by is not None:
                queued += notify.notification_queue(
                    kind="report_in_missed",
                    key=f"whistle:{summon.pk}:missed",
                    subject=f"【吹哨报到】{summon.unit.name}未按时就事件{event.tracking_code}报到",
                    event=event,
                    recipients=[summon.whistle.blown_by],
                )
        missed += 1
    return missed, queued


def summon_display(s: WhistleSummon) -> dict[str, Any]:
    by = s.acknowledged_by
    return {
        "id": s.pk,
        "unit": {"id": s.unit_id, "name": s.unit.name, "kind": s.unit.kind},
        "deadline": s.deadline,
        "state": s.state,
        "state_display": s.get_state_display(),
        "acknowledged_at": s.acknowledged_at,
        "acknowledged_by": (by.display_name or by.get_username()) if by else "",
        "late": bool(s.acknowledged_at and s.acknowledged_at > s.deadline),
    }


def whistle_display(w: Whistle) -> dict[str, Any]:
    summons = [summon_display(s) for s in w.summons.all()]
    by = w.blown_by
    return {
        "id": w.pk,
        "event": {
            "id": w.event_id,
            "tracking_code": w.event.tracking_code,
            "title": w.event.title,
            "status": w.event.status.code,
            "path": w.event.path,
        },
        "level": w.level,
        "blown_by": (by.display_name or by.get_username()) if by else "",
        "note": w.note,
        "created_at": w.created_at,
        "summons": summons,
        "came": [s for s in summons if s["state"] == WhistleSummon.State.ACKNOWLEDGED],
        "waiting": [s for s in summons if s["state"] == WhistleSummon.State.SUMMONED],
        "missed": [s for s in summons if s["state"] == WhistleSummon.State.MISSED],
    }


def whistle_queryset(*, user: Any, include_closed: bool = False) -> Any:
    """Whistles the caller may see: on events in their territory, or summoning a unit they belong to."""
    qs = Whistle.objects.all()
    if not include_closed:
        qs = qs.filter(event__status__is_closed=False)
    mine = Q(pk__in=WhistleSummon.objects.filter(unit__members=user).values("whistle_id"))
    qs = qs.filter(scope_q(user, "event__path") | mine)
    return (
        qs.select_related("event", "event__status", "blown_by")
        .prefetch_related(
            Prefetch(
                "summons",
                queryset=WhistleSummon.objects.select_related("unit", "acknowledged_by").order_by("id"),
            )
        )
        .order_by("-created_at", "-id")
    )


def whistle_board(
    *, user: Any, include_closed: bool = False, event_id: int | None = None
) -> list[dict[str, Any]]:
    """Open whistles (event not closed) with who came, when, who is awaited and who did not come."""
    qs = whistle_queryset(user=user, include_closed=include_closed)
    if event_id is not None:
        qs = qs.filter(event_id=event_id)
    return [whistle_display(w) for w in qs[:500]]


def whistle_board_for_event(*, user: Any, event_id: int) -> list[dict[str, Any]]:
    """Every whistle on one event (open or not), for the event page. NotFound outside scope."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None or not can_see(user, event):
        raise NotFound("事件不存在", code="not_found")
    return whistle_board(user=user, include_closed=True, event_id=event.pk)
