"""Whether a user may see given events, decided for events already loaded (the rule of
`selectors.visible_q`, which filters querysets). Kept apart from the selectors so that services and
display code can scope the events they embed or look up by a client's key without importing the
selectors (which render through display, which reads services)."""

from typing import Any

from django.db.models import Q

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.scope import path_in_scope

from ..models import Event, WhistleSummon

MAX_ID = 2**63 - 1  # the largest id a bigint column holds: larger ones name no event


def unit_ids(user: Any) -> list[int]:
    """The active handling units `user` belongs to."""
    return list(user.handling_units.filter(active=True).values_list("pk", flat=True))


def seen_by_columns(user: Any, event: Event) -> bool | None:
    """`selectors.visible_q` decided from the event's own columns: True / False, or None when it depends on the
    user's handling units (shared by `may_see` and `visible_among`, so both apply one rule)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False) or event.handler_user_id == user.pk:
        return True
    if getattr(user, "role", "") in STAFF_ROLES:
        # Whoever entered the report (a hotline operator, a walk-in desk, a patrol) may always see it,
        # wherever it was located; what they may do with it is still the action catalogue's.
        if event.reporter_user_id == user.pk:
            return True
        if event.path and path_in_scope(user, event.path):
            return True
        territory = getattr(user, "territory", None)
        if not event.path and territory is not None and territory.level == "district":
            return True
    return None


def may_see(user: Any, event: Event) -> bool:
    """`selectors.visible_q` for one loaded event, decided in Python (at most one query: whistle summons)."""
    decided = seen_by_columns(user, event)
    if decided is not None:
        return decided
    units = unit_ids(user)
    if not units:
        return False
    if event.handler_unit_id in units:
        return True
    return WhistleSummon.objects.filter(unit_id__in=units, whistle__event_id=event.pk).exists()


def visible_among(
    *, user: Any, ids: Any = (), codes: Any = (), merged_into: int | None = None
) -> list[Event]:
    """`may_see` for the events other rows refer to (by id, by tracking code, or merged into the event
    `merged_into`): the ones `user` may see, with only pk, tracking_code and master_id loaded. No query
    when nothing is named, one for staff inside their territory, at most three otherwise (the user's
    units and their summons). For embedding related events in what `user` is shown."""
    ids = {int(i) for i in ids if isinstance(i, int) and 0 < i <= MAX_ID}
    codes = {str(c) for c in codes if isinstance(c, str) and c}
    if not (ids or codes or merged_into) or not getattr(user, "is_authenticated", False):
        return []
    named = Q(pk__in=ids) | Q(tracking_code__in=codes)
    if merged_into:
        named |= Q(master_id=merged_into)
    fields = (
        "pk",
        "tracking_code",
        "master_id",
        "path",
        "handler_user_id",
        "handler_unit_id",
        "reporter_user_id",
    )
    named_events = list(Event.objects.filter(named).only(*fields))
    if getattr(user, "is_superuser", False):
        return named_events
    # Decided from the events' own columns first (staff inside their territory: one plain query in all);
    # only the undecided ones ask about the user's units, as `may_see` does. Annotating every row with
    # the units' Exists subqueries instead cost 3-6 ms per detail on PostgreSQL.
    out: list[Event] = []
    undecided: list[Event] = []
    for event in named_events:
        decided = seen_by_columns(user, event)
        if decided:
            out.append(event)
        elif decided is None:
            undecided.append(event)
    units = unit_ids(user) if undecided else []
    if units:
        summoned = set(
            WhistleSummon.objects.filter(
                unit_id__in=units, whistle__event_id__in=[e.pk for e in undecided]
            ).values_list("whistle__event_id", flat=True)
        )
        out.extend(e for e in undecided if e.handler_unit_id in units or e.pk in summoned)
    return out
