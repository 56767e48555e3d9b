"""The events' write surface: every service that changes an event, re-exported from the sub-package
that owns it, plus `event_move` (a bare "go to status X" routed to the named service).

Where things live (each sub-package has one public surface, its `__init__`):
- `common/`   access rules, timeline, stage clock, photos, reporter secrets, visibility, notifications
- `sos/`      SOS watch of 特急 events, devices
- `workflow/` status graph transitions, accept/reject, dispatch, reassign, escalate, whistle, followers
- `triage/`   classify, locate, propose urgency, duplicates, merge
- `closure/`  feedback, verify, rate, return visits, reopen
- `intake/`   single reports, batches, the hotline import, MQTT; idempotency and replays
- `disputes/` parties, mediation sessions, outcomes
Reads are in `selectors.py` (scoped querysets) and `display.py` (what a viewer is shown); configuration
writes in `config.py`.
"""

from typing import Any

from wangge.core.errors import Conflict

from .closure import (
    event_feedback,
    event_rate,
    event_reopen,
    event_verify,
    event_verify_by_reporter,
    reopen_deadline,
    return_visit_complete,
)
from .common import (
    LEVEL_DEFAULT_ROLE,
    LEVELS,
    PHOTO_MAX_COUNT,
    RATINGS,
    action_require,
    edge_kind,
    event_load,
    photo_check,
    scrub_text,
    time_limit_for,
    timeline_append,
)
from .config import config_delete, config_save
from .intake import (
    EventInput,
    event_create,
    event_intake,
    event_photos_add,
    history_import,
    idempotency_key_from_client,
    replay_allowed,
    replay_answer,
    tracking_code_new,
)
from .models import Event, Status
from .triage import classify, event_triage, propose_urgency
from .workflow import (
    dispatch_resolve,
    event_accept,
    event_dispatch,
    event_escalate,
    event_reassign,
    event_reject,
    event_transition,
    transition_apply,
)

__all__ = [
    "LEVELS",
    "LEVEL_DEFAULT_ROLE",
    "PHOTO_MAX_COUNT",
    "RATINGS",
    "EventInput",
    "classify",
    "config_delete",
    "config_save",
    "dispatch_resolve",
    "event_accept",
    "event_create",
    "event_dispatch",
    "event_escalate",
    "event_feedback",
    "event_intake",
    "history_import",
    "event_move",
    "event_photos_add",
    "event_rate",
    "event_reassign",
    "event_reject",
    "event_reopen",
    "event_transition",
    "event_triage",
    "event_verify",
    "event_verify_by_reporter",
    "idempotency_key_from_client",
    "photo_check",
    "propose_urgency",
    "reopen_deadline",
    "replay_allowed",
    "replay_answer",
    "return_visit_complete",
    "scrub_text",
    "time_limit_for",
    "timeline_append",
    "tracking_code_new",
]


def event_move(
    *, event_id: int, actor: Any, target: str, note: str = "", expected_version: int | None = None
) -> Event:
    """A bare transition request (API `transitions/`): routed to the named service of the edge's kind
    (`common.edge_kind`, the same table the pages use), else a plain graph transition."""
    event = event_load(event_id, actor)
    source = event.status.code
    kw = {"event_id": event.pk, "actor": actor, "expected_version": expected_version}
    kind = edge_kind(source, target)
    if not kind:
        raise Conflict("评价须由上报人通过查询码提交", code="rating_public_only")
    if kind == "accept":
        return event_accept(note=note, **kw)
    if kind == "reject":
        return event_reject(reason=note, **kw)
    if kind == "dispatch":
        return event_dispatch(reason=note, **kw)
    if kind == "feedback":
        return event_feedback(note=note, **kw)
    if kind == "verify":
        return event_verify(passed=target == "closed", note=note, **kw)
    if kind == "reopen":
        return event_reopen(reason=note, **kw)
    if kind == "escalate":
        return event_escalate(reason=note, **kw)
    if Status.objects.filter(code=target).exists():  # an unknown target stays "invalid_status" below
        action_require(user=actor, event=event, key=f"transition:{target}")
    extra = (
        {"handler_unit_id": None, "handler_user_id": None}
        if (source, target) == ("dispatched", "accepted")
        else None
    )
    event, _ = transition_apply(
        event=event,
        target=target,
        actor=actor,
        note=note,
        expected_version=expected_version,
        extra_fields=extra,
    )
    return event
