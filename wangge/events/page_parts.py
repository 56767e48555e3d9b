"""Parts of the event page shared by the event views and the casework views (the dispute section),
kept apart so that neither view module imports the other's helpers."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from wangge.accounts.roles import P_VIEW_REGISTER, STAFF_ROLES
from wangge.core.errors import ServiceError

from . import disputes
from . import forms_casework as cf
from .models import Event


def may_casework(user: Any) -> bool:
    """Working staff: the roles the dispute API and the return-visit service accept."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in STAFF_ROLES)


def now_minute() -> Any:
    return timezone.localtime().replace(second=0, microsecond=0)


def dispute_panel(
    request: HttpRequest,
    event: Event,
    *,
    key: str = "",
    form: Any = None,
    error: str = "",
    found: list[dict[str, Any]] | None = None,
    q: str = "",
) -> dict[str, Any] | None:
    """The dispute section of the event page: parties (names masked without register access),
    mediation sessions, agreement and outcome, and the three forms. None when the event is not a
    dispute or the user does no casework. `key`/`form`/`error` put back the form that failed."""
    user = request.user
    if not may_casework(user):
        return None
    try:
        info = disputes.dispute_get(user=user, event_id=event.pk)
    except ServiceError:
        return None
    for party in info["parties"]:
        party["side_label"] = gettext(party["side_label"])
    outcome = info["outcome"]
    if outcome:
        outcome["result_label"] = gettext(outcome["result_label"])
        initial = {
            "result": outcome["result"],
            "agreement_text": outcome["agreement_text"],
            "decided_at": outcome["decided_at"],
        }
    else:
        initial = {"decided_at": now_minute()}
    panel_forms = {
        "party": cf.PartyForm(auto_id="party-%s"),
        "session": cf.SessionForm(initial={"held_at": now_minute()}, auto_id="session-%s"),
        "outcome": cf.OutcomeForm(initial=initial, auto_id="outcome-%s"),
    }
    if form is not None:
        panel_forms[key] = form
    return {
        "event": event,
        "info": info,
        "forms": panel_forms,
        "open": key,
        "error": error,
        "found": found,
        "q": q,
        "may_edit": event.master_id is None,
        "may_search": user.has_perm(P_VIEW_REGISTER),
    }
