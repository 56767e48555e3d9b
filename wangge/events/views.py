"""Event pages: the public 我要说 form and tracking page, the staff intake forms, lists, boards and the
event detail with its actions. Views only parse, call the events services/selectors and render; every
rule (status graph, roles, scope, clocks, idempotency) lives in the services, whose Chinese errors are
shown next to the form that caused them."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from wangge.accounts.roles import Role
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from wangge.core.guards import is_district_admin
from wangge.core.http import no_store
from wangge.core.middleware import client_ip
from wangge.territory.addresses import address_preview

from . import display, forms, selectors, services, sos
from .common import actions, reporter, supervisor_roles
from .models import Channel, Event, Status
from .page_parts import dispute_panel
from .triage import dedupe
from .triage import merge as merge_service
from .workflow import clock, whistle

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from wangge.accounts.models import User

log = logging.getLogger(__name__)
PAGE_SIZE = 30
STAFF = {
    Role.DISTRICT_ADMIN,
    Role.STREET_STAFF,
    Role.COMMUNITY_STAFF,
    Role.GRID_WORKER,
    Role.DEPT_HANDLER,
}
CONFLICT_MESSAGE = _("事件已被他人更新，请刷新")
# Names of the seeded status-graph edges (rows, editable in the admin): extracted for translation of the
# action titles; an edge an installation adds itself keeps its own name.
SEEDED_EDGE_NAMES = (
    gettext_noop("受理"), gettext_noop("不予受理"), gettext_noop("派遣"), gettext_noop("签收"), gettext_noop("退回"),
    gettext_noop("挂起"), gettext_noop("处置反馈"), gettext_noop("上报(本级无法解决)"), gettext_noop("恢复处置"),
    gettext_noop("开始核查"), gettext_noop("核查通过并结案"), gettext_noop("返工"), gettext_noop("评价"),
    gettext_noop("重新打开"),
)  # fmt: skip


# --- helpers ------------------------------------------------------------------------------------


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in staff (any working role); residents and party members get 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not (user.is_superuser or getattr(user, "role", "") in STAFF):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _event_or_404(user: Any, pk: int) -> Event:
    try:
        return selectors.event_get(user=user, pk=pk)
    except NotFound:
        raise Http404 from None


def _message(exc: ServiceError) -> "StrOrPromise":
    if isinstance(exc, Conflict) and exc.code == "version_conflict":
        return CONFLICT_MESSAGE
    return exc.message


def _attach(event: Event, files: list[Any], actor: Any) -> None:
    """Photos sent with a report. They need the intake photo service (see the report to events-core)."""
    if not files:
        return
    add = getattr(services, "event_photos_add", None)
    if add is None:
        log.warning(
            "event %s: %d intake photo(s) not stored (no event_photos_add service)", event.pk, len(files)
        )
        return
    add(event_id=event.pk, actor=actor, files=files)


# --- page helpers (presentation only) -----------------------------------------------------------


def _public_map() -> dict[str, Any]:
    """Outlines of today's grids (no names, no people) so a pin can be placed without map tiles."""
    from shapely.geometry import mapping

    from wangge.territory.locator import grid_index

    features = [
        {"type": "Feature", "geometry": mapping(g.simplify(0.00005)), "properties": {}}
        for g in grid_index().geoms
    ]
    return {"outlines": {"type": "FeatureCollection", "features": features}}


_DT_KEYS = {
    "at", "created_at", "closed_at", "deadline", "warn_at", "started_at", "finished_at", "due", "done_at",
    "reopen_until", "updated_at", "acknowledged_at", "step_deadline",
}  # fmt: skip


def _dates(value: Any) -> Any:
    """Display dicts carry ISO strings (they serve the API too); templates want datetimes."""
    if isinstance(value, dict):
        return {
            k: (parse_datetime(v) or v) if k in _DT_KEYS and isinstance(v, str) else _dates(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def _rows(events: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    return [{"event": e, "light": display.traffic_light(e, now)} for e in events]


def _card(event: Event, *, user: Any) -> dict[str, Any]:
    """What the staff event page shows (display.event_detail: reporter contact masked), plus the
    whistles, extensions, SOS watch, merged reports and likely duplicates."""
    card = _dates(display.event_detail(event, viewer=user))
    for item in [*card["attachments"], *(a for t in card["timeline"] for a in t["attachments"])]:
        item["url"] = reverse("event-attachment", args=[event.pk, item["id"]])
    watch = getattr(event, "sos_watch", None)
    card.update(
        {
            "light": display.traffic_light(event),
            "rating_name": dict(forms.RATING_CHOICES).get(event.rating, event.rating),
            "whistles": whistle.whistle_board(user=user, include_closed=True, event_id=event.pk),
            "extensions": clock.extension_list(user=user, event_id=event.pk),
            "sos": _dates(sos.sos_watch_display(watch)) if watch is not None else None,
            "merged": list(selectors.merged_events(user=user, master=event)),  # scoped for the viewer
            "duplicates": _duplicates(user=user, event=event),
            "point": {"lat": event.lat, "lng": event.lng} if event.lat is not None else None,
            "may_admin": user.is_staff,
        }
    )
    return card


def _duplicates(*, user: Any, event: Event) -> list[dict[str, Any]]:
    """Likely duplicates the caller may see, with their similarity score."""
    if event.status.is_closed or event.master_id:
        return []
    try:
        found = dedupe.duplicate_candidates(user=user, event_id=event.pk)
    except NotFound:
        return []
    return [{"event": e, "score": score, "light": display.traffic_light(e)} for e, score in found]


# The form of each kind of action (the catalogue, `common.actions`, says which actions are offered).
_FORMS: dict[str, Callable[..., Any]] = {
    "accept": lambda **kw: forms.AcceptForm(**kw),
    "reject": lambda **kw: forms.ReasonForm(**kw),
    "escalate": lambda **kw: forms.ReasonForm(**kw),
    "reopen": lambda **kw: forms.ReasonForm(**kw),
    "feedback": lambda **kw: forms.FeedbackForm(**kw),
    "verify": lambda **kw: forms.VerifyForm(**kw),
    "transition": lambda **kw: forms.NoteForm(**kw),
    "extension": lambda **kw: forms.ExtensionRequestForm(**kw),
    "sos_ack": lambda **kw: forms.NoteForm(**kw),
}
_FORM_IDS = {"extension": "ext-%s", "sos_ack": "sos-%s"}


def _actions(*, user: Any, event: Event) -> list[dict[str, Any]]:
    """The forms for what the user may do next: exactly the actions of `actions.event_actions` (edges of
    the status graph, reassign, escalate, whistle, extension, SOS acknowledgement); no rule of its own."""
    out: list[dict[str, Any]] = []
    version = {"version": event.version}
    for action in actions.event_actions(user=user, event=event):
        kind, key = action.kind, action.key
        auto_id = _FORM_IDS.get(kind, f"{key.replace(':', '_')}-%s")
        form: Any
        if kind in {"dispatch", "reassign"}:
            form = forms.DispatchForm(
                initial=version, units=selectors.dispatch_units(event=event), auto_id=auto_id
            )
        elif kind == "whistle":
            form = forms.WhistleForm(units=selectors.whistle_units(event=event), auto_id=auto_id)
        elif kind in {"extension", "sos_ack"}:
            form = _FORMS[kind](auto_id=auto_id)
        else:
            form = _FORMS[kind](initial=version, auto_id=auto_id)
        out.append(
            {
                "key": key,
                "kind": kind,
                "title": gettext(action.title),
                "form": form,
                "requires_note": action.requires_note,
                "error": "",
                "url": reverse("event-act", args=[event.pk, key]),
            }
        )
    return out


# --- public: 我要说 and tracking ----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """我要说: anyone reports a problem (no account). One Idempotency-Key per rendering of the form."""
    if request.method != "POST":
        form = forms.ReportForm(initial={"idem": forms.new_idempotency_key()})
        return no_store(render(request, "events/report.html", {"form": form, **_public_map()}))
    form = forms.ReportForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        d = form.cleaned_data
        anonymous = d["anonymous"]
        data = services.EventInput(
            description=d["description"],
            channel=Channel.RESIDENT,
            category_code=d["category"] or "",
            lat=d["lat"],
            lng=d["lng"],
            address=d["address"] or "",
            anonymous=anonymous or not (d["name"] or d["phone"]),
            reporter_name="" if anonymous else d["name"],
            reporter_phone="" if anonymous else d["phone"],
        )
        try:
            event, created = services.event_intake(
                data=data,
                actor=request.user if request.user.is_authenticated else None,
                idempotency_key=d["idem"] or None,
            )
            if created:
                _attach(event, d["photos"], None)
        except ServiceError as exc:
            form.add_error(None, _message(exc))
            status = exc.status
        else:
            # The reporter's own link (token) is shown here once: it alone lets them confirm and rate.
            link = reverse("track", args=[event.tracking_code])
            context = {
                "event": event,
                "created": created,
                "reporter_url": request.build_absolute_uri(
                    f"{link}?{urlencode({'k': reporter.reporter_token(event)})}"
                ),
            }
            return no_store(
                render(request, "events/report_done.html", context, status=201 if created else 200)
            )
    return no_store(render(request, "events/report.html", {"form": form, **_public_map()}, status=status))


@require_http_methods(["GET", "HEAD"])
@ratelimit(
    key=lambda group, request: client_ip(request),
    rate=lambda group, request: settings.WANGGE_ADDRESS_MATCH_RATE,
    block=False,
)
def address_match(request: HttpRequest) -> HttpResponse:
    """「匹配到：XX小区 3栋（XX网格）」 under the address field of 我要说 and the hotline form (htmx, as
    the address is typed): names only; staff see their own territory's buildings. Throttled per address."""
    if getattr(request, "limited", False):
        return render(request, "events/partials/address_match.html", {"throttled": True}, status=429)
    user = request.user
    staff = bool(user.is_authenticated and (user.is_superuser or getattr(user, "role", "") in STAFF))
    match = address_preview(text=request.GET.get("address", ""), user=user, staff=staff)
    return render(request, "events/partials/address_match.html", {"match": match})


@require_http_methods(["GET", "HEAD", "POST"])
def track_lookup(request: HttpRequest) -> HttpResponse:
    """Type in a tracking code, land on its page."""
    params = request.POST if request.method == "POST" else request.GET
    form = forms.TrackLookupForm(params if "code" in params else None)
    if form.is_bound and form.is_valid():
        return redirect("track", code=form.cleaned_data["code"])
    return render(request, "events/track_lookup.html", {"form": form}, status=400 if form.is_bound else 200)


def _public_or_404(code: str) -> tuple[Event, dict[str, Any]]:
    try:
        event = selectors.event_by_tracking_code(tracking_code=code)
    except NotFound:
        raise Http404 from None
    return event, _dates(display.event_public_display(event))


_WHY_NOT = {
    reporter.TOKEN_INVALID: _("专属链接无效：仍可查看进度，确认或评价请使用提交时获得的完整链接。"),
    "throttled": _("尝试次数过多，请稍后再试。"),
}


def _reporter_page(response: HttpResponse, key: str) -> HttpResponse:
    """Never cached; a page whose URL or forms carry the reporter's token sends only the site's origin as
    Referer, never the path, so the token does not reach another site or this site's logs through a link
    or an image request. Not "no-referrer": browsers then send `Origin: null` with the page's own forms,
    and the CSRF check refuses the reporter's confirm and rating."""
    if key:
        response["Referrer-Policy"] = "strict-origin"
    return no_store(response)


@require_http_methods(["GET", "HEAD"])
def track(request: HttpRequest, code: str) -> HttpResponse:
    """Public tracking page: anonymised progress for anyone with the code. 核查 and 评价 are offered only
    to the reporter: the link with their token (?k=) from the 我要说 done page, or their own account."""
    event, info = _public_or_404(code)
    key = request.GET.get("k", "").strip()[:100]
    may_act, why_not = reporter.reporter_may_act(request, event=event, token=key)
    context = {
        "info": info,
        "rating_form": forms.RatingForm(),
        "verify_form": forms.ReporterVerifyForm(),
        "may_act": may_act,
        "reporter_key": key if may_act else "",
        "key_problem": _WHY_NOT.get(why_not, ""),
    }
    return _reporter_page(render(request, "events/track.html", context), key)


def _track_post(
    request: HttpRequest, code: str, *, form_name: str, act: Callable[[str, dict[str, Any], str], str]
) -> HttpResponse:
    """A reporter's action on the tracking page: `act(tracking_code, cleaned_data, token)` calls the
    service (which refuses anyone but the reporter) and returns the thanks; limits in events.reporter."""
    event, info = _public_or_404(code)
    key = request.POST.get("k", "").strip()[:100]
    bound = {"rating_form": forms.RatingForm, "verify_form": forms.ReporterVerifyForm}
    context: dict[str, Any] = {"info": info, **{name: cls() for name, cls in bound.items()}}
    form = context[form_name] = bound[form_name](request.POST)
    context["may_act"] = bool(key) or reporter.is_reporter_account(request.user, event)
    context["reporter_key"] = key
    status = 400
    if form.is_valid():
        try:
            thanks = reporter.reporter_act(
                request,
                code=event.tracking_code,
                token=key,
                act=lambda: act(event.tracking_code, form.cleaned_data, key),
            )
        except ServiceError as exc:
            form.add_error(None, _message(exc))
            status = exc.status
            if isinstance(exc, Forbidden):
                context["may_act"], context["reporter_key"] = False, ""
        else:
            messages.success(request, thanks)
            url = reverse("track", args=[event.tracking_code])
            # Back to the reporter's own link, so that rating can follow confirming.
            return _reporter_page(redirect(f"{url}?{urlencode({'k': key})}" if key else url), key)
    return _reporter_page(render(request, "events/track.html", context, status=status), key)


@require_POST
def track_verify(request: HttpRequest, code: str) -> HttpResponse:
    """The reporter confirms the handler's result, or says it is not solved (with a reason)."""

    def act(tracking_code: str, d: dict[str, Any], key: str) -> str:
        services.event_verify_by_reporter(
            tracking_code=tracking_code,
            passed=d["passed"],
            note=d["note"],
            reporter_token=key,
            actor=request.user,
        )
        return (
            gettext("感谢确认，事件已办结，请评价。") if d["passed"] else gettext("已退回处置人员继续处理。")
        )

    return _track_post(request, code, form_name="verify_form", act=act)


@require_POST
def track_rate(request: HttpRequest, code: str) -> HttpResponse:
    def act(tracking_code: str, d: dict[str, Any], key: str) -> str:
        services.event_rate(
            tracking_code=tracking_code,
            rating=d["rating"],
            comment=d["comment"],
            reporter_token=key,
            actor=request.user,
        )
        return gettext("感谢您的评价！")

    return _track_post(request, code, form_name="rating_form", act=act)


@login_required
def my_reports(request: HttpRequest) -> HttpResponse:
    """我的上报: the signed-in account's own reports, each with its status, last public step and a link
    to its tracking page, where this account (the reporter) may confirm and rate without the token."""
    events = selectors.my_reports(user=request.user)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = display.reporter_rows(page.object_list)
    return no_store(render(request, "events/my_reports.html", {"page_obj": page, "rows": rows}))


# --- staff intake -------------------------------------------------------------------------------


def _staff_intake(
    request: HttpRequest,
    *,
    form_class: type[Any],
    template: str,
    build: Callable[[dict[str, Any]], tuple[Any, str | None]],
    own_grids: bool = False,
) -> HttpResponse:
    extra = _own_grids(request.user) if own_grids else {}
    if request.method != "POST":
        form = form_class(initial={"idem": forms.new_idempotency_key()})
        return no_store(render(request, template, {"form": form, **_public_map(), **extra}))
    form = form_class(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        data, key = build(form.cleaned_data)
        try:
            event, created = services.event_intake(data=data, actor=request.user, idempotency_key=key)
            if created:
                _attach(event, form.cleaned_data.get("photos") or [], request.user)
        except ServiceError as exc:
            form.add_error(None, _message(exc))
            status = exc.status
        else:
            if created:
                messages.success(request, gettext("已登记，查询码 %(code)s") % {"code": event.tracking_code})
            else:
                messages.info(
                    request,
                    gettext("该事件已登记过（查询码 %(code)s），未重复创建") % {"code": event.tracking_code},
                )
            return redirect("event-detail", pk=event.pk)
    return no_store(render(request, template, {"form": form, **_public_map(), **extra}, status=status))


def _own_grids(user: Any) -> dict[str, Any]:
    """The worker's own grids (named, scoped) for the patrol map to open on: a grid worker their grid,
    community staff their community's grids; wider roles keep the whole district's outlines."""
    from wangge.territory.selectors import grid_feature_collection

    territory = getattr(user, "territory", None)
    if territory is None or territory.level not in ("grid", "community"):
        return {}
    return {"focus": grid_feature_collection(user=user)}


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def hotline_new(request: HttpRequest) -> HttpResponse:
    """12345 operator: one work order. The work-order number makes a retry land on the same event."""

    def build(d: dict[str, Any]) -> tuple[Any, str | None]:
        data = services.EventInput(
            description=d["description"],
            channel=Channel.HOTLINE,
            event_type=d["event_type"],
            urgency=d["urgency"],
            category_code=d["category"] or "",
            lat=d["lat"],
            lng=d["lng"],
            address=d["address"] or "",
            anonymous=d["anonymous"],
            reporter_name="" if d["anonymous"] else d["caller"],
            reporter_phone="" if d["anonymous"] else d["phone"],
            external_id=(d["work_order"] or "").strip() or None,
            extra={"work_order": (d["work_order"] or "").strip()} if d["work_order"] else {},
        )
        return data, d["idem"] or None

    return _staff_intake(
        request, form_class=forms.HotlineForm, template="events/hotline_form.html", build=build
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def patrol_new(request: HttpRequest) -> HttpResponse:
    """Grid worker's finding on patrol: camera photo and GPS (WGS-84 from the browser)."""

    def build(d: dict[str, Any]) -> tuple[Any, str | None]:
        data = services.EventInput(
            description=d["description"],
            channel=Channel.PATROL,
            urgency=d["urgency"],
            category_code=d["category"] or "",
            lat=d["lat"],
            lng=d["lng"],
            address=d["address"] or "",
            anonymous=True,
            extra={"crs": "wgs84", "source": "gps"} if d["lat"] is not None else {},
        )
        return data, d["idem"] or None

    return _staff_intake(
        request, form_class=forms.PatrolForm, template="events/patrol_form.html", build=build, own_grids=True
    )


# --- staff lists and boards ---------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@staff_required
def map_events(request: HttpRequest) -> HttpResponse:
    """Open events the caller may see, for the grid map (GeoJSON points, newest first, bounded;
    `total` says how many there are, `shown` how many came). ?bbox=w,s,e,n narrows to the map's view."""
    from wangge.territory.mapdata import parse_bbox

    try:
        bbox = parse_bbox(request.GET.get("bbox"))
    except InvalidInput as exc:
        return JsonResponse({"code": exc.code, "message": str(exc.message), "details": {}}, status=400)
    rows, total = selectors.map_events(user=request.user, bbox=bbox, limit=selectors.MAP_MAX_EVENTS)
    now = timezone.now()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [e.lng, e.lat]},
            "properties": {
                "id": e.pk,
                "title": e.title,
                "status": e.status.name,
                "light": display.traffic_light(e, now) or "green",  # the lists' traffic light
                "url": reverse("event-detail", args=[e.pk]),
            },
        }
        for e in rows
    ]
    return no_store(
        JsonResponse({"type": "FeatureCollection", "features": features, "total": total, "shown": len(rows)})
    )


@staff_required
def event_list(request: HttpRequest) -> HttpResponse:
    form = forms.EventFilterForm(
        request.GET or None, statuses=Status.objects.order_by("sort"), channels=Channel.choices
    )
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    events = selectors.event_list(user=request.user, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "events/event_list.html",
        {"form": form, "page_obj": page, "rows": _rows(page.object_list)},
    )


@staff_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    events = selectors.my_tasks(user=request.user)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))  # most urgent first
    user = cast("User", request.user)  # staff_required: signed in
    visits = selectors.return_visits_open(user=user).filter(assigned_to=user).count()
    context = {"page_obj": page, "rows": _rows(page.object_list), "visits": visits}
    return render(request, "events/tasks.html", context)


@staff_required
def triage(request: HttpRequest) -> HttpResponse:
    events = selectors.triage_queue(user=request.user)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _rows(page.object_list)
    duplicates = dedupe.likely_duplicates_visible(user=request.user, events=[r["event"] for r in rows])
    for row in rows:
        row["duplicate"] = duplicates.get(row["event"].pk)
        row["accept_form"] = forms.AcceptForm(
            initial={
                "category": row["event"].suggested_category.code if row["event"].suggested_category else ""
            },
            auto_id=f"tri{row['event'].pk}_%s",
        )
        row["reject_form"] = forms.ReasonForm(auto_id=f"rej{row['event'].pk}_%s")
    return render(request, "events/triage.html", {"page_obj": page, "rows": rows})


@staff_required
def overdue(request: HttpRequest) -> HttpResponse:
    """Yellow and red events, grouped by grid (red first within each grid)."""
    groups: dict[Any, dict[str, Any]] = {}
    for row in _rows(selectors.overdue_board(user=request.user)[:1000]):
        e = row["event"]
        g = groups.setdefault(
            e.grid_id,
            {"name": e.grid.name if e.grid else gettext("未定位到网格"), "rows": [], "red": 0, "yellow": 0},
        )
        g["rows"].append(row)
        g["red" if row["light"] == "red" else "yellow"] += 1
    ordered = sorted(groups.values(), key=lambda g: (-g["red"], -g["yellow"], g["name"]))
    for g in ordered:
        g["rows"].sort(key=lambda r: r["light"] != "red")
    context = {
        "groups": ordered,
        "red_total": sum(g["red"] for g in ordered),
        "yellow_total": sum(g["yellow"] for g in ordered),
    }
    return render(request, "events/overdue.html", context)


@staff_required
def whistles(request: HttpRequest) -> HttpResponse:
    board = whistle.whistle_board(user=request.user)
    return render(request, "events/whistles.html", {"board": board})


# --- event detail and actions -------------------------------------------------------------------


def detail_context(
    request: HttpRequest, event: Event, failed: dict[str, Any] | None = None
) -> dict[str, Any]:
    actions = _actions(user=request.user, event=event)
    action_error = ""
    for a in actions:
        if failed and a["key"] == failed["key"]:
            a["form"], a["error"], a["open"] = failed["form"], failed["error"], True
            break
    else:
        if failed:  # the action is no longer offered (the event moved on): say why above the actions
            action_error = failed["error"] or gettext("该操作当前不可用，请刷新")
    user = cast("User", request.user)  # staff pages only: signed in
    return {
        "action_error": action_error,
        **(_public_map() if event.lat is not None else {}),
        "event": event,
        "card": _card(event, user=user),
        "actions": actions,
        "my_units": set(user.handling_units.values_list("pk", flat=True)),
        "may_decide": user.is_superuser or getattr(user, "role", "") in supervisor_roles(),
        "dispute": dispute_panel(request, event),
    }


@staff_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event_or_404(request.user, pk)
    return no_store(render(request, "events/event_detail.html", detail_context(request, event)))


def _run_action(request: HttpRequest, event: Event, key: str) -> tuple[Any, Callable[[], Any] | None]:
    """Bind the action's form and return (form, call); `call` runs the service (None: the form is invalid).
    The page's version travels with every form, so acting on a stale page is refused by the service."""
    user, post, files = request.user, request.POST, request.FILES
    eid = event.pk
    kind, _, target = key.partition(":")
    form: Any
    if kind == "accept":
        form = forms.AcceptForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: services.event_accept(
            event_id=eid,
            actor=user,
            category_code=d["category"] or None,
            urgency=d["urgency"] or None,
            note=d["note"],
            expected_version=d["version"],
        )
    if kind in {"reject", "escalate", "reopen"}:
        form = forms.ReasonForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        fn = {
            "reject": services.event_reject,
            "escalate": services.event_escalate,
            "reopen": services.event_reopen,
        }[kind]
        return form, lambda: fn(event_id=eid, actor=user, reason=d["reason"], expected_version=d["version"])
    if kind in {"dispatch", "reassign"}:
        form = forms.DispatchForm(post, units=selectors.dispatch_units(event=event))
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        unit_id = d["unit"].pk if d["unit"] else None
        if kind == "reassign":
            return form, lambda: services.event_reassign(
                event_id=eid,
                actor=user,
                reason=d["reason"] or "",
                unit_id=unit_id,
                user_id=d["user"],
                expected_version=d["version"],
            )
        return form, lambda: services.event_dispatch(
            event_id=eid,
            actor=user,
            unit_id=unit_id,
            user_id=d["user"],
            reason=d["reason"] or "",
            expected_version=d["version"],
        )
    if kind == "feedback":
        form = forms.FeedbackForm(post, files)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: services.event_feedback(
            event_id=eid, actor=user, note=d["note"], files=d["photos"], expected_version=d["version"]
        )
    if kind == "verify":
        form = forms.VerifyForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: services.event_verify(
            event_id=eid, actor=user, passed=d["passed"], note=d["note"], expected_version=d["version"]
        )
    if kind == "transition":
        form = forms.NoteForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: services.event_transition(
            event_id=eid, target=target, actor=user, note=d["note"], expected_version=d["version"]
        )
    if kind == "whistle":
        form = forms.WhistleForm(post, units=selectors.whistle_units(event=event))
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: whistle.whistle_blow(
            event_id=eid, actor=user, unit_ids=[u.pk for u in d["units"]], note=d["note"]
        )
    if kind == "summon_ack":
        if not target.isdigit():
            raise Http404
        return forms.NoteForm(post), lambda: whistle.whistle_acknowledge(summon_id=int(target), actor=user)
    if kind == "extension":
        form = forms.ExtensionRequestForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: clock.extension_request(
            event_id=eid, actor=user, amount=d["amount"], unit=d["unit"], reason=d["reason"]
        )
    if kind == "extension_decide":
        form = forms.ExtensionDecideForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: clock.extension_decide(
            request_id=d["extension"], actor=user, approve=d["approve"], note=d["note"]
        )
    if kind == "sos_ack":
        form = forms.NoteForm(post)
        if not form.is_valid():
            return form, None
        d = form.cleaned_data
        return form, lambda: sos.sos_acknowledge(event_id=eid, actor=user, note=d["note"])
    raise Http404


@require_POST
@staff_required
def event_act(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """One action on one event (POST). Success: back to the event page (htmx: HX-Redirect). Failure: the
    same form with the Chinese error beside it (htmx: only that form's fragment)."""
    event = _event_or_404(request.user, pk)
    form, call = _run_action(request, event, key)
    error: StrOrPromise = ""
    status = 400
    if call is not None:
        try:
            if key in actions.NAMED_KEYS or key.startswith("transition:"):
                # Only what the page offers is taken (the same catalogue the services enforce).
                actions.action_require(user=request.user, event=event, key=key)
            call()
        except ServiceError as exc:
            error, status = _message(exc), exc.status
            posted = request.POST.get("version", "")
            if isinstance(exc, Conflict) and posted.isdigit() and int(posted) != event.version:
                # The page was stale: somebody else moved the event first; that is the real reason.
                error = CONFLICT_MESSAGE if error == CONFLICT_MESSAGE else f"{CONFLICT_MESSAGE}（{error}）"
            if isinstance(exc, NotFound):
                raise Http404 from None
        else:
            messages.success(request, gettext("操作成功"))
            url = reverse("event-detail", args=[pk])
            back = request.POST.get("next", "")
            if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
                url = back
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=200)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    event = _event_or_404(request.user, pk)
    failed = {"key": key, "form": form, "error": error}
    context = detail_context(request, event, failed)
    if request.headers.get("HX-Request"):
        action = next((a for a in context["actions"] if a["key"] == key), None) or {
            "key": key,
            "kind": "gone",
            "title": gettext("操作"),
            "error": context["action_error"],
            "url": reverse("event-act", args=[pk, key]),
        }
        return no_store(
            render(request, "events/partials/action.html", {"event": event, "a": action}, status=status)
        )
    return no_store(render(request, "events/event_detail.html", context, status=status))


@staff_required
def dispatch_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """「谁会收到？」 dry run of the dispatch rules (htmx fragment)."""
    event = _event_or_404(request.user, pk)
    try:
        result = services.dispatch_resolve(event=event)
        error = ""
    except ServiceError as exc:
        result, error = None, exc.message
    return render(request, "events/partials/dispatch_preview.html", {"result": result, "error": error})


@staff_required
def attachment(request: HttpRequest, pk: int, aid: int) -> FileResponse:
    """A photo of an event, only for staff who may see the event (never a public media URL)."""
    event = _event_or_404(request.user, pk)
    att = event.attachments.filter(pk=aid).first()
    if att is None:
        raise Http404
    response = FileResponse(att.file.open("rb"), content_type=att.content_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge screen: likely duplicates of this event, side by side; the chosen ones follow this master."""
    event = _event_or_404(request.user, pk)
    candidates = _duplicates(user=request.user, event=event)
    events = [c["event"] for c in candidates]
    status = 200
    if request.method == "POST":
        form = forms.MergeForm(request.POST, candidates=events)
        status = 400
        if form.is_valid():
            try:
                merge_service.event_merge(
                    master_id=event.pk,
                    duplicate_ids=[int(x) for x in form.cleaned_data["duplicates"]],
                    actor=request.user,
                    note=form.cleaned_data["note"],
                )
            except ServiceError as exc:
                form.add_error(None, _message(exc))
                status = exc.status
            else:
                messages.success(request, gettext("已合并"))
                return redirect("event-detail", pk=event.pk)
    else:
        form = forms.MergeForm(candidates=events)
    context = {"event": event, "candidates": candidates, "form": form}
    return no_store(render(request, "events/merge.html", context, status=status))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def history_import(request: HttpRequest) -> HttpResponse:
    """District admins: upload an older system's closed cases (.xlsx/.csv); show counts and row errors."""
    if not is_district_admin(request.user):
        raise PermissionDenied
    result, error, status = None, "", 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, status = gettext("请选择要导入的文件"), 400
        else:
            try:
                result = services.history_import(
                    actor=request.user, file=upload, crs=request.POST.get("crs") or "wgs84"
                ).as_dict()
            except ServiceError as exc:
                error, status = str(_message(exc)), exc.status
    context = {"result": result, "error": error}
    return no_store(render(request, "events/history_import.html", context, status=status))
