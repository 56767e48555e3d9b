"""A DRF detail route's plain GET answered in front of DRF, when nothing about the request needs DRF.

DRF's request wrapping, content negotiation and response rendering cost about as much CPU as a third
of an event detail on the 2-core reference machine (decision 0008). `with_plain_get` answers the
ordinary case, a token-authenticated GET asking for JSON with no query string, with the caller's
`answer(user, **kwargs)` (the same function the DRF view uses), the same renderer and the same
headers; everything else (another method, a session or a bad token, an object `answer` does not give,
`?format=`, a browser asking for HTML) goes to the DRF view unchanged, so every error response is
DRF's own. It relies on DRF's `cls`/`actions` attributes of a viewset's view and on its
TokenAuthentication reading only `request.META`.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views import View
from rest_framework import authentication, exceptions, permissions
from rest_framework.renderers import JSONRenderer

from . import enabled

# What DRF answers JSON to without a second look (its first renderer is JSON).
_JSON_ACCEPT = frozenset({"", "*/*", "application/json"})
_renderer = JSONRenderer()

# The caller's answer: the data DRF's view would serialize for this user, or None to let DRF answer.
Answer = Callable[..., Any | None]


def _token_user(auth: Any, request: HttpRequest) -> Any | None:
    """The active user of a valid `Authorization: Token …` header, else None (DRF decides)."""
    try:
        found = auth.authenticate(request)  # type: ignore[arg-type]  # reads only request.META
    except exceptions.APIException:
        return None
    return found[0] if found else None


def _allow_header(drf_view: Any) -> str:
    """The Allow header DRF sends for this route: its actions' methods, HEAD with GET, OPTIONS."""
    methods = set(drf_view.actions) | {"options"} | ({"head"} if "get" in drf_view.actions else set())
    return ", ".join(m.upper() for m in View.http_method_names if m in methods)


def _checks_as_here(view_class: Any) -> bool:
    """The view checks nothing this wrapper does not: a header token authentication first (the
    view's own class, a DRF TokenAuthentication, is the one used here), IsAuthenticated only, no
    throttles. A view configured otherwise keeps every request (the wrapper stands aside)."""
    return (
        not view_class.throttle_classes
        and list(view_class.permission_classes) == [permissions.IsAuthenticated]
        and bool(view_class.authentication_classes)
        and issubclass(view_class.authentication_classes[0], authentication.TokenAuthentication)
    )


def with_plain_get(drf_view: Callable[..., HttpResponse], answer: Answer) -> Callable[..., HttpResponse]:
    """`drf_view` (a viewset's detail route) with its plain GET answered by `answer(user, **kwargs)`;
    same attributes, so URL names, CSRF exemption and the OpenAPI schema still see the viewset."""
    if not enabled("plain_get") or not _checks_as_here(drf_view.cls):  # type: ignore[attr-defined]
        return drf_view
    allow = _allow_header(drf_view)
    auth = drf_view.cls.authentication_classes[0]()  # type: ignore[attr-defined]

    @functools.wraps(drf_view)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.method == "GET"
            and not request.META.get("QUERY_STRING")
            and request.META.get("HTTP_ACCEPT", "").strip() in _JSON_ACCEPT
        ):
            user = _token_user(auth, request)
            if user is not None:
                data = answer(user, **kwargs)
                if data is not None:
                    request.user = user
                    response = HttpResponse(_renderer.render(data), content_type="application/json")
                    patch_vary_headers(response, ("Accept",))
                    response["Allow"] = allow
                    return response
        return drf_view(request, *args, **kwargs)

    return view
