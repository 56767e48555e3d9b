"""Closure: the handler's feedback, verification (staff or reporter), rating, return visits, reopening."""

from ..common import reopen_deadline  # the reopen window is part of the action rules (common.actions)
from . import closing
from .closing import (
    event_by_code,
    event_feedback,
    event_rate,
    event_reopen,
    event_verify,
    event_verify_by_reporter,
    return_visit_complete,
)

__all__ = [
    "closing",
    "event_by_code",
    "event_feedback",
    "event_rate",
    "event_reopen",
    "event_verify",
    "event_verify_by_reporter",
    "reopen_deadline",
    "return_visit_complete",
]
