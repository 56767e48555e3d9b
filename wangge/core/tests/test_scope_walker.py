"""Keep it fixed: a grid worker never learns anything of another grid's objects.

Routes are discovered from the URL resolver (pages and API alike) and API parameters from the OpenAPI
schema, so an endpoint added later is walked without touching this file. The world
(`walker_world.build`) ties grid1's own events to other grids' objects through the services — a merged
duplicate, a merge master, a dispute party, a whistle — and keeps a list of the other grids' texts
(tracking codes, titles, descriptions, addresses, names): none of them may appear in any answer grid1
gets, as a row, embedded in one of grid1's own objects, or in a downloaded file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from openpyxl import load_workbook

from wangge.core.tests import walker_world as ww

MISSING_ID = 987654321
WRITE_METHODS = ("post", "put", "patch", "delete")
# Keys under which an answer refers to an event by id.
EVENT_ID_KEYS = re.compile(
    r"^(event|event_id|master|master_id|merged_into|duplicate|duplicates|duplicate_ids|"
    r"merged|merged_ids|merged_events|source|source_event)$"
)


@pytest.fixture
def hostile(world: Any, settings: Any, tmp_path: Any) -> ww.Hostile:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return ww.build(world)


@pytest.fixture
def clients(hostile: ww.Hostile, api_for: Any) -> Any:
    """(API client, page client) signed in as grid1."""
    page = Client()
    page.force_login(hostile.world.users.grid1)
    return api_for(hostile.world.users.grid1), page


def _client(route: ww.Route, clients: Any) -> Any:
    return clients[0] if route.is_api else clients[1]


# ---- reading any answer ---------------------------------------------------------------------------


def body_text(resp: Any) -> str:
    """Everything an answer says, as text: JSON, HTML, CSV and XLSX files (every cell) included."""
    content = b"".join(resp.streaming_content) if getattr(resp, "streaming", False) else resp.content
    ctype = resp.get("Content-Type", "")
    if content[:2] == b"PK" and ("sheet" in ctype or "octet-stream" in ctype):
        wb = load_workbook(io.BytesIO(content), read_only=True)
        cells = [
            str(c)
            for ws in wb.worksheets
            for row in ws.iter_rows(values_only=True)
            for c in row
            if c is not None
        ]
        return "\n".join(cells)
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = content.decode("utf-8", "replace")
    if "csv" in ctype:
        text = "\n".join(",".join(r) for r in csv.reader(io.StringIO(text)))
    if "json" in ctype:
        try:  # \uXXXX escapes would hide Chinese texts
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def _ids_under_event_keys(payload: Any) -> Iterator[int]:
    if isinstance(payload, dict):
        is_event = "tracking_code" in payload
        for k, v in payload.items():
            if (EVENT_ID_KEYS.match(k) or (is_event and k == "id")) and not isinstance(v, bool):
                for x in v if isinstance(v, list) else [v]:
                    if isinstance(x, int):
                        yield x
            yield from _ids_under_event_keys(v)
    elif isinstance(payload, list):
        for x in payload:
            yield from _ids_under_event_keys(x)


def leaks(h: ww.Hostile, resp: Any, echo: str = "") -> list[str]:
    """Other grids' texts in the answer, and other grids' event ids under keys that name an event.
    `echo`: the search term the caller sent (a page may show it back in its search box)."""
    text = body_text(resp)
    found = [f"text {m!r}" for m in h.find_markers(text) if m != echo]
    if "json" in resp.get("Content-Type", ""):
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        found += [f"event id {i}" for i in _ids_under_event_keys(payload) if i in h.foreign_event_ids]
    return found


def test_leak_reader_finds_texts_in_json_csv_xlsx_and_nested_ids(hostile: ww.Hostile) -> None:
    from django.http import HttpResponse
    from openpyxl import Workbook

    h = hostile
    marker = sorted(h.markers)[0]
    foreign_id = sorted(h.foreign_event_ids)[0]
    as_json = HttpResponse(
        json.dumps({"timeline": [{"data": {"note": marker}}]}), content_type="application/json"
    )
    assert leaks(h, as_json) == [f"text {marker!r}"]
    nested = HttpResponse(
        json.dumps({"merged": {"duplicates": [foreign_id]}}), content_type="application/json"
    )
    assert leaks(h, nested) == [f"event id {foreign_id}"]
    own = HttpResponse(json.dumps({"id": foreign_id, "name": "x"}), content_type="application/json")
    assert leaks(h, own) == []  # an "id" of some other kind of object is not an event id
    as_csv = HttpResponse(f"a,b\n1,{marker}\n".encode("gb18030"), content_type="text/csv")
    assert leaks(h, as_csv)
    wb = Workbook()
    wb.active.append(["x", marker])
    buf = io.BytesIO()
    wb.save(buf)
    as_xlsx = HttpResponse(buf.getvalue(), content_type="application/octet-stream")
    assert leaks(h, as_xlsx)
    assert leaks(h, HttpResponse("<p>本格</p>", content_type="text/html")) == []


# ---- route filling --------------------------------------------------------------------------------


def _fillings(h: ww.Hostile, route: ww.Route, target: str | None) -> list[dict[str, Any]]:
    """Parameter values for `route`: the parameter `target` with other grids' ids (one per foreign row,
    at most 4), every other one with grid1's own objects. Fails for a parameter the walker cannot fill."""
    per_param: dict[str, list[Any]] = {}
    for name in route.params:
        model = ww.model_for(route, name)
        if model is not None:
            ids = ww.foreign_ids(model)[:4] if name == target else ww.own_ids(model)[:2] or [MISSING_ID]
        else:
            ids = ww.param_values(h, route, name)
            assert ids is not None, (
                f"{route.pattern}: cannot fill <{name}>; name its model in walker_world.SEGMENT_MODELS/"
                "PARAM_MODELS or give values in walker_world.param_values"
            )
        per_param[name] = ids
    out: list[dict[str, Any]] = [{}]
    for name, values in per_param.items():
        out = [{**o, name: v} for o in out for v in values]
    return out


def _id_params(route: ww.Route) -> list[str]:
    return [
        n
        for n in route.params
        if ww.model_for(route, n) is not None and ww.foreign_ids(ww.model_for(route, n))
    ]


def _allows(route: ww.Route, method: str) -> bool:
    methods = route.methods()
    return methods is None or method in methods


def _call(
    client: Any, method: str, url: str, route: ww.Route, body: dict[str, Any] | None = None, **extra: Any
) -> Any:
    if method == "get":
        return client.get(url, **extra)
    if route.is_api:
        return getattr(client, method)(url, body or {}, format="json", **extra)
    if method == "post":
        return client.post(url, body or {}, **extra)
    return getattr(client, method)(url, **extra)


# ---- (1) details: an id of another grid's object is 404 ---------------------------------------------


def walk_details(h: ww.Hostile, clients: Any, routes: list[ww.Route]) -> tuple[list[str], int]:
    """GET of every route with an object id in its path (API details, sub-resources, pages such as
    /events/<id>/, /residents/<id>/, /buildings/<id>/, /grids/<id>/) with another grid's id answers exactly
    as for an id that does not exist (404; existence is not disclosed) and says nothing of the object."""
    problems: list[str] = []
    checked = 0
    for route in routes:
        if not _allows(route, "get") or route.pattern.startswith("open311/"):
            continue
        for target in _id_params(route):
            missing = {**_fillings(h, route, None)[0], target: MISSING_ID}
            ref = _call(_client(route, clients), "get", ww.fill(route, missing), route)
            for values in _fillings(h, route, target):
                url = ww.fill(route, values)
                resp = _call(_client(route, clients), "get", url, route)
                checked += 1
                if resp.status_code == 200 or resp.status_code != ref.status_code:
                    problems.append(f"GET {url}: {resp.status_code} (missing id: {ref.status_code})")
                if found := leaks(h, resp):
                    problems.append(f"GET {url}: {found}")
    return problems, checked


def test_detail_routes_answer_other_grids_ids_like_missing_ones(hostile: ww.Hostile, clients: Any) -> None:
    problems, checked = walk_details(hostile, clients, ww.all_routes())
    assert checked > 20, checked
    assert not problems, "other grids' objects reachable by id:\n" + "\n".join(problems)


# ---- (2) writes that look an object up by its id in the path -----------------------------------------


# A body that gets most actions past their validation, so the lookup itself is what answers.
def kitchen_sink(h: ww.Hostile) -> dict[str, Any]:
    from wangge.events.models import HandlingUnit

    unit = HandlingUnit.objects.order_by("pk").first()
    return {
        "note": "走查",
        "reason": "走查：核对",
        "comment": "走查",
        "passed": True,
        "rating": "satisfied",
        "side": "applicant",
        "name": "走查人",
        "target": "handled",
        "unit": unit.pk if unit else None,
        "unit_id": unit.pk if unit else None,
        "unit_ids": [unit.pk] if unit else [],
        "held_at": "2025-06-01T10:00:00+08:00",
        "mediator": "走查调解员",
        "summary": "走查",
        "result": "success",
        "decision": "approve",
        "approve": True,
        "days": 1,
        "hours": 1,
    }


def test_writes_by_path_id_refuse_other_grids_objects_and_change_nothing(
    hostile: ww.Hostile, clients: Any
) -> None:
    """POST/PUT/PATCH/DELETE of every route with an object id in its path, with another grid's id:
    answered as for a missing id, nothing of the object in the answer, nothing written."""
    h = hostile
    body = kitchen_sink(h)
    problems: list[str] = []
    checked = 0
    for route in ww.all_routes():
        if route.pattern.startswith("open311/"):
            continue
        for method in WRITE_METHODS:
            if not _allows(route, method) or (not route.is_api and method != "post"):
                continue
            for target in _id_params(route):
                missing = {**_fillings(h, route, None)[0], target: MISSING_ID}
                ref = _call(_client(route, clients), method, ww.fill(route, missing), route, body)
                for values in _fillings(h, route, target)[:2]:
                    url = ww.fill(route, values)
                    before = ww.snapshot()
                    resp = _call(_client(route, clients), method, url, route, body)
                    changed = ww.diff(before, ww.snapshot())
                    checked += 1
                    if resp.status_code != ref.status_code or 200 <= resp.status_code < 300:
                        problems.append(
                            f"{method.upper()} {url}: {resp.status_code} (missing id: {ref.status_code})"
                        )
                    if found := leaks(h, resp):
                        problems.append(f"{method.upper()} {url}: {found}")
                    if changed:
                        problems.append(f"{method.upper()} {url}: wrote {changed}")
    assert checked > 20, checked
    assert not problems, "other grids' objects acted on by id:\n" + "\n".join(problems)


# ---- (3) lists, searches, exports and files ----------------------------------------------------------


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _text_query_params(operation: dict[str, Any]) -> list[str]:
    out = []
    for p in operation.get("parameters", []):
        schema = p.get("schema", {})
        if p.get("in") == "query" and schema.get("type", "string") == "string" and not schema.get("format"):
            out.append(p["name"])
    return out


def _search_terms(h: ww.Hostile) -> list[str]:
    f = h.foreign
    return [
        f["hotline"].tracking_code,
        f["hotline"].title[:6],
        "隔壁",  # a prefix of every foreign name, title and address
        "BT420802001001002",
        f["sensor"].external_id,
    ]


def test_lists_searches_and_files_show_nothing_of_other_grids(hostile: ww.Hostile, clients: Any) -> None:
    """Every GET route without an object id (API lists, pages, exports, templates) as grid1, plain and
    with every text query parameter (from the OpenAPI schema; `q` on pages) set to other grids' tracking
    codes, titles, names, building codes and external ids; xlsx/csv answers are parsed cell by cell."""
    h = hostile
    schema = _schema()
    problems: list[str] = []
    checked = 0
    for route in ww.all_routes():
        if not _allows(route, "get") or route.pattern.startswith(
            ("open311/", "api/schema", "api/docs", "api/redoc")
        ):
            continue
        if any(ww.model_for(route, n) is not None for n in route.params):
            continue  # routes with an object id: walked with grid1's own ids below
        for values in _fillings(h, route, None):
            url = ww.fill(route, values)
            operation = schema["paths"].get(url, {}).get("get", {}) if route.is_api else {}
            names = _text_query_params(operation) if route.is_api else ["q"]
            queries: list[dict[str, Any]] = [{}]
            if "export" in url:
                queries += [{"format": "csv"}, {"format": "xlsx"}]
            queries += [{name: term} for name in names for term in _search_terms(h)]
            if route.is_api:
                queries = [{**q, "page_size": 500} for q in queries]
            for query in queries:
                resp = _client(route, clients).get(url, query)
                checked += 1
                assert resp.status_code < 500, (url, query, resp.status_code)
                terms = [v for v in query.values() if isinstance(v, str)]
                if found := leaks(h, resp, echo=terms[0] if terms else ""):
                    problems.append(f"GET {url} {query}: {found}")
    assert checked > 50, checked
    assert not problems, "other grids' objects in lists, searches or files:\n" + "\n".join(problems)


def test_post_searches_show_nothing_of_other_grids(hostile: ww.Hostile, clients: Any) -> None:
    """API POST routes that search (OpenAPI operation ids/paths with 'search'): every text field of the
    request set to other grids' names and codes."""
    h = hostile
    schema = _schema()
    problems: list[str] = []
    checked = 0
    for url, ops in schema["paths"].items():
        if "search" not in url or "post" not in ops or "{" in url:
            continue
        props = _request_properties(schema, ops["post"])
        for term in _search_terms(h):
            body = {k: term for k, v in props.items() if v.get("type", "string") == "string"}
            resp = clients[0].post(url, body, format="json")
            checked += 1
            assert resp.status_code < 500, (url, body, resp.status_code)
            if found := leaks(h, resp, echo=term):
                problems.append(f"POST {url} {body}: {found}")
    assert checked, "no search endpoint found"
    assert not problems, "\n".join(problems)


# ---- (4) embedded related objects in grid1's own objects ---------------------------------------------


def walk_own(h: ww.Hostile, clients: Any, routes: list[ww.Route]) -> tuple[list[str], int]:
    """GET of every route with an object id, filled with grid1's OWN objects (its events with a merged
    duplicate, a merge master, a dispute party and a whistle from other grids): nothing of the other
    grids anywhere inside the answer — timeline, merge links, parties, whistles, files."""
    problems: list[str] = []
    checked = 0
    for route in routes:
        if not _allows(route, "get") or route.pattern.startswith("open311/"):
            continue
        if not any(ww.model_for(route, n) is not None for n in route.params):
            continue
        per_param = {}
        for name in route.params:
            model = ww.model_for(route, name)
            if model is not None:
                per_param[name] = ww.own_ids(model)
            else:
                per_param[name] = ww.param_values(h, route, name) or []
        fillings: list[dict[str, Any]] = [{}]
        for name, values in per_param.items():
            fillings = [{**o, name: v} for o in fillings for v in values]
        for values in fillings:
            url = ww.fill(route, values)
            resp = _call(_client(route, clients), "get", url, route)
            checked += 1
            assert resp.status_code < 500, (url, resp.status_code)
            if found := leaks(h, resp):
                problems.append(f"GET {url}: {found}")
    return problems, checked


def test_own_objects_embed_nothing_of_other_grids(hostile: ww.Hostile, clients: Any) -> None:
    problems, checked = walk_own(hostile, clients, ww.all_routes())
    assert checked > 20, checked
    assert not problems, "other grids' objects embedded in grid1's own objects:\n" + "\n".join(problems)


# ---- (5) writes that look something up by a client-supplied key -------------------------------------


def _request_properties(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or next(iter(content.values()), {})
    ref = media.get("schema", {})
    while "$ref" in ref:
        ref = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    if ref.get("type") == "array":
        ref = ref.get("items", {})
        while "$ref" in ref:
            ref = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    return dict(ref.get("properties", {}))


# Body fields that name an object by id, when the field name is not the model's own name.
FIELD_MODELS = {
    "duplicate_ids": "events.Event",
    "duplicates": "events.Event",
    "master_id": "events.Event",
    "master": "events.Event",
    "event": "events.Event",
    "event_id": "events.Event",
}


def _field_model(name: str) -> Any:
    from django.apps import apps

    if name in FIELD_MODELS:
        return apps.get_model(FIELD_MODELS[name])
    base = re.sub(r"(_ids?|_pk)$", "", name)
    fake = ww.Route(f"{base}s/<int:x>/", f"^{base}s/(?P<x>[0-9]+)/$", ("x",), {"x": "IntConverter"}, None)
    return ww.model_for(fake, "x")


def test_body_ids_of_other_grids_objects_are_refused(hostile: ww.Hostile, clients: Any) -> None:
    """Every API write whose body takes the id of another object (from the OpenAPI schema: integer fields
    whose name names a model, e.g. resident_id, building, duplicate_ids, master_id), with grid1's own
    objects in the path and another grid's object in that field: the answer names nothing of it."""
    h = hostile
    schema = _schema()
    base = kitchen_sink(h)
    problems: list[str] = []
    checked = 0
    routes = {ww.fill(r, {n: "{" + n + "}" for n in r.params}): r for r in ww.all_routes() if r.is_api}
    for url, ops in schema["paths"].items():
        route = routes.get(url)
        for method in WRITE_METHODS:
            if method not in ops or route is None:
                continue
            props = _request_properties(schema, ops[method])
            for field_name, spec in props.items():
                is_list = spec.get("type") == "array"
                kind = spec.get("items", {}).get("type") if is_list else spec.get("type")
                model = _field_model(field_name) if kind == "integer" else None
                foreign = ww.foreign_ids(model)[:2] if model is not None else []
                for foreign_id in foreign:
                    for values in _fillings(h, route, None)[:1]:
                        body = {
                            **base,
                            **{
                                k: "走查"
                                for k, v in props.items()
                                if v.get("type") == "string" and k not in base
                            },
                        }
                        body[field_name] = [foreign_id] if is_list else foreign_id
                        target = ww.fill(route, values)
                        resp = _call(clients[0], method, target, route, body)
                        checked += 1
                        assert resp.status_code < 500, (method, target, body, resp.status_code)
                        if found := leaks(h, resp):
                            problems.append(f"{method.upper()} {target} {field_name}={foreign_id}: {found}")
                        if 200 <= resp.status_code < 300 and model._meta.label == "events.Event":
                            problems.append(f"{method.upper()} {target} {field_name}={foreign_id}: accepted")
    assert checked >= 2, checked
    assert not problems, "other grids' objects reached through ids in a request body:\n" + "\n".join(problems)


def _assert_learns_nothing(h: ww.Hostile, resp: Any, what: str) -> list[str]:
    out = [f"{what}: {found}" for found in [leaks(h, resp)] if found]
    if resp.status_code >= 500:
        out.append(f"{what}: {resp.status_code}")
    if "json" in resp.get("Content-Type", ""):
        text = json.dumps(resp.json())
        out += [
            f"{what}: foreign id {i} in {text[:200]}"
            for i in h.foreign_event_ids
            if re.search(rf'"(id|event|event_id)": {i}\b', text)
        ]
    return out


def test_intake_replays_by_external_id_and_idempotency_key_learn_nothing(
    hostile: ww.Hostile, clients: Any
) -> None:
    """A grid worker replaying another grid's report — same channel + external_id (hotline, sensor,
    SOS, batch), the same Idempotency-Key with the same or another body — learns nothing of it: no id,
    tracking code, title, description or address."""
    h = hostile
    api = clients[0]
    problems: list[str] = []
    for name in ("hotline", "sensor", "sos"):
        e = h.foreign[name]
        for description in (e.description, "本格新上报：楼道灯坏了"):
            body = {
                "description": description,
                "channel": e.channel,
                "external_id": e.external_id,
                "lat": 31.0325,
                "lng": 112.2025,
            }
            problems += _assert_learns_nothing(
                h,
                api.post("/api/v1/events/", body, format="json"),
                f"POST /api/v1/events/ {e.channel} {e.external_id}",
            )
        batch = [{"description": "本格批量：井盖松动", "channel": e.channel, "external_id": e.external_id}]
        problems += _assert_learns_nothing(
            h,
            api.post("/api/v1/events/batch/", batch, format="json"),
            f"POST /api/v1/events/batch/ {e.external_id}",
        )
        problems += _assert_learns_nothing(
            h,
            api.post("/api/v1/events/batch/", {"events": batch}, format="json"),
            f"POST /api/v1/events/batch/ {{events}} {e.external_id}",
        )
    idem = h.foreign["idem"]
    for description in (idem.description, "本格新上报：路面塌陷"):
        body = {"description": description, "lat": 31.0325, "lng": 112.2025}
        resp = api.post(
            "/api/v1/events/", body, format="json", HTTP_IDEMPOTENCY_KEY=ww.FOREIGN_IDEMPOTENCY_KEY
        )
        problems += _assert_learns_nothing(h, resp, f"Idempotency-Key replay ({description[:6]})")
    assert not problems, "replays that reveal another grid's report:\n" + "\n".join(problems)


def test_merge_with_other_grids_events_is_404(hostile: ww.Hostile, clients: Any) -> None:
    h = hostile
    api = clients[0]
    own, foreign = h.own["event"].pk, h.foreign["hotline"].pk
    before = ww.snapshot()
    for body in (
        {"master": own, "duplicates": [foreign]},
        {"master": foreign, "duplicates": [own]},
    ):
        resp = api.post("/api/v1/events/merge/", body, format="json")
        assert resp.status_code == 404, (body, resp.status_code, resp.content[:300])
        assert not _assert_learns_nothing(h, resp, str(body))
    page = clients[1].post(f"/events/{own}/merge/", {"duplicates": [foreign], "duplicate_ids": [foreign]})
    assert page.status_code in (400, 404), page.status_code
    assert not h.find_markers(body_text(page))
    assert not ww.diff(before, ww.snapshot())


def test_walkers_catch_an_unscoped_detail_and_an_embedded_foreign_object(
    hostile: ww.Hostile, clients: Any, settings: Any
) -> None:
    """The walkers themselves must fail on a leak: on a throwaway URLconf, an unscoped event detail and a
    scoped one whose answer embeds its merge master's tracking code, whatever grid the master is in."""
    from types import ModuleType

    from django.http import Http404
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from wangge.core.scope import scope_queryset
    from wangge.events.models import Event

    class Unscoped(APIView):
        def get(self, request: Any, pk: int) -> Response:
            e = Event.objects.filter(pk=pk).first()
            if e is None:
                raise Http404
            return Response({"id": e.pk, "title": e.title})

    class Embeds(APIView):
        def get(self, request: Any, pk: int) -> Response:
            e = scope_queryset(Event.objects.all(), request.user).filter(pk=pk).first()
            if e is None:
                raise Http404
            master = Event.objects.filter(pk=e.master_id).first()
            return Response({"id": e.pk, "merged_into": master and master.tracking_code})

    urlconf = ModuleType("walker_meta_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path(
            "api/v1/",
            include(
                [
                    path("events/<int:pk>/", Unscoped.as_view()),
                    path("events/<int:pk>/embeds/", Embeds.as_view()),
                ]
            ),
        )
    ]
    settings.ROOT_URLCONF = urlconf
    routes = ww.all_routes()
    assert [r.pattern for r in routes] == ["api/v1/events/<int:pk>/", "api/v1/events/<int:pk>/embeds/"]
    problems, _ = walk_details(hostile, clients, routes)
    assert any(p.startswith("GET /api/v1/events/") and ": 200" in p for p in problems), problems
    assert not any("/embeds/" in p for p in problems), problems
    problems, _ = walk_own(hostile, clients, routes)
    merged_away = hostile.own["merged_away"].pk
    code = hostile.foreign["master"].tracking_code
    assert problems == [f"GET /api/v1/events/{merged_away}/embeds/: {[f'text {code!r}']}"], problems
