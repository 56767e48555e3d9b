"""Casework pages: disputes (矛盾纠纷调解) on the event page and their list, return visits (我的回访), and
registered devices (MQTT 设备).

Views parse, call one service or selector and render; every rule (scope, roles, validation, timeline and
audit rows) lives in disputes.py, services.py and devices.py, whose Chinese errors are shown beside the
form that caused them. Ids outside the caller's territory are 404. Who may use the pages mirrors the
API: disputes and return visits are for working staff (grid worker and up, `STAFF_ROLES`), devices for
accounts with the register permissions the device services check.
"""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from wangge.accounts.roles import P_EDIT_REGISTER, P_VIEW_REGISTER
from wangge.core.errors import Forbidden, NotFound, ServiceError
from wangge.core.http import no_store
from wangge.core.masking import mask_name
from wangge.registry import display as registry_display
from wangge.registry import selectors as registry

from . import display, disputes, selectors, services
from . import forms_casework as cf
from . import views as event_views
from .models import Device, Event, ReturnVisit
from .page_parts import dispute_panel, may_casework
from .sos import devices

if TYPE_CHECKING:
    from wangge.accounts.models import User

PAGE_SIZE = 30
FOUND_MAX = 10  # search results offered when choosing a party or what a device is bound to


# --- helpers ------------------------------------------------------------------------------------


def casework_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in working staff; department handlers, party members and residents get 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_casework(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


def _status(request: HttpRequest, exc: ServiceError) -> int:
    # htmx swaps only 2xx/400/403 answers (base.html): a conflict's message must still reach the form.
    if _htmx(request) and exc.status not in (400, 403):
        return 400
    return exc.status


def _done(request: HttpRequest, url: str, message: str) -> HttpResponse:
    """Success: a message and back to `url`. htmx: HX-Refresh, a reload of the page the form was on, so
    the whole page (timeline, lists) shows the change and the reader keeps their place on it."""
    messages.success(request, message)
    if _htmx(request):
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
        return response
    return redirect(url)


# --- disputes -----------------------------------------------------------------------------------


def _dispute_event_or_404(request: HttpRequest, pk: int) -> Event:
    """An event the user may see that is a dispute; anything else is 404."""
    try:
        event = selectors.event_get(user=request.user, pk=pk)
        disputes.dispute_get(user=request.user, event_id=event.pk)
    except (NotFound, ServiceError):
        raise Http404 from None
    return event


def _panel_response(
    request: HttpRequest, event: Event, panel: dict[str, Any] | None, status: int
) -> HttpResponse:
    """The dispute section again (htmx: only the section; otherwise the whole event page)."""
    if panel is None:
        raise Http404
    if _htmx(request):
        context = {"dispute": panel}
        return no_store(
            render(request, "events/casework/partials/dispute_panel.html", context, status=status)
        )
    context = event_views.detail_context(request, event)
    context["dispute"] = panel
    return no_store(render(request, "events/event_detail.html", context, status=status))


def _dispute_write(
    request: HttpRequest, event: Event, key: str, form: Any, call: Callable[[dict[str, Any]], Any], done: str
) -> HttpResponse:
    error, status = "", 400
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ServiceError as exc:
            error, status = exc.message, _status(request, exc)
        else:
            return _done(request, reverse("event-detail", args=[event.pk]) + "#dispute", done)
    panel = dispute_panel(request, event, key=key, form=form, error=error)
    return _panel_response(request, event, panel, status)


def _party_find(request: HttpRequest, event: Event) -> HttpResponse:
    """Look residents up in the register (POST: an ID or phone number never lands in a URL)."""
    q = (request.POST.get("q") or "").strip()
    initial = {k: request.POST.get(k, "") for k in ("side", "name", "note")}
    form = cf.PartyForm(initial=initial, auto_id="party-%s")
    found: list[dict[str, Any]] | None = None
    error, status = "", 200
    if not q:
        error, status = gettext("请输入居民姓名，或完整的身份证号/手机号"), 400
    else:
        try:
            found = registry_display.resident_display_many(
                registry.resident_search(user=request.user, q=q)[:FOUND_MAX]
            )
        except ServiceError as exc:
            error, status = exc.message, _status(request, exc)
    shown = "" if registry.is_personal_number_query(q) else q
    panel = dispute_panel(request, event, key="party", form=form, error=error, found=found, q=shown)
    return _panel_response(request, event, panel, status)


@require_POST
@casework_required
def dispute_party(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a party (a resident chosen from the search, or a name); `find` searches the register."""
    event = _dispute_event_or_404(request, pk)
    if request.POST.get("find"):
        return _party_find(request, event)
    form = cf.PartyForm(request.POST, auto_id="party-%s")

    def call(d: dict[str, Any]) -> Any:
        return disputes.dispute_party_add(
            actor=request.user,
            event_id=event.pk,
            side=d["side"],
            resident_id=d["resident"],
            name=d["name"],
            note=d["note"],
        )

    return _dispute_write(request, event, "party", form, call, gettext("已登记当事人"))


@require_POST
@casework_required
def dispute_session(request: HttpRequest, pk: int) -> HttpResponse:
    """Record one mediation session."""
    event = _dispute_event_or_404(request, pk)
    form = cf.SessionForm(request.POST, auto_id="session-%s")

    def call(d: dict[str, Any]) -> Any:
        return disputes.mediation_session_add(
            actor=request.user,
            event_id=event.pk,
            held_at=d["held_at"],
            mediator=d["mediator"],
            place=d["place"],
            summary=d["summary"],
        )

    return _dispute_write(request, event, "session", form, call, gettext("已登记调解记录"))


@require_POST
@casework_required
def dispute_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    """Record (or correct) the outcome and the agreement text."""
    event = _dispute_event_or_404(request, pk)
    form = cf.OutcomeForm(request.POST, auto_id="outcome-%s")

    def call(d: dict[str, Any]) -> Any:
        return disputes.dispute_outcome_set(
            actor=request.user,
            event_id=event.pk,
            result=d["result"],
            agreement_text=d["agreement_text"],
            decided_at=d["decided_at"],
        )

    return _dispute_write(request, event, "outcome", form, call, gettext("已保存调解结果"))


@require_http_methods(["GET", "HEAD"])
@casework_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    """Disputes in the user's territory, newest first, with their mediation progress."""
    form = cf.DisputeFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    events = disputes.dispute_list(user=request.user, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = []
    for e in page.object_list:
        outcome = getattr(e, "dispute_outcome", None)
        rows.append(
            {
                "event": e,
                "light": display.traffic_light(e, now),
                "outcome": outcome,
                "outcome_label": gettext(outcome.get_result_display()) if outcome else "",
            }
        )
    context = {"form": form, "page_obj": page, "rows": rows}
    return no_store(render(request, "events/casework/dispute_list.html", context))


# --- return visits ------------------------------------------------------------------------------


def _visit_row(
    visit: ReturnVisit, *, user: Any, now: Any, form: Any = None, error: str = ""
) -> dict[str, Any]:
    return {
        "visit": visit,
        "event": visit.event,
        "mine": visit.assigned_to_id == user.pk,
        "overdue": bool(visit.due and visit.due < now),
        "reporter": display.reporter_display(visit.event),
        "form": form or cf.ReturnVisitForm(auto_id=f"rv{visit.pk}-%s"),
        "error": error,
        "url": reverse("return-visit-complete", args=[visit.pk]),
    }


def _visits_page(
    request: HttpRequest, *, failed: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    user = cast("User", request.user)  # casework_required: signed in
    mine = request.GET.get("mine") == "1"
    visits = selectors.return_visits_open(user=user)
    total = visits.count()
    if mine:
        visits = visits.filter(assigned_to=user)
    page = Paginator(visits, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [_visit_row(v, user=user, now=now) for v in page.object_list]
    if failed is not None:
        row = _visit_row(failed["visit"], user=user, now=now, form=failed["form"], error=failed["error"])
        row["open"] = True
        at = next((i for i, r in enumerate(rows) if r["visit"].pk == failed["visit"].pk), None)
        if at is None:
            rows.insert(0, row)
        else:
            rows[at] = row
    context = {"rows": rows, "page_obj": page, "mine": mine, "total": total}
    return no_store(render(request, "events/casework/return_visits.html", context, status=status))


@require_http_methods(["GET", "HEAD"])
@casework_required
def return_visit_list(request: HttpRequest) -> HttpResponse:
    """我的回访: open return visits assigned to me or on events in my territory, earliest due first."""
    return _visits_page(request)


@require_POST
@casework_required
def return_visit_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete one return visit (and, if the reporter is still not satisfied, reopen the event)."""
    visit = ReturnVisit.objects.select_related("event", "assigned_to").filter(pk=pk).first()
    if visit is None:
        raise Http404
    try:  # the visit is shown again on error: only when its event is one the user may see
        selectors.event_get(user=request.user, pk=visit.event_id)
    except NotFound:
        raise Http404 from None
    form = cf.ReturnVisitForm(request.POST, auto_id=f"rv{visit.pk}-%s")
    error, status = "", 400
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.return_visit_complete(
                visit_id=visit.pk,
                actor=request.user,
                outcome=d["outcome"],
                reopen=d["reopen"],
                reason=d["reason"],
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            error, status = exc.message, _status(request, exc)
        else:
            message = gettext("回访已完成，事件已重新打开") if d["reopen"] else gettext("回访已完成")
            return _done(request, reverse("return-visit-list"), message)
    if _htmx(request):
        row = _visit_row(visit, user=request.user, now=timezone.now(), form=form, error=error)
        row["open"] = True
        return no_store(
            render(request, "events/casework/partials/return_visit.html", {"row": row}, status=status)
        )
    return _visits_page(request, failed={"visit": visit, "form": form, "error": error}, status=status)


# --- devices ------------------------------------------------------------------------------------


def _device_row(device: Device) -> dict[str, Any]:
    return {
        "device": device,
        "kind": gettext(device.get_kind_display()),
        "resident": mask_name(device.resident.name) if device.resident is not None else "",
        "place": device.place.name if device.place is not None else "",
        "building": str(device.building) if device.building_id else "",
    }


@require_http_methods(["GET", "HEAD"])
@login_required
@permission_required(P_VIEW_REGISTER, raise_exception=True)
def device_list(request: HttpRequest) -> HttpResponse:
    """Registered sensors and wearables in the user's territory."""
    form = cf.DeviceFilterForm(request.GET or None)
    q, kind, active = "", "", None
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        q, kind, active = d["q"], d["kind"], {"1": True, "0": False}.get(d["active"])
    try:
        qs = devices.device_list(user=request.user, q=q, kind=kind, active=active)
    except Forbidden:
        raise PermissionDenied from None
    page = Paginator(qs.select_related("resident", "building__compound"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page_obj": page,
        "rows": [_device_row(d) for d in page.object_list],
        "may_edit": request.user.has_perm(P_EDIT_REGISTER),
    }
    return no_store(render(request, "events/casework/device_list.html", context))


def _binding_label(user: Any, kind: str, pk: int) -> str:
    """What a binding points at, as shown in the form (a resident's name masked)."""
    try:
        if kind == "resident":
            r = registry.resident_get(user=user, pk=pk)
            where = f" · {r.building}" if r.building_id else ""
            return f"{gettext('居民')} {mask_name(r.name)}{where}"
        if kind == "place":
            p = registry.place_get(user=user, pk=pk)
            return f"{gettext('场所')} {p.name}{f' · {p.address}' if p.address else ''}"
        b = registry.building_get(user=user, pk=pk)
        return f"{gettext('楼栋')} {b}（{b.code}）"
    except ServiceError:
        return gettext("已选择的对象不在您的辖区内或已删除")


def _binding_search(user: Any, kind: str, q: str) -> list[tuple[str, str]]:
    """(value, label) of the register objects matching `q`, in the user's territory."""
    if kind == "resident":
        return [
            (
                f"resident:{r.pk}",
                f"{gettext('居民')} {mask_name(r.name)}{f' · {r.building}' if r.building_id else ''}",
            )
            for r in registry.resident_search(user=user, q=q)[:FOUND_MAX]
        ]
    if kind == "place":
        return [
            (f"place:{p.pk}", f"{gettext('场所')} {p.name}{f' · {p.address}' if p.address else ''}")
            for p in registry.place_list(user=user, q=q)[:FOUND_MAX]
        ]
    return [
        (f"building:{b.pk}", f"{gettext('楼栋')} {b}（{b.code}）")
        for b in registry.building_list(user=user, q=q).select_related("compound")[:FOUND_MAX]
    ]


def _binding_options(user: Any, selected: str, found: list[tuple[str, str]] | None) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = [{"value": "", "label": gettext("不绑定对象（按下方经纬度定位）")}]
    m = cf.BINDING.match(selected or "")
    if m is not None:
        options.append({"value": selected, "label": _binding_label(user, m.group(1), int(m.group(2)))})
    for value, label in found or []:
        if value != selected:
            options.append({"value": value, "label": label})
    for o in options:
        o["checked"] = o["value"] == (selected if m is not None else "")
    return options


def _device_initial(device: Device) -> dict[str, Any]:
    binding = ""
    for kind in cf.BINDING_KINDS:
        pk = getattr(device, f"{kind}_id")
        if pk:
            binding = f"{kind}:{pk}"
            break
    return {
        "device_id": device.device_id,
        "kind": device.kind,
        "name": device.name,
        "life_safety": "1" if device.life_safety else "0",
        "binding": binding,
        "lat": device.lat,
        "lng": device.lng,
        "active": device.active,
    }


def _device_form_page(request: HttpRequest, *, device: Device | None) -> HttpResponse:
    """Register (device None) or correct a device. `find` looks up what to bind it to, without saving."""
    user = request.user
    editing = device is not None
    initial = _device_initial(device) if device is not None else {}
    template = "events/casework/device_form.html"
    context: dict[str, Any] = {"device": device, "editing": editing, "search_error": ""}
    if request.method != "POST":
        context["form"] = cf.DeviceForm(initial=initial, editing=editing)
        context["options"] = _binding_options(user, initial.get("binding", ""), None)
        return no_store(render(request, template, context))
    form = cf.DeviceForm(request.POST, initial=initial, editing=editing)
    selected = (request.POST.get("binding") or "").strip()
    context["form"] = form
    if request.POST.get("find"):
        # Only a look-up: no validation errors for fields not filled in yet.
        q = (request.POST.get("bind_q") or "").strip()
        kind = request.POST.get("bind_kind") or "resident"
        found, status = None, 200
        if kind not in cf.BINDING_KINDS or not q:
            context["search_error"], status = gettext("请选择类型并输入要查找的名称、编码或地址"), 400
        else:
            try:
                found = _binding_search(user, kind, q)
            except ServiceError as exc:
                context["search_error"], status = exc.message, _status(request, exc)
            else:
                if not found:
                    context["search_error"] = gettext("没有找到，请换个关键词（只查找您辖区内的对象）")
        post = request.POST.copy()
        if registry.is_personal_number_query(q):
            post["bind_q"] = ""  # an ID or phone number is not echoed back into the page
        typed = {**initial, **post.dict()}
        if editing:
            typed["active"] = "active" in post
        context["form"] = cf.DeviceForm(initial=typed, editing=editing)
        context["options"] = _binding_options(user, selected, found)
        return no_store(render(request, template, context, status=status))
    status = 400
    if form.is_valid():
        d = form.cleaned_data
        common = {
            "kind": d["kind"],
            "name": d["name"],
            **d["binding"],
            "lat": d["lat"],
            "lng": d["lng"],
            "life_safety": d["life_safety"],
        }
        try:
            if device is not None:
                devices.device_update(actor=user, device=device, active=d["active"], **common)
            else:
                device = devices.device_register(actor=user, device_id=d["device_id"], **common)
        except ServiceError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            done = gettext("已保存设备 %(id)s") % {"id": device.device_id}
            return _done(request, reverse("device-list"), done)
    context["options"] = _binding_options(user, selected, None)
    return no_store(render(request, template, context, status=status))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required(P_EDIT_REGISTER, raise_exception=True)
def device_new(request: HttpRequest) -> HttpResponse:
    return _device_form_page(request, device=None)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required(P_EDIT_REGISTER, raise_exception=True)
def device_edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        device = devices.device_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    return _device_form_page(request, device=device)
