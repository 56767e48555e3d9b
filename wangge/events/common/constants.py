"""Constants every part of the event loop shares: the level ladder and its code lengths, ratings."""

from __future__ import annotations

from wangge.accounts.roles import Role
from wangge.territory.models import CODE_LENGTH

from ..models import Level

LEVELS = [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT]

# Territory code length of each level (district 6, street 9, community 12, grid 15 digits): defined once, in
# wangge.territory.
LEVEL_CODE_LENGTH: dict[str, int] = CODE_LENGTH

# Who gets an event at a level when no dispatch rule matches (grid: its GridAssignment worker first).
LEVEL_DEFAULT_ROLE = {
    Level.GRID: Role.GRID_WORKER,
    Level.COMMUNITY: Role.COMMUNITY_STAFF,
    Level.STREET: Role.STREET_STAFF,
    Level.DISTRICT: Role.DISTRICT_ADMIN,
}

RATINGS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}

# The status code of 不予受理 (seeded; dedupe and the outcome of a master read it).
REJECTED_STATUS = "rejected"
