"""Reads of notifications: one's own inbox, or (for supervisors) those about objects in one's territory."""

from typing import Any

from django.db.models import QuerySet

from wangge.core.errors import InvalidInput
from wangge.core.scope import scope_queryset

from .models import Notification

SCOPES = ("own", "territory")


def notification_list(
    *, user: Any, state: str = "", scope: str = "own", kind: str = ""
) -> QuerySet[Notification]:
    """Newest first. scope "own": the caller's own notifications; "territory": every notification about
    an object in the caller's territory (by its path; notifications about nothing in particular have no
    path and are seen only by their recipients and superusers)."""
    if scope not in SCOPES:
        raise InvalidInput("scope 须为 own 或 territory", code="invalid_scope")
    if scope == "own":
        qs = Notification.objects.filter(recipient=user)
    else:
        qs = scope_queryset(Notification.objects.all(), user)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("content_type").order_by("-created_at", "-id")
