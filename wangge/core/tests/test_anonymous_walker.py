"""Keep it fixed: without signing in, nobody reads staff data or changes anything.

Every URL pattern of the project (found by walking the URL resolver, admin included; path parameters
filled with real ids and codes of a fixture world) is called with GET, POST, PUT, PATCH and DELETE and no
credentials. For each call: never a server error; the whole database (every row of every table, compared
by digest) is unchanged, except for the deliberate public intake listed in CREATES (which may only add
rows); staff pages send the visitor to sign in and the API answers 401/403. A new route is walked without
touching this file; a new public one must be added to PUBLIC with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from wangge.core.tests import walker_world as ww

METHODS = ("get", "post", "put", "patch", "delete")

# Routes anyone may call without signing in. Each entry is a decision; the walker still checks that no
# call of theirs changes the database (outside CREATES) or fails with a server error.
PUBLIC = [
    r"^report/$",  # 我要说: residents report without an account
    r"^track/",  # public tracking page; the tracking code alone must not authorise the reporter's actions
    r"^api/v1/track/",  # the same, as an API
    r"^open311/v2/",  # Open311 GeoReport v2: GET is public by the standard; POST needs an api_key
    r"^api/v1/auth/token/$",  # signing in to get a token
    r"^login/$",
    r"^logout/$",
    r"^admin/login/$",  # the admin's own sign-in and sign-out
    r"^admin/logout/$",
    r"^i18n/setlang/$",  # language switch (a cookie)
    r"^text-size/$",  # 大字版 switch (a cookie)
    r"^report/address-match/$",  # 我要说's live address hint: compound/building/grid names only, throttled
    r"^tiles/",  # the base map's tiles: the public 我要说 page shows the map
    r"^api/(schema|docs|redoc)/$",  # the API's documentation
    r"^$",  # the home page only redirects (to /me/, which asks to sign in)
]
# (route pattern, method) that may write without an account: they may only ADD rows (a new report and its
# timeline, clock and audit rows), never change or delete an existing one.
CREATES = [
    (r"^report/$", "post"),  # 我要说
    (r"^open311/v2/\^requests", "post"),  # Open311 POST requests (refused without an api_key anyway)
    # mySociety POST servicerequestupdates: with an api_key, a timeline entry (and audit, notification
    # rows) on a request that key submitted; without one it is refused and writes nothing.
    (r"^open311/v2/\^servicerequestupdates", "post"),
]
# Rows a refused sign-in may add: django-axes records failed attempts to throttle guessing.
SIGN_IN = [r"^login/$", r"^api/v1/auth/token/$", r"^admin/login/$"]
SIGN_IN_TABLES = {"axes_accessattempt", "axes_accessfailurelog", "axes_accesslog", "audit_auditentry"}


def _matches(patterns: list[str], route: ww.Route) -> bool:
    path = ww.fill(route, {n: "x" for n in route.params}).lstrip("/")
    return any(re.search(p, path) or re.search(p, route.pattern) for p in patterns)


def _creates(route: ww.Route, method: str) -> bool:
    path = ww.fill(route, {n: "x" for n in route.params}).lstrip("/")
    return any(m == method and (re.search(p, route.pattern) or re.search(p, path)) for p, m in CREATES)


@pytest.fixture
def hostile(world: Any, settings: Any, tmp_path: Any) -> ww.Hostile:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return ww.build(world)


def _values(h: ww.Hostile, route: ww.Route) -> list[dict[str, Any]]:
    """Fillings of the route's parameters with real objects (the first of each kind) and codes."""
    per_param: dict[str, list[Any]] = {}
    for name in route.params:
        model = ww.model_for(route, name)
        if model is not None:
            ids = list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:1]) or [1]
        elif route.pattern.startswith("admin/"):
            ids = _admin_value(name)
        else:
            ids = ww.param_values(h, route, name)
            assert ids is not None, (
                f"{route.pattern}: cannot fill <{name}>; give values in walker_world.param_values"
            )
        per_param[name] = ids
    out: list[dict[str, Any]] = [{}]
    for name, values in per_param.items():
        out = [{**o, name: v} for o in out for v in values]
    return out


def _admin_value(name: str) -> list[Any]:
    return {"object_id": [1], "app_label": ["events"], "content_type_id": [1], "url": ["x"]}.get(name, ["1"])


def _body(h: ww.Hostile) -> dict[str, Any]:
    """A plausible body for every form and action (so a refusal is the access check, not validation)."""
    from wangge.conftest import centre

    lat, lng = centre(0, 0)
    return {
        "description": "匿名走查：路灯不亮",
        "lat": lat,
        "lng": lng,
        "address": "本格路1号",
        "passed": "true",
        "rating": "satisfied",
        "note": "匿名走查",
        "comment": "匿名走查",
        "reason": "匿名走查",
        "name": "匿名走查",
        "username": "grid1",
        "password": "wrong-password",
        "service_code": "0103",
        "language": "en",
        "status": "closed",
    }


def _call(route: ww.Route, method: str, url: str, body: dict[str, Any]) -> Any:
    if route.is_api:
        return getattr(APIClient(raise_request_exception=False), method)(url, body, format="json")
    client = Client(raise_request_exception=False)  # a crash is reported as a 500, with the others
    if method == "get":
        return client.get(url)
    if method == "post":
        return client.post(url, body)
    from urllib.parse import urlencode

    return getattr(client, method)(url, urlencode(body), content_type="application/x-www-form-urlencoded")


def _access_problem(route: ww.Route, method: str, resp: Any) -> str | None:
    """What is wrong with the answer a staff-only route gave an anonymous caller, if anything."""
    status = resp.status_code
    if route.is_api:
        return None if status in (401, 403) else f"{status}, expected 401/403"
    if route.pattern.startswith("admin/"):
        return (
            None
            if status in (302, 403, 404, 405) and "/admin/login/" in resp.get("Location", "/admin/login/")
            else f"{status}"
        )
    if status == 302 and resp["Location"].startswith("/login/"):
        return None
    if status in (403, 405):
        return None  # refused before any sign-in redirect (require_POST / require_GET come first)
    return f"{status} {resp.get('Location', '')}, expected a redirect to /login/"


def walk_anonymous(h: ww.Hostile, routes: list[ww.Route]) -> tuple[list[str], int]:
    """Call every route with every method without credentials; (problems, number of calls)."""
    body = _body(h)
    problems: list[str] = []
    calls = 0
    after = ww.snapshot()
    for route in routes:
        public = _matches(PUBLIC, route)
        admin = route.pattern.startswith("admin/")
        for values in _values(h, route):
            url = ww.fill(route, values)
            for method in METHODS if not admin else ("get", "post"):
                resp = _call(route, method, url, body)
                before, after = after, ww.snapshot()  # one snapshot per call: the last one is "before"
                calls += 1
                where = f"{method.upper()} {url}"
                if resp.status_code >= 500:
                    problems.append(f"{where}: {resp.status_code}")
                changed = ww.diff(before, after)
                if _creates(route, method):
                    if changed.changed or changed.removed:
                        problems.append(f"{where}: public intake changed existing rows {changed}")
                elif _matches(SIGN_IN, route) and method == "post":
                    other = (
                        set(changed.added) | set(changed.changed) | set(changed.removed)
                    ) - SIGN_IN_TABLES
                    if other:
                        problems.append(f"{where}: refused sign-in wrote {changed}")
                elif changed:
                    problems.append(f"{where}: anonymous call wrote {changed}")
                if not public and (problem := _access_problem(route, method, resp)):
                    problems.append(f"{where}: {problem}")
    return problems, calls


def test_anonymous_walker_changes_nothing_and_reads_no_staff_data(hostile: ww.Hostile) -> None:
    routes = ww.all_routes(include_admin=True)
    assert len(routes) > 100, len(routes)
    problems, calls = walk_anonymous(hostile, routes)
    assert calls > 300, calls
    assert not problems, f"{len(problems)} problems in {calls} anonymous calls:\n" + "\n".join(problems)


def test_public_tracking_acts_on_nothing_with_the_code_alone(hostile: ww.Hostile) -> None:
    """The tracking code is printed on receipts and shared: with it alone nobody confirms, reopens or
    rates a report (the reporter's own secret is needed). Pages and API both."""
    h = hostile
    handled, closed = h.own["handled"], h.own["closed"]
    calls = [
        ("page", f"/track/{handled.tracking_code}/verify/", {"passed": "true", "note": "匿名"}),
        ("page", f"/track/{handled.tracking_code}/verify/", {"passed": "false", "note": "没修好"}),
        ("page", f"/track/{closed.tracking_code}/rate/", {"rating": "unsatisfied", "comment": "匿名"}),
        ("api", f"/api/v1/track/{handled.tracking_code}/verify/", {"passed": True, "note": "匿名"}),
        ("api", f"/api/v1/track/{handled.tracking_code}/verify/", {"passed": False, "note": "没修好"}),
        (
            "api",
            f"/api/v1/track/{closed.tracking_code}/rating/",
            {"rating": "unsatisfied", "comment": "匿名"},
        ),
    ]
    problems = []
    for kind, url, data in calls:
        before = ww.snapshot()
        resp = APIClient().post(url, data, format="json") if kind == "api" else Client().post(url, data)
        changed = ww.diff(before, ww.snapshot())
        assert resp.status_code < 500, (url, resp.status_code)
        if changed:
            problems.append(f"POST {url} {data}: {resp.status_code}, wrote {changed}")
    assert not problems, "the tracking code alone acted on a report:\n" + "\n".join(problems)


def test_open311_without_api_key_reads_lists_and_acts_on_nothing(hostile: ww.Hostile) -> None:
    """Open311 GET lists are public; POST requests (new or on an existing request) without an api_key
    create and change nothing."""
    h = hostile
    code = h.own["handled"].tracking_code
    for url in (
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{code}.json",
        "/open311/v2/discovery.json",
    ):
        assert Client().get(url).status_code == 200, url
    before = ww.snapshot()
    form = {"service_code": "0103", "lat": 31.0325, "long": 112.2025, "description": "匿名走查：井盖缺失"}
    for url in (
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{code}.json",
        "/open311/v2/servicerequestupdates.json",
        f"/open311/v2/tokens/{code}.json",
    ):
        for data in (
            form,
            {**form, "api_key": "not-a-key"},
            {**form, "service_request_id": code, "status": "closed"},
        ):
            resp = Client().post(url, data)
            assert resp.status_code in (400, 403, 404, 405), (url, data, resp.status_code)
    assert not ww.diff(before, ww.snapshot())


def test_anonymous_walker_catches_writes_server_errors_and_open_staff_pages(
    hostile: ww.Hostile, settings: Any
) -> None:
    """The walker itself must fail: on a throwaway URLconf, a staff page that writes and answers without
    sign-in, an API view open to anyone, a view that crashes, and a well-behaved staff page."""
    from types import ModuleType

    from django.contrib.auth.decorators import login_required
    from django.contrib.auth.views import LoginView
    from django.http import HttpResponse
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from wangge.events.models import Event

    def writes(request: Any, pk: int) -> HttpResponse:
        Event.objects.filter(pk=pk).update(title="匿名改写")
        return HttpResponse("ok")

    def crashes(request: Any) -> HttpResponse:
        raise RuntimeError("boom")

    @login_required
    def guarded(request: Any) -> HttpResponse:
        return HttpResponse("staff")

    class Open(APIView):
        authentication_classes: list[Any] = []
        permission_classes: list[Any] = []

        def get(self, request: Any) -> Response:
            return Response([])

    urlconf = ModuleType("anon_meta_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("events/<int:pk>/write/", writes),
        path("crash/", crashes),
        path("guarded/", guarded),
        path("login/", LoginView.as_view(), name="login"),
        path("api/v1/", include([path("open/", Open.as_view())])),
    ]
    settings.ROOT_URLCONF = urlconf
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    problems, calls = walk_anonymous(hostile, ww.all_routes(include_admin=True))
    assert calls == 5 * len(METHODS)
    text = "\n".join(problems)
    assert "GET /events/" in text and "anonymous call wrote" in text, text
    assert "GET /crash/: 500" in text, text
    assert "GET /api/v1/open/: 200, expected 401/403" in text, text
    assert "/guarded/" not in text, text
