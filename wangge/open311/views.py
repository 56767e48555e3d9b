"""Open311 GeoReport v2 endpoints under /open311/v2/ (plain Django views: the spec's own error format
and content types, outside the /api/v1/ conventions and the OpenAPI schema; see docs in each view).

Every resource ends in .xml or .json; any other extension, unknown path or id is a 404 error document.
GET methods are public; POST requests and POST servicerequestupdates need an api_key (403 otherwise). Errors are the spec's list of
{code, description} with the HTTP status as code.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import resolve, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from wangge.core.errors import ServiceError
from wangge.core.nul import MESSAGE as NUL_MESSAGE
from wangge.core.nul import has_nul
from wangge.events.common.reporter import reporter_token

from . import selectors, services
from .formats import FORMATS, render, render_errors

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-07T00:00:00+08:00"  # when this implementation's interface last changed
MAX_SPAN = timedelta(days=90)

View = Callable[..., HttpResponse]


def _param(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name) if request.method == "POST" else None
    return (value if value is not None else request.GET.get(name, "")).strip()


def open311(*methods: str, jurisdiction: bool = True) -> Callable[[View], View]:
    """Format check, allowed methods, jurisdiction check, and ServiceError -> the spec's error document."""

    def decorate(fn: View) -> View:
        @csrf_exempt
        @wraps(fn)
        def view(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            if fmt not in FORMATS:
                return render_errors("xml", 404, [f"不支持的格式“.{fmt[:10]}”，请使用 .xml 或 .json"])
            allowed = (*methods, "HEAD") if "GET" in methods else methods
            if request.method not in allowed:
                response = render_errors(fmt, 405, [f"该资源不支持 {request.method} 请求"])
                response["Allow"] = ", ".join(methods)
                return response
            # NUL cannot be stored (PostgreSQL); core.nul leaves /open311/ to answer in the spec's format.
            if has_nul(request.GET) or (request.method == "POST" and has_nul(request.POST)):
                return render_errors(fmt, 400, [NUL_MESSAGE])
            try:
                if jurisdiction:
                    services.check_jurisdiction(_param(request, "jurisdiction_id"))
                return fn(request, fmt, **kwargs)
            except services.Open311Errors as exc:
                return render_errors(fmt, 400, exc.messages)
            except ServiceError as exc:
                status = exc.status if exc.status in (400, 403, 404) else 400
                return render_errors(fmt, status, [exc.message])

        return view

    return decorate


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Anything under /open311/v2/ that is not a resource of the spec."""
    fmt = "json" if rest.endswith(".json") else "xml"
    return render_errors(fmt, 404, ["请求的资源不存在"])


@csrf_exempt
def extra_slashes(request: HttpRequest, rest: str) -> HttpResponse:
    """…/v2//services.xml (a client appending "/services.xml" to a slash-terminated endpoint URL): the
    resource without the extra slashes, answered in place (no redirect: a POST would lose its body)."""
    base = request.path_info[: len(request.path_info) - len(rest)].rstrip("/")
    match = resolve(f"{base}/{rest.lstrip('/')}")
    return match.func(request, *match.args, **match.kwargs)


@open311("GET", jurisdiction=False)
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """Service discovery: where the GeoReport v2 endpoint is and which formats it speaks."""
    data = {
        "changeset": CHANGESET,
        "contact": settings.WANGGE_OPEN311_CONTACT or "请联系本平台管理员",
        "key_service": "api_key 由平台管理员签发（wangge open311-key create --name 客户端名称）",
        "endpoints": [
            {
                "specification": SPEC_URL,
                # Without the trailing slash: clients append "/services.xml" and the like (urls.py).
                "url": request.build_absolute_uri(reverse("open311-discovery", args=["xml"])).rsplit("/", 1)[
                    0
                ],
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", data)


@open311("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET services: active leaf categories (service_code = category code, group = parent name)."""
    return render(fmt, "services", selectors.service_list())


@open311("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    """GET services/{service_code}: the attributes POST requests accepts for this service."""
    category = selectors.service_find(code)
    if category is None:
        return render_errors(fmt, 404, [f"service_code “{code[:32]}” 不存在"])
    return render(fmt, "service_definition", selectors.service_definition(category))


def _window(request: HttpRequest, default: timedelta) -> tuple[datetime, datetime]:
    """start_date/end_date (W3C date-times); at most 90 days; defaults to the last `default`."""
    problems = []
    parsed: dict[str, datetime | None] = {}
    for name in ("start_date", "end_date"):
        raw = _param(request, name)
        parsed[name] = services.parse_w3(raw) if raw else None
        if raw and parsed[name] is None:
            problems.append(f"{name} 不是有效的 ISO 8601 日期时间（如 2025-10-01T00:00:00+08:00）")
    if problems:
        raise services.Open311Errors(problems)
    start, end = parsed["start_date"], parsed["end_date"]
    if start is None and end is None:
        end = timezone.now()
        start = end - default
    elif start is None:
        assert end is not None
        start = end - min(default, MAX_SPAN)
    elif end is None:
        end = start + min(default, MAX_SPAN)
    if start > end:
        raise services.Open311Errors(["start_date 不能晚于 end_date"])
    if end - start > MAX_SPAN:
        raise services.Open311Errors(["start_date 与 end_date 的间隔不能超过90天"])
    return start, end


def _list(request: HttpRequest, name: str) -> list[str]:
    return [v.strip() for v in _param(request, name).split(",") if v.strip()]


@csrf_exempt
def requests_resource(request: HttpRequest, fmt: str) -> HttpResponse:
    """requests.{fmt}: GET lists service requests, POST creates one."""
    if fmt in FORMATS and request.method not in ("GET", "HEAD", "POST"):
        response = render_errors(fmt, 405, [f"该资源不支持 {request.method} 请求"])
        response["Allow"] = "GET, POST"
        return response
    if request.method == "POST":
        return _create(request, fmt=fmt)
    return _search(request, fmt=fmt)


@open311("GET")
def _search(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET requests: service_request_id (comma list, overrides the rest), service_code, start_date,
    end_date (requested_datetime; default and maximum 90 days), status (open/closed); ≤1000, newest first."""
    ids = _list(request, "service_request_id")
    if ids:
        rows = selectors.requests_query(ids=ids)
    else:
        statuses = _list(request, "status")
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise services.Open311Errors(["status 只能为 open 或 closed（可用逗号分隔）"])
        start, end = _window(request, MAX_SPAN)
        rows = selectors.requests_query(
            service_codes=_list(request, "service_code"), start=start, end=end, statuses=statuses
        )
    return render(fmt, "service_requests", [selectors.request_row(e) for e in rows])


@open311("POST")
def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST requests (form-encoded): api_key required; answers [{service_request_id, service_notice,
    account_id, reporter_token}]. A retry with the same Idempotency-Key header or attribute[external_id]
    returns the first request's answer. reporter_token (a Wangge extension) goes only to the client that
    submitted: the public service_request_id lets anyone look, while 核查/评价 for the reporter
    (/api/v1/track/{service_request_id}/verify/ and /rating/) need this token."""
    api_key = selectors.api_key_find(request.POST.get("api_key"))
    if api_key is None:
        missing = not (request.POST.get("api_key") or "").strip()
        return render_errors(fmt, 403, ["缺少 api_key" if missing else "api_key 无效或已停用"])
    done = services.request_submit(
        api_key=api_key, form=request.POST, idempotency_key=request.headers.get("Idempotency-Key")
    )
    body = [
        {
            "service_request_id": done.event.tracking_code,
            "service_notice": services.service_notice(done.event),
            "account_id": done.account_id,
            "reporter_token": reporter_token(done.event),
        }
    ]
    return render(fmt, "service_requests", body, status=201 if done.created else 200)


@open311("GET")
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    """GET requests/{service_request_id}: one request (same fields as the list)."""
    event = selectors.request_find(request_id)
    if event is None:
        return render_errors(fmt, 404, [f"service_request_id “{request_id[:32]}” 不存在"])
    return render(fmt, "service_requests", [selectors.request_row(event)])


@open311("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET tokens/{token}: services here are realtime, so POST answers the service_request_id at once;
    for clients written for batch servers, the tracking code also works as a token."""
    event = selectors.request_find(token)
    if event is None:
        return render_errors(fmt, 404, [f"token “{token[:32]}” 不存在"])
    return render(fmt, "service_requests", [{"service_request_id": event.tracking_code, "token": token}])


@csrf_exempt
def request_updates(request: HttpRequest, fmt: str) -> HttpResponse:
    """servicerequestupdates.{fmt} (mySociety extension): GET lists updates, POST adds one."""
    if fmt in FORMATS and request.method not in ("GET", "HEAD", "POST"):
        response = render_errors(fmt, 405, [f"该资源不支持 {request.method} 请求"])
        response["Allow"] = "GET, POST"
        return response
    if request.method == "POST":
        return _update_create(request, fmt=fmt)
    return _updates_search(request, fmt=fmt)


@open311("GET")
def _updates_search(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET servicerequestupdates: public timeline steps in [start_date, end_date] (default: the last 24
    hours; at most 90 days), oldest first, ≤1000."""
    start, end = _window(request, timedelta(days=1))
    return render(fmt, "service_request_updates", selectors.updates_query(start=start, end=end))


@open311("POST")
def _update_create(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST servicerequestupdates (form-encoded, api_key required): service_request_id, update_id (the
    client's own id of the update; a retry with it is recorded once), updated_datetime, status
    (OPEN/CLOSED), description, email/first_name/last_name, media_url. Only on a request this api_key
    submitted (any other is 404). Answers [{update_id}] (ours): 201 when recorded now, 200 for a retry.
    The update is recorded and the handler told; the request's status does not change by it."""
    api_key = selectors.api_key_find(request.POST.get("api_key"))
    if api_key is None:
        missing = not (request.POST.get("api_key") or "").strip()
        return render_errors(fmt, 403, ["缺少 api_key" if missing else "api_key 无效或已停用"])
    done = services.request_update_submit(api_key=api_key, form=request.POST)
    body = [{"update_id": str(done.entry.pk)}]
    return render(fmt, "service_request_updates", body, status=201 if done.created else 200)
