"""Reads of generic deadlines, scoped by territory path."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from wangge.core.scope import scope_queryset

from .models import Deadline


def deadline_for(*, obj: models.Model, kind: str) -> Deadline | None:
    """The open deadline of `kind` on `obj` (for the domain that owns `obj`; it has checked access)."""
    ct = ContentType.objects.get_for_model(obj)
    return Deadline.objects.filter(
        content_type=ct, object_id=obj.pk, kind=kind, state=Deadline.State.OPEN
    ).first()


def deadline_list(*, user: Any, kind: str = "", state: str = "", level: str = "") -> QuerySet[Deadline]:
    """Deadlines in the caller's territory, soonest due first."""
    qs = scope_queryset(Deadline.objects.all(), user)
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("due_at", "id")
