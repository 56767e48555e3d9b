"""Cross-cutting API contract: schema and docs, token auth, 401 everywhere, and no scope leaks.

Endpoints are discovered by walking the URL resolver, so every GET endpoint added under /api/v1/ later
is covered without touching this file. This file walks the GET lists; test_scope_walker.py walks details,
searches, exports, embedded objects and writes by id as a grid worker, and test_anonymous_walker.py every
route without signing in.
"""

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from django.contrib.admindocs.views import simplify_regex
from django.contrib.staticfiles import finders
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.conftest import PASSWORD, assert_error
from wangge.core.tests.walker_world import populate_registers

API_PREFIX = "/api/v1/"
# GET endpoints under /api/v1/ that anonymous callers may read on purpose. Adding one is a decision:
# write down why next to it.
PUBLIC_ENDPOINTS: set[str] = set()
GRID1_PATH = "420802001001001"


# ---- endpoint discovery ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    url: str
    callback: Any


def _walk(patterns: Iterable[Any], prefix: str = "", params: bool = False) -> Iterator[tuple[str, bool, Any]]:
    for p in patterns:
        here = prefix + str(p.pattern)
        has_params = params or p.pattern.regex.groups > 0
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, here, has_params)
        elif isinstance(p, URLPattern):
            yield here, has_params, p.callback


def _allows_get(callback: Any) -> bool:
    actions = getattr(callback, "actions", None)  # DRF ViewSet routes: {"get": "list", ...}
    if actions is not None:
        return "get" in actions
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        return callable(getattr(cls, "get", None))
    return True  # a plain function view: try it (405 is skipped by the callers)


def get_endpoints(patterns: Iterable[Any] | None = None, prefix: str = API_PREFIX) -> list[Endpoint]:
    """Every URL under `prefix` without path parameters whose view answers GET."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    found: dict[str, Endpoint] = {}
    for raw, has_params, callback in _walk(patterns):
        if has_params:
            continue
        url = simplify_regex(raw)
        if url.startswith(prefix) and _allows_get(callback):
            found.setdefault(url, Endpoint(url, callback))
    return sorted(found.values(), key=lambda e: e.url)


ENDPOINTS = get_endpoints()


def test_the_walk_finds_the_api():
    # Every walk below is parametrised by ENDPOINTS: an empty list would pass them all without testing.
    assert len(ENDPOINTS) >= 20, [e.url for e in ENDPOINTS]


def test_endpoint_discovery_handles_routes_regexes_routers_and_parameters():
    from django.urls import include, path, re_path
    from rest_framework import generics, routers, viewsets
    from rest_framework.response import Response

    class ListView(generics.ListAPIView):
        def list(self, request: Any, *args: Any, **kwargs: Any) -> Response:
            return Response([])

    class CreateOnly(generics.CreateAPIView):
        pass

    class Things(viewsets.ViewSet):
        def list(self, request: Any) -> Response:
            return Response([])

        def retrieve(self, request: Any, pk: str) -> Response:
            return Response({})

    def plain(request: Any) -> Any:
        return None

    router = routers.SimpleRouter()
    router.register("things", Things, basename="things")
    inner = [
        path("lists/", ListView.as_view()),
        path("lists/<int:pk>/", ListView.as_view()),
        re_path(r"^regex-list/$", ListView.as_view()),
        re_path(r"^regex-list/(?P<code>\d+)/$", ListView.as_view()),
        path("create-only/", CreateOnly.as_view()),
        path("plain/", plain),
        path("", include(router.urls)),
    ]
    patterns = [path("api/v1/", include(inner)), path("elsewhere/", ListView.as_view())]
    urls = [e.url for e in get_endpoints(patterns)]
    assert urls == ["/api/v1/lists/", "/api/v1/plain/", "/api/v1/regex-list/", "/api/v1/things/"]


# ---- (a) schema and API docs ----------------------------------------------------------------------


def test_schema_is_valid_openapi3(db):
    client = APIClient()
    resp = client.get("/api/schema/", {"format": "json"})
    assert resp.status_code == 200, resp.content[:300]
    doc = json.loads(resp.content)
    assert doc["openapi"].startswith("3.")
    validate_schema(doc)  # raises on an invalid document
    assert "post" in doc["paths"]["/api/v1/auth/token/"]
    # The default (YAML) rendering is the same document.
    yaml_doc = yaml.safe_load(client.get("/api/schema/").content)
    assert yaml_doc["paths"].keys() == doc["paths"].keys()
    # Every GET endpoint under /api/v1/ is documented.
    undocumented = [e.url for e in ENDPOINTS if "get" not in doc["paths"].get(e.url, {})]
    assert not undocumented, f"GET endpoints missing from the OpenAPI schema: {undocumented}"


def test_schema_generation_emits_no_warnings(db):
    """drf-spectacular warns when it cannot describe an endpoint; such an endpoint is undocumented."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    validate_schema(schema)
    assert not problems, "drf-spectacular warnings/errors:\n" + "\n".join(problems)


def test_swagger_ui_is_served_without_external_urls(db):
    resp = APIClient().get("/api/docs/")
    assert resp.status_code == 200
    # The start-up script is a file of its own (the split view; CSP script-src 'self'): check it too.
    html = resp.content.decode()
    assert '<script src="/api/docs/?script="></script>' in html
    html = html.replace('<script src="/api/docs/?script="></script>', "")
    html += APIClient().get("/api/docs/?script=").content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, html[:500]
    external = [a for a in assets if a.startswith(("http://", "https://", "//"))]
    assert not external, external
    # Nothing in the page (scripts included) points outside, except the schema URL on this host.
    absolute = re.findall(r"""https?://[^\s"'<>)]+""", html)
    assert not absolute, absolute
    assert re.search(r"""url:\s*["']/api/schema/["']""", html), "Swagger UI must load the local schema"
    # The assets are the vendored sidecar copies and they exist.
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"static asset not found: {asset}"
    # Swagger UI's default validator badge calls validator.swagger.io: it must be switched off.
    assert re.search(r'"validatorUrl":\s*null', html), "set SWAGGER_UI_SETTINGS validatorUrl=None"


# ---- (b) token authentication ---------------------------------------------------------------------


def test_token_good_credentials(world):
    resp = APIClient().post("/api/v1/auth/token/", {"username": "grid1", "password": PASSWORD}, format="json")
    assert resp.status_code == 200, resp.content
    key = resp.json()["token"]
    assert key == Token.objects.get(user=world.users.grid1).key
    # The same token comes back on the next login.
    again = APIClient().post(
        "/api/v1/auth/token/", {"username": "grid1", "password": PASSWORD}, format="json"
    )
    assert again.json()["token"] == key
    if ENDPOINTS:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get(ENDPOINTS[0].url).status_code != 401


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "grid1", "password": "wrong-password"},
        {"username": "nobody-here", "password": PASSWORD},  # same answer: no account enumeration
    ],
)
def test_token_bad_credentials(world, payload):
    resp = APIClient().post("/api/v1/auth/token/", payload, format="json")
    body = assert_error(resp, 400, "invalid_credentials")
    assert PASSWORD not in json.dumps(body, ensure_ascii=False)


def test_token_inactive_user_and_missing_fields(world):
    world.users.grid2.is_active = False
    world.users.grid2.save(update_fields=["is_active"])
    resp = APIClient().post("/api/v1/auth/token/", {"username": "grid2", "password": PASSWORD}, format="json")
    assert_error(resp, 400, "invalid_credentials")
    body = assert_error(
        APIClient().post("/api/v1/auth/token/", {"username": "grid1"}, format="json"), 400, "invalid"
    )
    assert "password" in body["details"]


def test_token_lookup_loads_what_the_orm_loads(world):
    """The one-statement token lookup gives the same user, territory and token, typed, as the ORM."""
    from wangge.accounts.authentication import token_user

    no_territory = user_create(username="loose", password=PASSWORD, role=Role.RESIDENT, territory_id=None)
    for user in (world.users.grid1, world.users.admin, no_territory):
        key = Token.objects.get_or_create(user=user)[0].key
        ref = Token.objects.select_related("user", "user__territory").get(key=key)
        got = token_user(key)
        assert got is not None
        got_user, got_token = got
        pairs = [(got_token, ref), (got_user, ref.user)]
        if ref.user.territory is None:
            assert got_user.territory is None
        else:
            pairs.append((got_user.territory, ref.user.territory))
        for mine, theirs in pairs:
            for f in type(theirs)._meta.concrete_fields:
                a, b = getattr(mine, f.attname), getattr(theirs, f.attname)
                assert a == b and type(a) is type(b), (f.name, a, b)
        assert got_token.user is got_user
    assert token_user("0" * 40) is None
    assert token_user("0" * 41) is None and token_user("ab\x00cd") is None
    # An inactive user's token is refused, as DRF's own authentication does.
    world.users.grid2.is_active = False
    world.users.grid2.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.users.grid2).key}")
    assert_error(client.get("/api/v1/events/"), 401, "authentication_failed")


def test_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert_error(client.get(ENDPOINTS[0].url), 401, "authentication_failed")


# ---- (c) every endpoint requires authentication ---------------------------------------------------


@pytest.mark.parametrize("url", [e.url for e in ENDPOINTS if e.url not in PUBLIC_ENDPOINTS])
def test_anonymous_gets_401(db, url):
    resp = APIClient().get(url)
    assert_error(resp, 401, "not_authenticated")  # authentication comes before the method check


# ---- (d) scope walker -----------------------------------------------------------------------------


def _items(payload: Any) -> list[dict[str, Any]]:
    """The objects of a list response: plain list, paginated {results}, GeoJSON {features}, or one object."""
    if isinstance(payload, list):
        rows = payload
    elif isinstance(payload, dict) and isinstance(payload.get("results"), list):
        rows = payload["results"]
    elif isinstance(payload, dict) and isinstance(payload.get("features"), list):
        rows = [f.get("properties") or {} for f in payload["features"] if isinstance(f, dict)]
    elif isinstance(payload, dict):
        rows = [payload]
    else:
        rows = []
    return [r for r in rows if isinstance(r, dict)]


def _territory_paths(item: dict[str, Any], grid_codes: dict[int, str]) -> list[tuple[str, str]]:
    """(field, path) pairs that place `item` in the territory."""
    out: list[tuple[str, str]] = []
    for key in ("path", "grid_path", "grid_code"):
        if isinstance(item.get(key), str):
            out.append((key, item[key]))
    grid = item.get("grid")
    if isinstance(grid, bool) or grid is None:
        pass
    elif isinstance(grid, int):
        out.append(("grid", grid_codes.get(grid, f"<territory id {grid}>")))
    elif isinstance(grid, str) and grid.isdigit():
        out.append(("grid", grid))
    elif isinstance(grid, dict):
        value = grid.get("path") or grid.get("code")
        if isinstance(value, str):
            out.append(("grid.code", value))
    # A territory node (it has a level) is placed by its own code.
    if "level" in item and isinstance(item.get("code"), str):
        out.append(("code", item["code"]))
    return out


def _leaks(payload: Any, prefix: str, grid_codes: dict[int, str]) -> list[str]:
    leaks = []
    for item in _items(payload):
        for field, value in _territory_paths(item, grid_codes):
            if not value.startswith(prefix):
                leaks.append(f"{field}={value!r} (id={item.get('id')!r})")
    return leaks


def test_leak_checker_flags_out_of_scope_objects():
    codes = {7: "420802001001002", 8: GRID1_PATH}
    ok = {"count": 2, "results": [{"id": 1, "path": GRID1_PATH}, {"id": 2, "grid": 8, "code": "B-1"}]}
    assert _leaks(ok, GRID1_PATH, codes) == []
    assert _leaks([{"id": 1, "path": "420802001001002"}], GRID1_PATH, codes)
    assert _leaks({"results": [{"id": 3, "grid": 7}]}, GRID1_PATH, codes)
    assert _leaks({"results": [{"id": 3, "grid": 99}]}, GRID1_PATH, codes)
    assert _leaks([{"id": 4, "grid": {"code": "420802002001001"}}], GRID1_PATH, codes)
    assert _leaks([{"id": 5, "level": "community", "code": "420802001001"}], GRID1_PATH, codes)
    geo = {"type": "FeatureCollection", "features": [{"properties": {"grid_code": "420802001002001"}}]}
    assert _leaks(geo, GRID1_PATH, codes)
    assert _leaks({"path": ""}, GRID1_PATH, codes)  # an object placed nowhere is not in grid1


def _populate(world: SimpleNamespace) -> None:
    """A building, a dwelling and residents in every grid (grid1's own included), and a few other objects.

    The same registers the wider walkers use (test_scope_walker.py: details, searches, exports, embedded
    objects and writes by id; test_anonymous_walker.py: every route without signing in)."""
    populate_registers(world)


def _walk_as(
    client: APIClient, prefix: str, grid_codes: dict[int, str], endpoints: list[Endpoint] | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """GET every endpoint as `client`; return ({url: leaks}, {url: territory paths seen})."""
    leaks: dict[str, list[str]] = {}
    seen: dict[str, list[str]] = {}
    for endpoint in ENDPOINTS if endpoints is None else endpoints:
        resp = client.get(endpoint.url, {"page_size": 500})
        if resp.status_code in (403, 405):
            continue  # not for this role / not a GET view
        if resp.status_code == 400:
            assert_error(resp, 400)  # needs query parameters; still one error shape
            continue
        assert resp.status_code == 200, (endpoint.url, resp.status_code, resp.content[:300])
        if not resp.get("Content-Type", "").startswith("application/json"):
            continue
        payload = resp.json()
        seen[endpoint.url] = [v for item in _items(payload) for _, v in _territory_paths(item, grid_codes)]
        found = _leaks(payload, prefix, grid_codes)
        if found:
            leaks[endpoint.url] = found
    return leaks, seen


def test_grid_worker_sees_nothing_outside_their_grid(world, api_for):
    from wangge.territory.models import Territory

    _populate(world)
    grid_codes = dict(Territory.objects.values_list("id", "code"))
    assert world.users.grid1.territory.code == GRID1_PATH

    leaks, _ = _walk_as(api_for(world.users.grid1), GRID1_PATH, grid_codes)
    assert not leaks, f"objects outside grid {GRID1_PATH} returned to a grid worker: {leaks}"

    # The check is only meaningful if the other grids' objects are reachable through the API at all:
    # the district admin must see some of them wherever objects with a territory path are listed.
    _, seen = _walk_as(api_for(world.users.admin), "420802", grid_codes)
    placed = [v for values in seen.values() for v in values]
    if placed:
        assert any(not v.startswith(GRID1_PATH) for v in placed), seen


def test_walker_catches_an_unscoped_endpoint(world, api_for, settings):
    """The walker itself must fail on a leak: one unscoped and one scoped endpoint on a throwaway URLconf."""
    from types import ModuleType

    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from wangge.core.scope import scope_queryset
    from wangge.territory.models import Building, Territory

    class Leaky(APIView):
        def get(self, request: Any) -> Response:
            return Response([{"id": b.pk, "path": b.path} for b in Building.objects.all()])

    class Scoped(APIView):
        def get(self, request: Any) -> Response:
            rows = scope_queryset(Building.objects.all(), request.user)
            return Response({"count": len(rows), "results": [{"id": b.pk, "grid": b.grid_id} for b in rows]})

    urlconf = ModuleType("contract_test_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("api/v1/", include([path("leaky/", Leaky.as_view()), path("scoped/", Scoped.as_view())]))
    ]
    settings.ROOT_URLCONF = urlconf
    _populate(world)
    grid_codes = dict(Territory.objects.values_list("id", "code"))
    endpoints = get_endpoints(urlconf.urlpatterns)  # type: ignore[attr-defined]
    leaks, seen = _walk_as(api_for(world.users.grid1), GRID1_PATH, grid_codes, endpoints)
    assert list(leaks) == ["/api/v1/leaky/"]
    assert seen["/api/v1/scoped/"] == [GRID1_PATH]
