"""`{% calendar_coverage_warnings as warnings %}`: the years ahead the working-day clock does not know,
for the admin index (only for accounts that maintain the calendar)."""

from typing import Any

from django import template

from wangge.core.guards import is_district_admin
from wangge.events.coverage import coverage_warnings

register = template.Library()


@register.simple_tag(takes_context=True)
def calendar_coverage_warnings(context: Any) -> list[str]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not (is_district_admin(user) or user.has_perm("events.change_calendarday")):
        return []
    return coverage_warnings()
