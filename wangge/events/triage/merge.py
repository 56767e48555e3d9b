"""Merging duplicate reports into one master event; the reporters of duplicates follow the master (E2).

How a duplicate ends (data-driven):
- If the installation's status graph has an edge from the duplicate's current status to a status with
  code "merged" (add one in the admin: e.g. 已合并, is_closed), the duplicate takes that edge through
  `event_transition` (graph, role and version checks as for any transition).
- Otherwise (the default graph) the duplicate keeps its status, gets `master` set and its running stage
  clock is stopped (no deadline, no 催办); open lists, boards and the sweep exclude events with a master
  (`Event.master IS NULL`). A "merged" status is not seeded so that the default graph, which residents
  see, keeps the ten statuses of the issue; the master's status is what a duplicate's reporter sees.

Either way: timeline entries on both sides ("merge" on the master, "merged_into" on each duplicate),
one audit row, and when the master is closed `workflow.followers.merge_followers_notify` tells each duplicate's reporter
the outcome, once per closure.
"""

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput

from ..common import REJECTED_STATUS, clock_fields, open_clock, timeline_append
from ..models import Event, StageDeadline, Transition, Warning
from ..workflow import event_transition
from .dedupe import triage_event_get

MERGED_STATUS = "merged"
MAX_DUPLICATES = 50


def _ids(duplicate_ids: Any) -> list[int]:
    if not isinstance(duplicate_ids, list | tuple | set) or not duplicate_ids:
        raise InvalidInput("请选择要合并的重复事件", code="duplicates_required")
    try:
        ids = [int(x) for x in duplicate_ids]
    except (TypeError, ValueError):
        raise InvalidInput("重复事件编号无效", code="invalid_duplicates")
    if len(set(ids)) != len(ids):
        raise InvalidInput("重复事件编号有重复", code="invalid_duplicates")
    if len(ids) > MAX_DUPLICATES:
        raise InvalidInput(f"一次最多合并{MAX_DUPLICATES}个事件", code="too_many_duplicates")
    return ids


def _check_open(event: Event, role: str) -> None:
    if event.master_id is not None:
        raise Conflict(f"事件 {event.tracking_code} 已合并到其他事件", code="already_merged")
    if event.status.is_closed or event.status.code == REJECTED_STATUS:
        raise Conflict(
            f"{role}事件 {event.tracking_code} 已{event.status.name}，不能合并", code="event_closed"
        )


def _merged_edge(event: Event) -> bool:
    return Transition.objects.filter(source_id=event.status_id, target__code=MERGED_STATUS).exists()


def _stop_clock(event: Event, now: Any) -> None:
    for clock in StageDeadline.objects.filter(event=event, finished_at__isnull=True):
        clock.finished_at = now
        clock.overdue = now > clock.deadline
        clock.save(update_fields=["finished_at", "overdue"])


def event_merge(*, master_id: Any, duplicate_ids: Any, actor: Any, note: str = "") -> Event:
    """Merge duplicate events into a master. All must be in the actor's scope (else 404), open and not
    merged; merging the same duplicate twice is refused (Conflict), never applied twice."""
    ids = _ids(duplicate_ids)
    note = (note or "").strip()
    if len(note) > 500:
        raise InvalidInput("说明不能超过500字", code="note_too_long")
    master = triage_event_get(user=actor, pk=master_id)
    if master.pk in ids:
        raise InvalidInput("主事件不能同时作为重复事件", code="master_in_duplicates")
    duplicates = [triage_event_get(user=actor, pk=pk) for pk in ids]
    _check_open(master, "主")
    for dup in duplicates:
        _check_open(dup, "")
    now = timezone.now()
    with transaction.atomic():
        # Lock the rows (PostgreSQL; SQLite serialises writers) and claim the master: a master that was
        # merged elsewhere meanwhile loses here.
        locked = {
            e.pk: e
            for e in Event.objects.select_for_update()
            .select_related("status")
            .filter(pk__in=[master.pk, *ids])
            .order_by("pk")
        }
        master = locked[master.pk]
        _check_open(master, "主")
        if not Event.objects.filter(pk=master.pk, master__isnull=True).update(version=F("version") + 1):
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        merged_codes: list[str] = []
        for pk in ids:
            dup = locked[pk]
            _check_open(dup, "")
            if _merged_edge(dup):
                event_transition(
                    event_id=dup.pk,
                    target=MERGED_STATUS,
                    actor=actor,
                    note=note or "与反映同一问题的事件合并处理",
                    expected_version=dup.version,
                    extra_fields={"master_id": master.pk},
                )
            else:
                won = Event.objects.filter(pk=dup.pk, version=dup.version, master__isnull=True).update(
                    master=master,
                    version=F("version") + 1,
                    stage="",
                    stage_started_at=None,
                    warn_at=None,
                    deadline=None,
                    warning=Warning.NONE,
                    updated_at=now,
                )
                if not won:
                    raise Conflict(
                        f"事件 {dup.tracking_code} 已被他人更新，请刷新后重试", code="version_conflict"
                    )
                _stop_clock(dup, now)
            # Events already merged into the duplicate follow it to the new master.
            followers = list(Event.objects.filter(master_id=dup.pk))
            Event.objects.filter(master_id=dup.pk).update(master=master, version=F("version") + 1)
            for ev in [dup, *followers]:
                timeline_append(
                    event=ev,
                    actor=actor,
                    action="merged_into",
                    note="已与反映同一问题的事件合并处理，处理结果将同步告知您",
                    public=True,
                    data={"master": master.pk, "via": dup.pk if ev is not dup else None},
                )
            merged_codes += [dup.tracking_code, *(f.tracking_code for f in followers)]
        timeline_append(
            event=master,
            actor=actor,
            action="merge",
            note=note,
            public=False,
            data={"duplicates": ids, "tracking_codes": merged_codes},
        )
        audit_record(
            actor=actor,
            action="event.merge",
            obj=master,
            after={"duplicates": merged_codes},
            reason=note,
        )
    master.refresh_from_db()
    return master


def event_unmerge(*, event_id: Any, actor: Any, reason: str) -> Event:
    """Undo a merge made in the default mode: the event is its own again and its stage clock restarts."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写取消合并的原因", code="reason_required")
    event = triage_event_get(user=actor, pk=event_id)
    if event.master_id is None:
        raise Conflict("该事件未被合并", code="not_merged")
    if event.status.code == MERGED_STATUS or event.status.is_closed:
        raise Conflict("该事件已结束，请先重新打开", code="event_closed")
    now = timezone.now()
    master_id = event.master_id
    with transaction.atomic():
        event.master = None
        clock = clock_fields(event, event.status.stage, now)
        won = Event.objects.filter(pk=event.pk, version=event.version, master_id=master_id).update(
            master=None, version=F("version") + 1, updated_at=now, **clock
        )
        if not won:
            raise Conflict("事件已被他人更新，请刷新后重试", code="version_conflict")
        event.refresh_from_db()
        open_clock(event, clock)
        timeline_append(event=event, actor=actor, action="unmerge", note=reason, public=False)
        master = Event.objects.get(pk=master_id)
        timeline_append(
            event=master, actor=actor, action="unmerge", note=reason, public=False, data={"event": event.pk}
        )
        audit_record(
            actor=actor,
            action="event.unmerge",
            obj=event,
            before={"master": master.tracking_code},
            reason=reason,
        )
    return event
