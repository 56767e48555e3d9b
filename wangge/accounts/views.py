"""Pages for signing in (password, then the one-time code when the account has a device), second-factor
enrolment and the landing page. No business logic here: the steps are in `signin`, writes in services."""

from base64 import b32encode
from typing import Any, cast

import segno
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from wangge.core.errors import ServiceError

from . import selectors, services, signin
from .models import User
from .roles import P_VIEW_TERRITORY, Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's first page: a department handler their own queue (我的任务, by deadline, with the
    traffic light); other staff the map of their territory; a resident their own reports (我的上报);
    party members their own page."""
    user = request.user
    role = "" if user.is_superuser else getattr(user, "role", "")
    if role == Role.DEPT_HANDLER:
        return redirect("event-tasks")
    if user.has_perm(P_VIEW_TERRITORY):
        return redirect("map")
    if role == Role.RESIDENT:
        return redirect("my-reports")
    return redirect("me")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The "我的" page: the signed-in person's own account (no register access for party members and residents)."""
    return render(request, "accounts/me.html", {"account": request.user})


class LoginView(auth_views.LoginView):
    """Step 1: username and password (axes refuses a locked-out username or address); accounts with a
    confirmed device continue to step 2 (`login_otp`) instead of being signed in."""

    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        if form.non_field_errors():  # authenticate() ran and refused (fields were filled in)
            signin.record_failure(
                self.request, username=form.data.get("username", ""), channel=signin.PAGE, reason="password"
            )
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if selectors.second_factor(user).enrolled:
            signin.pending_set(self.request, user, self.get_success_url())
            return redirect("login-otp")
        return super().form_valid(form)


def login_otp(request: HttpRequest) -> HttpResponse:
    """Step 2: the one-time code of the account whose password was right a moment ago."""
    pending = signin.pending_get(request)
    if pending is None:
        return redirect("login")
    user, next_url = pending
    error = ""
    if request.method == "POST":
        device = signin.otp_check(
            request, user=user, token=request.POST.get("otp_token", ""), channel=signin.PAGE
        )
        if device is not None:
            signin.pending_clear(request)
            auth_login(request, user)
            otp_login(request, device)
            safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure())
            return redirect(next_url if next_url and safe else "home")
        error = "动态口令不正确或已过期，请输入验证器上当前显示的 6 位数字。"
    return render(request, "registration/login_otp.html", {"error": error})


def _qr_context(device: Any) -> dict[str, Any]:
    # Drawn here as an SVG data URI (no CDN, no inline script or style for the CSP); the secret as text
    # too, in groups of four, for apps that cannot scan.
    qr = segno.make(device.config_url, error="m")
    scale = 5
    secret = b32encode(device.bin_key).decode()
    return {
        "qr_data_uri": qr.svg_data_uri(scale=scale),
        "qr_size": qr.symbol_size(scale=scale)[0],
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP authenticator for the signed-in account: QR code and secret, then one code to confirm."""
    account = cast(User, request.user)  # login_required
    factor = selectors.second_factor(account)
    context: dict[str, Any] = {"enrolled": factor.enrolled, "required": factor.required, "error": ""}
    if factor.enrolled:
        return render(request, "accounts/otp_setup.html", context)
    if request.method == "POST":
        try:
            device = services.otp_device_confirm(actor=account, token=request.POST.get("otp_token", ""))
        except ServiceError as e:
            context["error"] = e.message
        else:
            otp_login(request, device)
            messages.success(request, "动态口令已绑定，以后登录时须输入验证器上的 6 位数字。")
            return redirect("home")
    try:
        device = services.otp_device_begin(actor=account)
    except ServiceError as e:  # confirmed meanwhile (another tab)
        messages.info(request, e.message)
        return redirect("otp-setup")
    context.update(_qr_context(device))
    return render(request, "accounts/otp_setup.html", context, status=400 if context["error"] else 200)
