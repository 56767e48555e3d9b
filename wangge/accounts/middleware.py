"""Second factor for signed-in sessions (after django-otp's OTPMiddleware).

- an account with a confirmed device whose session never passed the code (for instance signed in
  through a login form other than the site's; the admin's stock form is not served) is signed out and sent to the login page;
- an account whose role requires a device (RolePolicy.otp_required) and has none is sent to enrolment
  before anything else; session API calls get 403 {"code": "otp_enrolment_required"}.
Token-authenticated API calls are checked when the token is issued (api/views.py)."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .selectors import second_factor

ENROL_CODE = "otp_enrolment_required"
ENROL_MESSAGE = "该角色须使用动态口令登录：请先在网页“我的 → 动态口令”中绑定验证器。"
VERIFY_CODE = "otp_required"
VERIFY_MESSAGE = "该账号已启用动态口令，请重新登录并输入验证器上的 6 位数字。"


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open: tuple[str, ...] | None = None

    def _is_open(self, path: str) -> bool:
        """Pages an account may reach before its second factor is settled."""
        if self._open is None:
            names = ("login", "login-otp", "logout", "otp-setup", "set_language")
            self._open = (*(reverse(n) for n in names), settings.STATIC_URL or "/static/")
        return path in self._open[:-1] or path.startswith(self._open[-1])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key is None:
            # No session cookie: AuthenticationMiddleware can only give AnonymousUser. Token-authenticated
            # API calls all come this way; reading request.user would load the empty session and
            # evaluate both lazy users (auth's, OTPMiddleware's) for nothing (~1.5% of a detail GET).
            return self.get_response(request)
        user = request.user
        # OTPMiddleware gave the user is_verified(): the session passed the one-time code.
        verified = getattr(user, "is_verified", lambda: False)()
        if user.is_authenticated and not verified and not self._is_open(request.path_info):
            factor = second_factor(user)
            api = request.path_info.startswith("/api/")
            if factor.enrolled:
                logout(request)
                if api:
                    return JsonResponse({"code": VERIFY_CODE, "message": VERIFY_MESSAGE}, status=401)
                return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
            if factor.required:
                if api:
                    return JsonResponse({"code": ENROL_CODE, "message": ENROL_MESSAGE}, status=403)
                return redirect("otp-setup")
        return self.get_response(request)
