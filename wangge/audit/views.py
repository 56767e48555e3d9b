"""Audit search page: read-only, scoped to the caller's territory, for accounts.view_audit."""

from datetime import date

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wangge.core.roles import P_VIEW_AUDIT

from .selectors import audit_search

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
    entries = audit_search(user=request.user, **filters)  # type: ignore[arg-type]
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/list.html", {"page_obj": page, "filters": filters})
