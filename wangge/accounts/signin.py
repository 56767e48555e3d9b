"""The sign-in steps shared by the login page and the token endpoint.

The password goes through django.contrib.auth.authenticate(request=...), so django-axes (first backend)
counts failures and refuses a locked-out username or address before the password is checked. A wrong
one-time code is reported to axes through the same `user_login_failed` signal, so it counts too. Every
failure is audited here; the lockout answer itself (429) is `lockout.lockout_response`, which axes'
middleware puts in place of the view's answer.
"""

import time
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django_otp import verify_token
from django_otp.models import Device

from . import selectors, services
from .models import User

PAGE, API = "page", "api"
# The password step of the page keeps the account here until its one-time code is entered.
_PENDING = "wangge_otp_pending"
PENDING_SECONDS = 300


def locked_out(request: HttpRequest) -> bool:
    """The attempt just made was refused or counted as the one that locked the username/address."""
    return bool(getattr(request, "axes_locked_out", False))


def record_failure(request: HttpRequest, *, username: str, channel: str, reason: str) -> None:
    """Audit a failure that axes has just counted (it set the request's axes_* attributes)."""
    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, {"username": username}) if settings.AXES_ENABLED else 0
    if locked_out(request) and failures is not None and failures > limit:
        reason = "locked_out"  # refused before the password or code was looked at
    services.login_failure_record(
        username=username,
        channel=channel,
        reason=reason,
        lockout=locked_out(request) and failures == limit,
    )


def password_check(request: HttpRequest, *, username: str, password: str, channel: str) -> Any:
    """The active account for these credentials, or None (failure counted by axes and audited)."""
    user = authenticate(request=request, username=username, password=password)
    if user is None or not user.is_active:
        record_failure(request, username=username, channel=channel, reason="password")
        return None
    return user


def otp_check(request: HttpRequest, *, user: Any, token: str, channel: str) -> Device | None:
    """The confirmed device that accepts `token` for `user`, or None: a wrong code counts as a failed
    sign-in for axes (username and address) and is audited; while locked out no code is tried."""
    credentials = {"username": user.get_username()}
    allowed = not settings.AXES_ENABLED or AxesProxyHandler.is_allowed(request, credentials)
    device = selectors.confirmed_device(user) if allowed else None
    if device is not None:
        # django-otp also throttles the device itself (a growing delay after each wrong code).
        accepted: Device | None = verify_token(user, device.persistent_id, token.strip()[:16])
        if accepted is not None:
            return accepted
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    record_failure(request, username=credentials["username"], channel=channel, reason="otp")
    return None


def pending_set(request: HttpRequest, user: Any, next_url: str) -> None:
    """Remember, in the not yet signed-in session, whose password was right and where to go next."""
    request.session[_PENDING] = {
        "user": user.pk,
        "backend": user.backend,
        "since": time.time(),
        "next": next_url,
    }


def pending_get(request: HttpRequest) -> tuple[Any, str] | None:
    """(account, next url) waiting for its one-time code; None when absent or older than 5 minutes."""
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("since", 0)) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=int(pending.get("user") or 0), is_active=True).first()
    if user is None:
        return None
    user.backend = pending.get("backend", settings.AUTHENTICATION_BACKENDS[-1])
    return user, str(pending.get("next") or "")


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(_PENDING, None)
