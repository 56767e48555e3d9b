"""Audit search page: read-only, scoped to the caller's territory, for accounts.view_audit."""

from datetime import date

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext

from wangge.core.roles import P_VIEW_AUDIT

from .labels import action_label, object_type_label
from .models import AuditEntry
from .selectors import audit_filter_choices, audit_search

PAGE_SIZE = 50


def parse_date(value: str | None) -> date | None:
    """ISO date from a query parameter, or None when missing or malformed."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def audit_filters(params: dict[str, str]) -> dict[str, object]:
    """The filters audit_search understands, taken from query parameters (shared with the API)."""
    return {
        "actor": (params.get("actor") or "").strip(),
        "action": (params.get("action") or "").strip(),
        "object_type": (params.get("object_type") or "").strip(),
        "object_id": (params.get("object_id") or "").strip(),
        "date_from": parse_date(params.get("date_from")),
        "date_to": parse_date(params.get("date_to")),
    }


@login_required
@permission_required(P_VIEW_AUDIT, raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    filters = audit_filters(request.GET.dict())
    entries = audit_search(user=request.user, **filters).select_related("actor")  # type: ignore[arg-type]
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "entry": e,
            "actor": _actor_name(e),
            "action": action_label(e.action),
            "object_type": object_type_label(e.object_type),
        }
        for e in page.object_list
    ]
    choices = audit_filter_choices(user=request.user)
    for name in ("action", "object_type"):  # a value typed into the URL stays selected, named too
        value = str(filters[name] or "")
        if value and value not in {code for code, _ in choices[name]}:
            label = action_label(value) if name == "action" else object_type_label(value)
            choices[name].insert(0, (value, label))
    context = {"page_obj": page, "rows": rows, "filters": filters, "choices": choices}
    return render(request, "audit/list.html", context)


def _actor_name(entry: AuditEntry) -> str:
    """Who acted, as the page header names people (their display name), or 系统 for the system."""
    if entry.actor is not None:
        return str(entry.actor)
    return gettext("系统") if entry.actor_name in ("", "system") else entry.actor_name
