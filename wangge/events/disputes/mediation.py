"""Disputes (矛盾纠纷, E7): parties from the register, mediation sessions, agreement and outcome.

Only events whose category (or, before acceptance, suggested category) has `is_dispute` carry these.
Writes append timeline entries in the same transaction: party and session details are staff-only
(public=False); the outcome's result (not the agreement text) is shown to the reporter.
Party names are personal: shown in full only to accounts with register access, masked otherwise, and
never written to audit rows or timeline notes.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from wangge.accounts.roles import P_VIEW_REGISTER
from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput
from wangge.core.masking import mask_name
from wangge.core.scope import has_scope, path_in_scope
from wangge.registry.selectors import resident_get

from ..common import timeline_append
from ..models import DisputeOutcome, DisputeParty, Event, MediationSession
from ..selectors import events_visible, newest_first, related_count, text_q
from ..triage import triage_event_get

# Clock skew tolerated for "held at"/"decided at" times entered from a phone.
FUTURE_TOLERANCE = timedelta(minutes=10)


def _dispute_event(actor: Any, event_id: Any, *, writing: bool = True) -> Event:
    event = triage_event_get(user=actor, pk=event_id)
    category = event.category or event.suggested_category
    if category is None or not category.is_dispute:
        raise InvalidInput("该事件不是矛盾纠纷类事件", code="not_dispute")
    if writing and event.master_id is not None:
        raise Conflict("该事件已合并到其他事件，请在主事件上登记", code="already_merged")
    return event


def _text(value: str | None, label: str, max_length: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"请填写{label}", code="required", details={"field": label})
    if len(value) > max_length:
        raise InvalidInput(f"{label}不能超过{max_length}字", code="too_long", details={"field": label})
    return value


def _past(value: Any, label: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(f"{label}无效", code="invalid_datetime")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + FUTURE_TOLERANCE:
        raise InvalidInput(f"{label}不能晚于当前时间", code="datetime_in_future")
    return value


def dispute_party_add(
    *,
    actor: Any,
    event_id: Any,
    side: str,
    resident_id: Any = None,
    name: str = "",
    note: str = "",
) -> DisputeParty:
    """Add a party: a resident from the register (in the actor's scope, needs register access) or a
    name for someone not on the register."""
    event = _dispute_event(actor, event_id)
    if side not in DisputeParty.Side.values:
        raise InvalidInput("当事人身份无效", code="invalid_side")
    name = _text(name, "当事人姓名", 50)
    note = _text(note, "备注", 200)
    resident = None
    if resident_id not in (None, ""):
        resident = resident_get(user=actor, pk=resident_id)  # Forbidden / NotFound outside scope
        name = ""  # the register holds the name; no second copy
    elif not name:
        raise InvalidInput("请选择登记的居民或填写当事人姓名", code="party_required")
    if resident is not None and event.parties.filter(resident=resident).exists():
        raise Conflict("该居民已是本事件的当事人", code="duplicate_party")
    with transaction.atomic():
        party = DisputeParty.objects.create(event=event, resident=resident, name=name, side=side, note=note)
        timeline_append(
            event=event,
            actor=actor,
            action="dispute_party",
            note=f"登记当事人（{DisputeParty.Side(side).label}）",
            public=False,
            data={"party": party.pk, "side": side, "resident": resident.pk if resident else None},
        )
        audit_record(
            actor=actor,
            action="dispute.party_add",
            obj=event,
            after={
                "party": party.pk,
                "side": side,
                "resident": resident.pk if resident else None,
                "name": mask_name(name) if name else "",
            },
        )
    return party


def mediation_session_add(
    *,
    actor: Any,
    event_id: Any,
    held_at: datetime,
    mediator: str,
    place: str = "",
    summary: str,
) -> MediationSession:
    """Record one mediation session (调解记录)."""
    event = _dispute_event(actor, event_id)
    held_at = _past(held_at, "调解时间")
    mediator = _text(mediator, "调解员", 50, required=True)
    place = _text(place, "调解地点", 100)
    summary = _text(summary, "调解情况", 5000, required=True)
    with transaction.atomic():
        session = MediationSession.objects.create(
            event=event, held_at=held_at, mediator=mediator, place=place, summary=summary, created_by=actor
        )
        number = event.mediations.count()
        timeline_append(
            event=event,
            actor=actor,
            action="mediation",
            note=f"第{number}次调解",
            public=False,
            data={"session": session.pk, "held_at": held_at.isoformat()},
        )
        audit_record(
            actor=actor,
            action="dispute.mediation_add",
            obj=event,
            after={"session": session.pk, "held_at": held_at.isoformat(), "number": number},
        )
    return session


def dispute_outcome_set(
    *,
    actor: Any,
    event_id: Any,
    result: str,
    agreement_text: str = "",
    decided_at: datetime,
) -> DisputeOutcome:
    """Set (or correct) the outcome: 调解成功 needs the agreement text."""
    event = _dispute_event(actor, event_id)
    if result not in DisputeOutcome.Result.values:
        raise InvalidInput("调解结果无效", code="invalid_result")
    agreement_text = _text(agreement_text, "协议内容", 10000, required=result == DisputeOutcome.Result.AGREED)
    decided_at = _past(decided_at, "结果时间")
    with transaction.atomic():
        existing = DisputeOutcome.objects.select_for_update().filter(event=event).first()
        before = (
            {"result": existing.result, "decided_at": existing.decided_at.isoformat()} if existing else None
        )
        outcome, _ = DisputeOutcome.objects.update_or_create(
            event=event,
            defaults={"result": result, "agreement_text": agreement_text, "decided_at": decided_at},
        )
        label = DisputeOutcome.Result(result).label
        timeline_append(
            event=event,
            actor=actor,
            action="dispute_outcome",
            note=f"调解结果：{label}",
            public=True,
            data={"result": result, "decided_at": decided_at.isoformat()},
        )
        audit_record(
            actor=actor,
            action="dispute.outcome_set",
            obj=event,
            before=before,
            after={
                "result": result,
                "decided_at": decided_at.isoformat(),
                "agreement_chars": len(agreement_text),
            },
        )
    return outcome


# --- reads ------------------------------------------------------------------------------------------


OTHER_GRID_RESIDENT = "其他网格居民"


def party_display(party: DisputeParty, user: Any) -> dict[str, Any]:
    """One party as shown to `user`: the full name only with register access. A resident from the
    register outside `user`'s territory (staff above may add one from a neighbouring grid) is shown as
    "其他网格居民", without id or name, whatever the register access. An account bound to no territory
    (a department's handler, who sees the dispute because it was sent to their unit) sees the masked
    name, as for any party it may not look up in the register."""
    if party.resident is not None and not path_in_scope(user, party.resident.path) and has_scope(user):
        return {
            "id": party.pk,
            "side": party.side,
            "side_label": DisputeParty.Side(party.side).label,
            "resident": None,
            "name": OTHER_GRID_RESIDENT,
            "note": party.note,
        }
    full = party.resident.name if party.resident is not None else party.name
    may_see = bool(getattr(user, "has_perm", None) and user.has_perm(P_VIEW_REGISTER)) and (
        party.resident is None or path_in_scope(user, party.resident.path)
    )
    return {
        "id": party.pk,
        "side": party.side,
        "side_label": DisputeParty.Side(party.side).label,
        "resident": party.resident_id if may_see else None,
        "name": full if may_see else mask_name(full),
        "note": party.note,
    }


def dispute_get(*, user: Any, event_id: Any) -> dict[str, Any]:
    """Parties, sessions and outcome of one dispute event in the caller's scope."""
    event = _dispute_event(user, event_id, writing=False)
    parties = event.parties.select_related("resident").order_by("pk")
    sessions = event.mediations.order_by("held_at", "pk")
    outcome = DisputeOutcome.objects.filter(event=event).first()
    return {
        "event": event.pk,
        "parties": [party_display(p, user) for p in parties],
        "sessions": [
            {
                "id": s.pk,
                "held_at": s.held_at,
                "mediator": s.mediator,
                "place": s.place,
                "summary": s.summary,
            }
            for s in sessions
        ],
        "outcome": (
            {
                "result": outcome.result,
                "result_label": outcome.get_result_display(),
                "agreement_text": outcome.agreement_text,
                "decided_at": outcome.decided_at,
            }
            if outcome
            else None
        ),
    }


DISPUTE_STATES = ("open", "closed")
DISPUTE_RESULTS = ("none", *DisputeOutcome.Result.values)


def dispute_list(*, user: Any, state: str = "", result: str = "", q: str = "") -> QuerySet[Event]:
    """Dispute events the caller may see (territory scope, or handled by the caller), merged duplicates
    left out, newest first. Each row carries `party_count`, `session_count`, `last_session_at` and its
    outcome (`dispute_outcome`, absent until recorded).

    state: "open" / "closed"; result: an outcome result, or "none" for no outcome yet; q: the tracking
    code or words of the title/description."""
    if state and state not in DISPUTE_STATES:
        raise InvalidInput("状态筛选无效", code="invalid_filter")
    if result and result not in DISPUTE_RESULTS:
        raise InvalidInput("调解结果筛选无效", code="invalid_filter")
    qs = events_visible(user=user).filter(
        Q(category__is_dispute=True) | Q(category__isnull=True, suggested_category__is_dispute=True),
        master__isnull=True,
    )
    if state:
        qs = qs.filter(status__is_closed=state == "closed")
    if result == "none":
        qs = qs.filter(dispute_outcome__isnull=True)
    elif result:
        qs = qs.filter(dispute_outcome__result=result)
    term = (q or "").strip()
    if term:
        qs = qs.filter(text_q(term))
    # Subqueries, not joins with GROUP BY: only the rows of the page shown are counted (a district's
    # dispute list over 1,000,000 events: 960 ms with GROUP BY).
    last = MediationSession.objects.filter(event=OuterRef("pk")).order_by("-held_at").values("held_at")[:1]
    annotated = qs.select_related("dispute_outcome").annotate(
        party_count=related_count(DisputeParty, "event"),
        session_count=related_count(MediationSession, "event"),
        last_session_at=Subquery(last),
    )
    return newest_first(annotated, searched=bool(term))
