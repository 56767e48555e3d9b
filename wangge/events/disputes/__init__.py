"""Disputes (矛盾纠纷): parties, mediation sessions, outcomes."""

from . import mediation
from .mediation import (
    DISPUTE_RESULTS,
    DISPUTE_STATES,
    FUTURE_TOLERANCE,
    OTHER_GRID_RESIDENT,
    dispute_get,
    dispute_list,
    dispute_outcome_set,
    dispute_party_add,
    mediation_session_add,
    party_display,
)

__all__ = [
    "DISPUTE_RESULTS",
    "DISPUTE_STATES",
    "FUTURE_TOLERANCE",
    "OTHER_GRID_RESIDENT",
    "dispute_get",
    "dispute_list",
    "dispute_outcome_set",
    "dispute_party_add",
    "mediation",
    "mediation_session_add",
    "party_display",
]
