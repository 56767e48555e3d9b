"""The append-only timeline of an event: one writer, called inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from ..models import (
    Event,
    TimelineEntry,
)


def actor_fields(actor: Any) -> dict[str, Any]:
    """Who took a step. `actor_name` is the person's name as the page header shows it (display name, else
    the login name), kept as it was when they acted; the account itself is the `actor` link."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        name = str(actor)[:150]
        return {"actor": actor, "actor_name": name, "actor_role": getattr(actor, "role", "")}
    return {"actor": None, "actor_name": "system", "actor_role": ""}


def timeline_append(
    *,
    event: Event,
    actor: Any,
    action: str,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append one step to an event's timeline (callers hold the transaction)."""
    return TimelineEntry.objects.create(
        event=event,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
        data=data or {},
        **actor_fields(actor),
    )
