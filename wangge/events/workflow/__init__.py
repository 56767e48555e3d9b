"""The workflow of an event along the status graph: transitions, acceptance, dispatch, reassignment,
escalation, the whistle (吹哨报到), and telling followers of a merged master its outcome."""

from . import acceptance, dispatch, escalation, followers, transitions, whistle
from .acceptance import (
    event_accept,
    event_reject,
)
from .dispatch import (
    category_chain,
    dispatch_resolve,
    dispatch_target,
    event_dispatch,
    event_reassign,
    user_for_role,
    who_label,
)
from .escalation import event_escalate
from .followers import (
    OUTCOME_KIND,
    merge_followers_notify,
    public_source,
)
from .transitions import (
    EDGE_ACTIONS,
    TARGET_ACTIONS,
    event_fields_update,
    event_transition,
    transition_apply,
)
from .whistle import (
    can_see,
    co_handler_ids,
    is_co_handler,
    may_act,
    summon_display,
    whistle_acknowledge,
    whistle_blow,
    whistle_board,
    whistle_board_for_event,
    whistle_display,
    whistle_queryset,
    whistle_sweep_missed,
)

__all__ = [
    "EDGE_ACTIONS",
    "OUTCOME_KIND",
    "TARGET_ACTIONS",
    "acceptance",
    "can_see",
    "category_chain",
    "co_handler_ids",
    "dispatch",
    "dispatch_resolve",
    "dispatch_target",
    "escalation",
    "event_accept",
    "event_dispatch",
    "event_escalate",
    "event_fields_update",
    "event_reassign",
    "event_reject",
    "event_transition",
    "followers",
    "is_co_handler",
    "may_act",
    "merge_followers_notify",
    "public_source",
    "summon_display",
    "transition_apply",
    "transitions",
    "user_for_role",
    "whistle",
    "whistle_acknowledge",
    "whistle_blow",
    "whistle_board",
    "whistle_board_for_event",
    "whistle_display",
    "whistle_queryset",
    "whistle_sweep_missed",
    "who_label",
]
