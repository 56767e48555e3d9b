"""The append-only timeline of an event: one writer, called inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from ..models import (
    Event,
    TimelineEntry,
)


def actor_fields(actor: Any) -> dict[str, Any]:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return {"actor": actor, "actor_name": actor.get_username(), "actor_role": getattr(actor, "role", "")}
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
