"""处置反馈, 核查 (staff or the reporter), 评价, 回访 and 重新打开."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wangge.accounts.roles import Role
from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput, NotFound

from ..common import (
    RATINGS,
    action_require,
    event_load,
    files_remove,
    int_id,
    may_act,
    notify_event,
    photos_check,
    photos_store,
    reporter_authorise,
    require_staff,
    timeline_append,
)
from ..models import (
    Event,
    Level,
    ReturnVisit,
    TimeLimit,
)
from ..reference import reference
from ..workflow import transition_apply, user_for_role


def event_feedback(
    *, event_id: int, actor: Any, note: str, files: Sequence[Any] = (), expected_version: int | None = None
) -> Event:
    """处置反馈 by the handler, with photos. An event still "dispatched" is signed for first."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="feedback", expected_version=expected_version)
    note = (note or "").strip()
    if not note:
        raise InvalidInput("请填写处置情况", code="note_required")
    checked = photos_check(files)
    stored: list[str] = []
    try:
        with transaction.atomic():
            if event.status.code == "dispatched":
                event, _ = transition_apply(
                    event=event,
                    target="handling",
                    actor=actor,
                    expected_version=expected_version,
                    action="sign",
                )
                expected_version = None
            event, entry = transition_apply(
                event=event,
                target="handled",
                actor=actor,
                note=note,
                expected_version=expected_version,
                data={"photos": len(checked)},
                action="feedback",
            )
            if checked:
                photos_store(event, entry, checked, stored)  # linked to the entry by Attachment.entry
    except Exception:
        files_remove(stored)  # the transaction rolled back: do not keep orphan files
        raise
    return event


def event_verify(
    *, event_id: int, actor: Any, passed: bool, note: str = "", expected_version: int | None = None
) -> Event:
    """核查: passed → closed (结案); not passed → back to handling (返工, reason required)."""
    event = event_load(event_id, actor)
    action_require(user=actor, event=event, key="verify", expected_version=expected_version)
    note = (note or "").strip()
    if passed:
        event, _ = transition_apply(
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
    event, _ = transition_apply(
        event=event,
        target="handling",
        actor=actor,
        note=note,
        expected_version=expected_version,
        data={"verified": False},
        action="rework",
    )
    return event


def event_by_code(tracking_code: str) -> Event:
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
    event = event_by_code(tracking_code)
    reporter_authorise(event=event, token=reporter_token, actor=actor)
    if event.master_id:
        raise Conflict("该事件已并入其他事件办理，请查看主事件的办理结果", code="merged")
    if event.status.code not in ("handled", "verifying"):
        raise Conflict(f"当前状态“{event.status.name}”不需要您确认", code="illegal_transition")
    if not passed and not note:
        raise InvalidInput("请说明哪里还没有解决", code="note_required")
    event, _ = transition_apply(
        event=event,
        target="closed" if passed else "handling",
        actor=None,
        note=note,
        data={"verified": passed, "by": "reporter"},
        action="close" if passed else "rework",
    )
    return event


def _return_visit_assignee(event: Event) -> Any:
    """The community staff of the event's community, else the handler."""
    staff = user_for_role(event, Level.COMMUNITY, Role.COMMUNITY_STAFF) if event.path else None
    return staff or event.handler_user


def event_rate(
    *, tracking_code: str, rating: str, comment: str = "", reporter_token: str = "", actor: Any = None
) -> Event:
    """The reporter rates (token from the reporter link, or their own signed-in account; only when
    closed). 不满意 creates a return-visit task (回访) and opens the reopen window. A merged duplicate
    follows its master."""
    event = event_by_code(tracking_code)
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
            event, _ = transition_apply(
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
            notify_event(
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


def event_reopen(*, event_id: int, actor: Any, reason: str, expected_version: int | None = None) -> Event:
    """重新打开 a closed event within settings.WANGGE_REOPEN_DAYS of closing; back to the handler."""
    event = event_load(event_id, actor)
    # Staff, within the reopen window (common.actions).
    action_require(user=actor, event=event, key="reopen", expected_version=expected_version)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("重新打开须填写理由", code="reason_required")
    event, _ = transition_apply(
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
    visit = ReturnVisit.objects.select_related("event").filter(pk=int_id(visit_id)).first()
    if visit is None or not may_act(actor, visit.event):
        raise NotFound("回访任务不存在", code="not_found")
    require_staff(actor)
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
