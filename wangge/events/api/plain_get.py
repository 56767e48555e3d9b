"""The event detail GET served in front of DRF when nothing about the request needs DRF.

`GET /api/v1/events/{id}/` is the busiest call of the API (every handler's page, every script polling
an event). DRF's request wrapping, content negotiation and response rendering cost about as much CPU as
a third of the detail itself on the 2-core reference machine (decision 0008). This wrapper answers the
ordinary case, a token-authenticated GET asking for JSON with no query string, with the same function,
the same renderer and the same headers; everything else (another method, a session or a bad token, an
unknown or invisible event, `?format=`, a browser asking for HTML) goes to the DRF view unchanged, so
every error response is DRF's own.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views import View
from rest_framework import exceptions, permissions
from rest_framework.renderers import JSONRenderer

from wangge.accounts.authentication import TokenAuthentication
from wangge.core.errors import NotFound
from wangge.events import selectors
from wangge.events.display import event_detail

# What DRF answers JSON to without a second look (its first renderer is JSON).
_JSON_ACCEPT = frozenset({"", "*/*", "application/json"})
_renderer = JSONRenderer()
_auth = TokenAuthentication()


def _token_user(request: HttpRequest) -> Any | None:
    """The active user of a valid `Authorization: Token …` header, else None (DRF decides)."""
    try:
        found = _auth.authenticate(request)  # type: ignore[arg-type]  # reads only request.META
    except exceptions.APIException:
        return None
    return found[0] if found else None


def _allow_header(drf_view: Any) -> str:
    """The Allow header DRF sends for this route: its actions' methods, HEAD with GET, OPTIONS."""
    methods = set(drf_view.actions) | {"options"} | ({"head"} if "get" in drf_view.actions else set())
    return ", ".join(m.upper() for m in View.http_method_names if m in methods)


def _checks_as_here(view_class: Any) -> bool:
    """The view checks nothing this wrapper does not: token authentication first, IsAuthenticated
    only, no throttles. A view configured otherwise keeps every request (the wrapper stands aside)."""
    return (
        not view_class.throttle_classes
        and list(view_class.permission_classes) == [permissions.IsAuthenticated]
        and bool(view_class.authentication_classes)
        and view_class.authentication_classes[0] is TokenAuthentication
    )


def with_plain_get(drf_view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`drf_view` (a viewset's detail route) with its plain GET answered here; same attributes, so
    URL names, CSRF exemption and the OpenAPI schema still see the viewset."""
    if not _checks_as_here(drf_view.cls):  # type: ignore[attr-defined]
        return drf_view
    allow = _allow_header(drf_view)

    @functools.wraps(drf_view)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.method == "GET"
            and not request.META.get("QUERY_STRING")
            and request.META.get("HTTP_ACCEPT", "").strip() in _JSON_ACCEPT
        ):
            user = _token_user(request)
            if user is not None:
                try:
                    event = selectors.event_get_detail(user=user, pk=kwargs.get("pk"))
                except NotFound:
                    pass  # DRF answers it: the 404 body is its exception handler's
                else:
                    request.user = user
                    response = HttpResponse(
                        _renderer.render(event_detail(event, viewer=user)), content_type="application/json"
                    )
                    patch_vary_headers(response, ("Accept",))
                    response["Allow"] = allow
                    return response
        return drf_view(request, *args, **kwargs)

    return view
