"""Request context for audit rows (client address) and the Permissions-Policy header."""

from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

current_ip: ContextVar[str] = ContextVar("wangge_current_ip", default="")


def client_ip(request: HttpRequest) -> str:
    """The client's address, for audit rows and the per-address login and reporter throttles.

    X-Forwarded-For is whatever the client wrote, except for the hops our own proxies appended: with
    `WANGGE_PROXY_HOPS` = N reverse proxies in front (docs/deploy.md), the N-th address from the right
    is the one the outermost proxy saw. Trusting the left-most one let anyone pick their address and
    step around every per-address limit. With no proxy (the default) only the socket's address counts.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    hops = getattr(settings, "WANGGE_PROXY_HOPS", 0)
    if hops <= 0:
        return remote
    chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    return chain[-hops] if len(chain) >= hops else (chain[0] if chain else remote)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            current_ip.reset(token)


class PermissionsPolicyMiddleware:
    """Adds the Permissions-Policy header (settings.WANGGE_PERMISSIONS_POLICY: feature → allow-list).

    Django sets the other security headers itself (SecurityMiddleware, XFrameOptionsMiddleware) and
    django-csp the Content-Security-Policy; this one header is not covered by either.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        policy: dict[str, list[str]] = getattr(settings, "WANGGE_PERMISSIONS_POLICY", {})
        self.header = ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response
