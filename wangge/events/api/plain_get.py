"""The event detail GET served in front of DRF (`GET /api/v1/events/{id}/`, the busiest call of the API:
every handler's page, every script polling an event). The machinery is core.db.plain_get; this is the
events' answer: the same selector and the same display function as the DRF view. An unknown or
invisible event is left to DRF, so the 404 body is its exception handler's (decision 0008).
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse

from wangge.core.db import plain_get
from wangge.core.errors import NotFound
from wangge.events import selectors
from wangge.events.display import event_detail


def _event_detail(user: Any, pk: Any = None, **_: Any) -> dict[str, Any] | None:
    try:
        event = selectors.event_get_detail(user=user, pk=pk)
    except NotFound:
        return None  # DRF answers it
    return event_detail(event, viewer=user)


def with_plain_get(drf_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The events viewset's detail route with its plain GET answered in front of DRF."""
    return plain_get.with_plain_get(drf_view, _event_detail)
