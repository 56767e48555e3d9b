"""Pages for signing in and the landing page. No business logic here."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .roles import P_VIEW_TERRITORY


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff go to the map of their territory; party members and residents to their own page."""
    if request.user.has_perm(P_VIEW_TERRITORY):
        return redirect("map")
    return redirect("me")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The "我的" page: the signed-in person's own account (no register access for party members and residents)."""
    return render(request, "accounts/me.html", {"account": request.user})
