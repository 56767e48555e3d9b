"""Resident and building pages. Reads go through the registry selectors (scoped to the caller);
the one write here (reveal of a full personal value) goes through registry.services.resident_reveal."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from wangge.accounts.roles import P_REVEAL_PERSONAL, P_VIEW_REGISTER
from wangge.core.errors import NotFound, ServiceError
from wangge.core.http import no_store

from . import display, selectors, services
from .models import KeyGroup

PAGE_SIZE = 30
# Fields that can be revealed, with their labels (the value itself never travels in a URL).
REVEALABLE = {"id_number": _("身份证号"), "phone": _("手机号"), "health_notes": _("健康状况")}


def _get_or_404(getter: Any, **kwargs: Any) -> Any:
    """Out-of-scope and unknown ids look the same: 404."""
    try:
        obj = getter(**kwargs)
    except NotFound:
        raise Http404 from None
    if obj is None:
        raise Http404
    return obj


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required(P_VIEW_REGISTER, raise_exception=True)
def resident_list(request: HttpRequest) -> HttpResponse:
    """Search by name, or by exact ID number / phone; results are masked.

    The form posts, so an ID or phone number never lands in a URL (history, proxy logs, Referer); a
    search by name or tag is redirected to a GET address so that it can be paged and bookmarked. A number
    that arrives in the address anyway is refused, as the API does (same rule): nothing is searched and
    the caller is sent to the bare page, so the number is neither echoed nor passed on as a Referer.
    """
    params = request.POST if request.method == "POST" else request.GET
    q = (params.get("q") or "").strip()
    tag = (params.get("tag") or "").strip()
    number_query = selectors.is_personal_number_query(q)
    if request.method == "POST" and not number_query:
        return redirect(f"{reverse('resident-list')}?{urlencode({'q': q, 'tag': tag})}")
    if number_query and request.method != "POST":
        messages.error(request, _("按身份证号或手机号查询请在查询框中输入后提交，号码不能放在网址中。"))
        return redirect("resident-list")
    searched = bool(q or tag)
    page, rows = None, []
    if searched:
        residents = selectors.resident_search(user=request.user, q=q, tag=tag)
        page = Paginator(residents, PAGE_SIZE).get_page(params.get("page"))
        rows = display.resident_display_many(page.object_list)
    context = {
        # A number query is not echoed back into the page.
        "q": "" if number_query else q,
        "number_query": number_query,
        "tag": tag,
        "searched": searched,
        "page_obj": page,
        "rows": rows,
        "tags": KeyGroup.objects.all(),
    }
    return no_store(render(request, "registry/resident_list.html", context))


@login_required
@permission_required(P_VIEW_REGISTER, raise_exception=True)
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_or_404(selectors.resident_get, user=request.user, pk=pk)
    context = {
        "resident": resident,
        "card": display.resident_card(resident),
        "can_reveal": request.user.has_perm(P_REVEAL_PERSONAL),
    }
    return no_store(render(request, "registry/resident_detail.html", context))


@require_POST
@login_required
@permission_required(P_VIEW_REGISTER, raise_exception=True)
def resident_reveal_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one full personal value: needs permission and a reason; the service writes the audit row.

    Answers with the field's fragment (htmx) or the card page; errors come back as 400/403 with the
    Chinese message in the same fragment.
    """
    resident = _get_or_404(selectors.resident_get, user=request.user, pk=pk)
    field = request.POST.get("field", "")
    reason = (request.POST.get("reason") or "").strip()
    card = display.resident_card(resident)
    context: dict[str, Any] = {"resident": resident, "card": card, "can_reveal": True, "reason": reason}
    status = 200
    if field not in REVEALABLE:
        context["error"] = _("不支持查看该字段。")
        status = 400
    else:
        try:
            context["value"] = services.resident_reveal(
                actor=request.user, resident=resident, field=field, reason=reason
            )
        except ServiceError as exc:
            context["error"] = exc.message
            status = exc.status
    context.update(field=field, f=field, f_label=REVEALABLE.get(field, field), f_masked=_masked(card, field))
    # htmx swaps the field's fragment; without JavaScript the whole card comes back.
    template = (
        "registry/partials/reveal.html"
        if request.headers.get("HX-Request")
        else "registry/resident_detail.html"
    )
    response = render(request, template, context, status=status)
    return no_store(response)


def _masked(card: dict[str, Any], field: str) -> str:
    if field == "health_notes":
        return str(_("已登记（敏感信息）")) if card.get("has_health_notes") else ""
    return str(card.get(field) or "")


@login_required
@permission_required(P_VIEW_REGISTER, raise_exception=True)
def building_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """一幢一册: dwellings by unit and floor, their use, current occupants (masked), plate tags."""
    card = _get_or_404(selectors.building_card, user=request.user, pk=pk)
    return render(request, "registry/building_detail.html", {"card": card, "units": _by_unit_and_floor(card)})


def _by_unit_and_floor(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Dwellings grouped by unit, then by floor from the top down (as the building stands)."""
    units: dict[str, dict[int | None, list[dict[str, Any]]]] = {}
    for d in card["dwellings"]:
        units.setdefault(d["unit"] or "", {}).setdefault(d["floor"], []).append(d)
    out = []
    for unit, floors in units.items():
        order = sorted(floors, key=lambda f: (f is None, -(f or 0)))
        out.append({"unit": unit, "floors": [{"floor": f, "dwellings": floors[f]} for f in order]})
    return out
