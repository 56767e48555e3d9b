from datetime import date

from django.db.models import QuerySet

from wangge.core.scope import scope_queryset

from .labels import action_label, object_type_label
from .models import AuditEntry


def audit_search(
    *,
    user: object,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEntry]:
    """Audit entries inside the caller's territory (entries without a path are visible to district admins)."""
    qs = scope_queryset(AuditEntry.objects.all(), user)
    if actor:
        qs = qs.filter(actor_name__icontains=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if date_from:
        qs = qs.filter(created_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__date__lte=date_to)
    return qs.order_by("-id")


def audit_filter_choices(*, user: object) -> dict[str, list[tuple[str, str]]]:
    """The actions and object types present in the caller's territory, as (code, Chinese name) choices
    for the search form, sorted by name."""
    qs = scope_queryset(AuditEntry.objects.all(), user)
    actions = qs.order_by().values_list("action", flat=True).distinct()
    types = qs.exclude(object_type="").order_by().values_list("object_type", flat=True).distinct()
    return {
        "action": sorted(((a, action_label(a)) for a in actions), key=lambda c: (c[1], c[0])),
        "object_type": sorted(((t, object_type_label(t)) for t in types), key=lambda c: (c[1], c[0])),
    }
