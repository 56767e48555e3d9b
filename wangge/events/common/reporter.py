"""Who may act as an event's reporter (核查 and 评价 on the tracking page and /api/v1/track/).

The tracking code is public (Open311 lists it), so it only lets you look. Acting needs either the
reporter's secret — a token only the reporter was given, in the link on the 我要说 done page and in the
report API's answer to the reporter — or the signed-in account that filed the report (not a staff account
that registered it for someone else).

The token is an HMAC under SECRET_KEY with its own salt over the event's id and tracking code: nothing is
stored, nothing to migrate; a SECRET_KEY rotated with SECRET_KEY_FALLBACKS keeps old links working.

Attempts are rate limited with django-ratelimit counters in the default cache (settings.CACHES; set
WANGGE_CACHE_URL to Redis or memcached when several processes serve the site, so they share counts).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac
from django_ratelimit.core import get_usage

from wangge.accounts.roles import STAFF_ROLES, Role
from wangge.core.errors import Forbidden, ServiceError
from wangge.core.middleware import client_ip

from ..models import Event

T = TypeVar("T")

_SALT = "wangge.events.reporter.token"
_TOKEN_LENGTH = 32  # hex characters: 128 bits
# Accounts that file reports for other people (hotline, patrol) or handle them: they never rate or
# confirm in the reporter's name.
_NOT_REPORTERS = {*STAFF_ROLES, Role.DEPT_HANDLER}

# Error codes (not secrets).
TOKEN_REQUIRED = "reporter_token_required"  # noqa: S105
TOKEN_INVALID = "reporter_token_invalid"  # noqa: S105


class TooManyAttempts(ServiceError):
    status = 429
    default_code = "throttled"


def _token(event: Event, secret: str) -> str:
    value = f"{event.pk}:{event.tracking_code}"
    return salted_hmac(_SALT, value, secret=secret, algorithm="sha256").hexdigest()[:_TOKEN_LENGTH]


def reporter_token(event: Event) -> str:
    """The reporter's secret for this event (give it only to the reporter)."""
    return _token(event, settings.SECRET_KEY)


def reporter_token_ok(event: Event, token: str | None) -> bool:
    """Whether `token` is this event's reporter secret (constant-time; old SECRET_KEYs still accepted)."""
    token = (token or "").strip().lower()
    if len(token) != _TOKEN_LENGTH:
        return False
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(constant_time_compare(token, _token(event, s)) for s in secrets)


def is_reporter_account(user: Any, event: Event) -> bool:
    """The signed-in account that filed this report itself (residents, party members, API clients)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and event.reporter_user_id is not None
        and event.reporter_user_id == user.pk
        and getattr(user, "role", "") not in _NOT_REPORTERS
    )


def reporter_authorise(*, event: Event, token: str | None, actor: Any) -> None:
    """Forbidden unless the caller is the reporter (their account, or their token)."""
    if is_reporter_account(actor, event):
        return
    if not (token or "").strip():
        raise Forbidden(
            "只有反映人本人可以确认或评价：请打开提交时获得的专属链接，或登录提交时使用的账号",
            code=TOKEN_REQUIRED,
        )
    if not reporter_token_ok(event, token):
        raise Forbidden("专属链接无效，请使用提交时获得的完整链接", code=TOKEN_INVALID)


# --- rate limits ---------------------------------------------------------------------------------------


def _ip(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _count(request: HttpRequest, group: str, key: Any, rate: str, *, increment: bool) -> bool:
    """Whether the counter `group`/`key` has reached its limit (`increment`: count this attempt first)."""
    usage = get_usage(request, group=group, key=key, rate=rate, increment=increment)
    if usage is None:  # RATELIMIT_ENABLE = False
        return False
    # django-ratelimit limits above the limit once incremented; a bare check stops at the limit.
    return bool(usage["should_limit"] if increment else usage["count"] >= usage["limit"])


def _code_key(code: str) -> Callable[[str, HttpRequest], str]:
    # django-ratelimit hashes the key into the cache key: the code itself is not stored.
    return lambda group, request: code.strip().upper()


def _too_many() -> TooManyAttempts:
    return TooManyAttempts("尝试次数过多，请稍后再试", code="throttled")


def _address_blocked(request: HttpRequest) -> bool:
    """Too many wrong tokens lately from this address: no token from it is tried until the window ends."""
    return _count(request, "reporter-token-fail-ip", _ip, settings.WANGGE_REPORTER_FAIL_RATE, increment=False)


def _code_blocked(request: HttpRequest, code: str) -> bool:
    """Too many wrong tokens lately for this tracking code, from anywhere. Wrong tokens for it are then
    answered 429, but the right one still works: the code is public, and blocking the right token would
    let anyone who read it in the Open311 list keep the reporter from confirming or rating."""
    return _count(
        request,
        "reporter-token-fail-code",
        _code_key(code),
        settings.WANGGE_REPORTER_CODE_FAIL_RATE,
        increment=False,
    )


def _token_failed(request: HttpRequest, code: str) -> None:
    _count(request, "reporter-token-fail-ip", _ip, settings.WANGGE_REPORTER_FAIL_RATE, increment=True)
    _count(
        request,
        "reporter-token-fail-code",
        _code_key(code),
        settings.WANGGE_REPORTER_CODE_FAIL_RATE,
        increment=True,
    )


def reporter_act(request: HttpRequest, *, code: str, token: str | None, act: Callable[[], T]) -> T:
    """Run a reporter's action (`act` calls the service, which checks the token or account) within the
    limits: every action counts per address; a wrong token counts per address and per tracking code.
    Past the address limit no token from that address is tried; past the code limit a wrong token is
    answered 429 while the right one still acts (`_code_blocked`)."""
    if _count(request, "reporter-act-ip", _ip, settings.WANGGE_REPORTER_ACTION_RATE, increment=True):
        raise _too_many()
    given = bool((token or "").strip())
    if given and _address_blocked(request):
        raise _too_many()
    code_blocked = given and _code_blocked(request, code)
    try:
        return act()
    except Forbidden as exc:
        if exc.code == TOKEN_INVALID:
            _token_failed(request, code)
            if code_blocked:
                raise _too_many() from exc
        raise


def reporter_may_act(request: HttpRequest, *, event: Event, token: str | None) -> tuple[bool, str]:
    """For the tracking page: (may act, why not) where why not is "", TOKEN_INVALID or "throttled".
    A token in the link is checked within the same limits as the actions (the page shows whether it is
    right, so it must not become a free oracle)."""
    if is_reporter_account(request.user, event):
        return True, ""
    if not (token or "").strip():
        return False, ""
    code = event.tracking_code
    if _address_blocked(request):
        return False, "throttled"
    if reporter_token_ok(event, token):
        return True, ""
    blocked = _code_blocked(request, code)
    _token_failed(request, code)
    return False, "throttled" if blocked else TOKEN_INVALID
