"""A hostile fixture world and the introspection shared by the scope and anonymous walkers.

Grid worker `grid1` owns grid 420802001001001; everything else lives in other grids. Grid1's own events
are tied to other grids' objects through the services (a merged duplicate, a merge master, a dispute
party, a whistle), so a walker can check that nothing of the other grids comes back to grid1 — not as a
row, not embedded in one of grid1's own objects, not in a file.

Objects of grid1 are created before the others (in each table), so a foreign id is never also an id of
grid1's in the same table. Routes are found by walking the URL resolver; what a path parameter names is
read from the path (`events/<pk>/` → Event) with an explicit, commented table for the exceptions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver

GRID1_PATH = "420802001001001"

# ---- the world ------------------------------------------------------------------------------------


def populate_registers(world: SimpleNamespace) -> None:
    """A compound, building, dwelling, resident, place, facility and party branch in every grid (grid1's
    first), a volunteer team in c12 and a member unit in c21. Names of other grids' objects are
    distinctive so they can be searched for in any answer."""
    from wangge.party.models import MemberUnit, OrgLevel, PartyOrg
    from wangge.registry.models import (
        Facility,
        FacilityClass,
        Organisation,
        OrganisationKind,
        Place,
        Resident,
    )
    from wangge.territory.models import Building, Compound, Dwelling

    facility_class = FacilityClass.objects.first() or FacilityClass.objects.create(
        major="01", major_name="公用设施", minor="01", name="井盖"
    )
    for n, grid in enumerate([world.g111, world.g112, world.g121, world.g211], start=1):
        mine = grid.code == GRID1_PATH
        label = "本格" if mine else f"隔壁{n}号"
        community = grid.parent
        compound = Compound.objects.create(
            code=f"CT{grid.code}", name=f"{label}小区", community=community, grid=grid, path=grid.code
        )
        building = Building.objects.create(
            code=f"BT{grid.code}", name=f"{label}楼", compound=compound, grid=grid, path=grid.code
        )
        dwelling = Dwelling.objects.create(building=building, unit="1", room="101", path=grid.code)
        Resident.objects.create(name=f"{label}居民", building=building, dwelling=dwelling, path=grid.code)
        Place.objects.create(natural_key=f"place-{grid.code}", name=f"{label}商户", grid=grid, path=grid.code)
        Facility.objects.create(
            code=f"{grid.code[:6]}0101{n:06d}",
            facility_class=facility_class,
            lat=31.0,
            lng=112.2,
            grid=grid,
            path=grid.code,
        )
        PartyOrg.objects.create(
            name=f"{label}网格党支部", level=OrgLevel.GRID_BRANCH, territory=grid, path=grid.code
        )
    Organisation.objects.create(
        name="隔壁东湖志愿队", kind=OrganisationKind.VOLUNTEER, community=world.c12, path=world.c12.code
    )
    MemberUnit.objects.create(name="隔壁西山医院", community=world.c21, path=world.c21.code)


@dataclass
class Hostile:
    """The world plus what grid1 may see and what must never reach grid1."""

    world: SimpleNamespace
    own: dict[str, Any] = field(default_factory=dict)  # name → grid1's object
    foreign: dict[str, Any] = field(default_factory=dict)  # name → another grid's object
    markers: set[str] = field(default_factory=set)  # texts of other grids' objects
    foreign_event_ids: set[int] = field(default_factory=set)
    foreign_resident_ids: set[int] = field(default_factory=set)

    def find_markers(self, text: str) -> list[str]:
        return sorted(m for m in self.markers if m in text)


FOREIGN_TEXTS = {
    # name: (grid attribute, description, address, channel, external id)
    "dup": ("g112", "隔壁二号楼道堆满纸箱堵住消防通道", "隔壁路2号", "resident", None),
    "master": ("g112", "隔壁二号小区门口井盖缺失很危险", "隔壁路3号", "resident", None),
    "hotline": ("g112", "隔壁热线工单反映夜间施工噪音扰民", "隔壁路4号", "hotline", "HL-WALK-0001"),
    "sensor": ("g121", "隔壁东湖水位传感器告警超警戒线", "隔壁路5号", "sensor", "SN-WALK-0001"),
    "sos": ("g211", "隔壁西山独居老人一键呼叫求助", "隔壁路6号", "sos", "SOS-WALK-0001"),
    "idem": ("g112", "隔壁幂等上报路灯整排不亮", "隔壁路7号", "api", None),
    "whistled": ("g121", "隔壁东湖违建需要多部门联合执法", "隔壁路8号", "resident", None),
}
FOREIGN_IDEMPOTENCY_KEY = "walker-foreign-idem-0001"


def build(world: SimpleNamespace) -> Hostile:
    """Registers and events in every grid; grid1's events tied to other grids' objects by the services."""
    from datetime import date

    from wangge.conftest import centre
    from wangge.events.disputes import dispute_party_add, mediation_session_add
    from wangge.events.models import Category, Event, HandlingUnit
    from wangge.events.services import (
        EventInput,
        event_accept,
        event_create,
        event_dispatch,
        event_feedback,
        event_verify,
    )
    from wangge.events.triage.merge import event_merge
    from wangge.events.workflow.whistle import whistle_blow
    from wangge.registry.models import Resident
    from wangge.territory.services import grid_assign_staff

    h = Hostile(world=world)
    users = world.users
    for grid, user in ((world.g111, users.grid1), (world.g112, users.grid2)):
        grid_assign_staff(grid=grid, user=user, since=date(2025, 1, 1))
    populate_registers(world)

    def event(
        grid: Any,
        text: str,
        address: str,
        *,
        channel: str = "resident",
        external_id: Any = None,
        category: str = "0103",
        key: str | None = None,
        actor: Any = None,
    ) -> Event:
        col = {"g111": 0, "g112": 1, "g121": 2, "g211": 3}[grid]
        lat, lng = centre(col, 0)
        data = EventInput(
            description=text,
            lat=lat,
            lng=lng,
            address=address,
            channel=channel,
            external_id=external_id,
            reporter_name="走查人",
            reporter_phone="13800000000",
        )
        e, _ = event_create(data=data, actor=actor, idempotency_key=key)
        node = getattr(world, grid)
        Event.objects.filter(pk=e.pk).update(
            path=node.code,
            grid=node,
            category=Category.objects.filter(code=category).first(),
            needs_triage=False,
        )
        e.refresh_from_db()
        return e

    # grid1's own events first (lower ids than any foreign event).
    h.own["event"] = event("g111", "本格烧烤油烟很大", "本格路1号")
    h.own["merged_away"] = event("g111", "本格门口井盖缺失", "本格路9号")
    h.own["dispute"] = event("g111", "本格邻里因为漏水吵架需要调解", "本格路2号", category="0601")
    handled = event("g111", "本格路灯不亮", "本格路3号")
    handled = event_accept(event_id=handled.pk, actor=users.grid1)
    handled = event_dispatch(event_id=handled.pk, actor=users.grid1)
    h.own["handled"] = event_feedback(event_id=handled.pk, actor=users.grid1, note="已处理")
    closed = event("g111", "本格垃圾满溢", "本格路4号")
    closed = event_accept(event_id=closed.pk, actor=users.grid1)
    closed = event_dispatch(event_id=closed.pk, actor=users.grid1)
    closed = event_feedback(event_id=closed.pk, actor=users.grid1, note="已清运")
    h.own["closed"] = event_verify(event_id=closed.pk, actor=users.community1, passed=True, note="核实")

    for name, (grid, text, address, channel, external_id) in FOREIGN_TEXTS.items():
        key = FOREIGN_IDEMPOTENCY_KEY if name == "idem" else None
        actor = users.grid2 if name == "idem" else None
        h.foreign[name] = event(
            grid, text, address, channel=channel, external_id=external_id, key=key, actor=actor
        )

    # A district admin merges another grid's duplicate into grid1's event, and grid1's other event into
    # another grid's master: both appear in grid1's own events' detail and timeline.
    event_merge(
        master_id=h.own["event"].pk, duplicate_ids=[h.foreign["dup"].pk], actor=users.admin, note="走查：合并"
    )
    event_merge(
        master_id=h.foreign["master"].pk,
        duplicate_ids=[h.own["merged_away"].pk],
        actor=users.admin,
        note="走查：合并",
    )
    # A resident of another community is a party of grid1's dispute; a session is recorded.
    foreign_resident = Resident.objects.get(path=world.g121.code)
    dispute_party_add(
        actor=users.admin, event_id=h.own["dispute"].pk, side="applicant", resident_id=foreign_resident.pk
    )
    from django.utils import timezone

    mediation_session_add(
        actor=users.admin,
        event_id=h.own["dispute"].pk,
        held_at=timezone.now(),
        mediator="走查调解员",
        summary="走查调解",
    )
    # Whistles on grid1's event and on another grid's event, answered by a district unit.
    unit = HandlingUnit.objects.create(
        name="走查执法大队", kind=HandlingUnit.Kind.ENFORCEMENT, territory=world.district, path="420802"
    )
    unit.members.set([users.dept1])
    whistle_blow(event_id=h.own["event"].pk, actor=users.admin, unit_ids=[unit.pk], note="走查吹哨")
    whistle_blow(
        event_id=h.foreign["whistled"].pk, actor=users.admin, unit_ids=[unit.pk], note="隔壁吹哨联合执法"
    )
    h.markers.add("隔壁吹哨联合执法")
    # A photo on grid1's event and on another grid's.
    from wangge.events.services import event_photos_add
    from wangge.events.tests.core_helpers import photo

    h.own["attachment"] = event_photos_add(event_id=h.own["event"].pk, actor=users.grid1, files=[photo()])[0]
    h.foreign["attachment"] = event_photos_add(
        event_id=h.foreign["whistled"].pk, actor=users.admin, files=[photo("隔壁照片.jpg")]
    )[0]

    for e in Event.objects.exclude(path__startswith=GRID1_PATH):
        h.foreign_event_ids.add(e.pk)
        h.markers.update(x for x in (e.tracking_code, e.title, e.description, e.address) if x)
    h.foreign_resident_ids = set(
        Resident.objects.exclude(path__startswith=GRID1_PATH).values_list("pk", flat=True)
    )
    for model_label, attr in (
        ("registry.Resident", "name"),
        ("registry.Place", "name"),
        ("registry.Organisation", "name"),
        ("territory.Building", "name"),
        ("territory.Building", "code"),
        ("territory.Compound", "name"),
        ("party.PartyOrg", "name"),
        ("party.MemberUnit", "name"),
    ):
        model = apps.get_model(model_label)
        h.markers.update(
            v for v in model.objects.exclude(path__startswith=GRID1_PATH).values_list(attr, flat=True) if v
        )
    return h


# ---- routes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str  # the joined pattern text, e.g. "api/v1/^events/(?P<pk>\\d+)/$"
    regex: str  # one regex for the whole path
    params: tuple[str, ...]  # names of the path parameters in order
    converters: dict[str, str]  # name → converter class name ("IntConverter", ...) or "regex"
    callback: Any

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    def methods(self) -> set[str] | None:
        """HTTP methods the view declares (lower case), or None if it cannot tell (a function view)."""
        actions = getattr(self.callback, "actions", None)
        if actions is not None:
            return set(actions)
        cls = getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)
        if cls is not None:
            return {m for m in ("get", "post", "put", "patch", "delete") if callable(getattr(cls, m, None))}
        return None


def _walk(
    patterns: Iterable[Any], prefix: str = "", regex: str = "", convs: dict[str, Any] | None = None
) -> Iterator[Route]:
    for p in patterns:
        pattern_regex = p.pattern.regex.pattern
        piece = pattern_regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
        here_convs = dict(convs or {})
        here_convs.update(getattr(p.pattern, "converters", {}) or {})
        here = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, here, regex + piece, here_convs)
        elif isinstance(p, URLPattern):
            full = regex + piece
            names = tuple(re.findall(r"\(\?P<(\w+)>", full))
            converters = {n: type(here_convs[n]).__name__ if n in here_convs else "regex" for n in names}
            yield Route(here, "^" + full + "$", names, converters, p.callback)


def all_routes(include_admin: bool = False) -> list[Route]:
    out = []
    for r in _walk(get_resolver().url_patterns):
        if not include_admin and r.pattern.startswith("admin/"):
            continue
        out.append(r)
    return out


def fill(route: Route, values: dict[str, Any]) -> str:
    """The concrete URL of `route` with each path parameter replaced by values[name]."""
    regex = route.regex.removeprefix("^").removesuffix("$")
    out = []
    i = 0
    # Replace each named group (balanced parentheses) by its value, then drop regex syntax.
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name = regex[i + 4 : regex.index(">", i)]
            depth, j = 0, i
            while True:
                if regex[j] == "\\":
                    j += 2
                    continue
                if regex[j] == "(":
                    depth += 1
                elif regex[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append(str(values[name]))
            i = j + 1
        elif regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        elif regex[i] in "^$":
            i += 1
        else:
            out.append(regex[i])
            i += 1
    return "/" + "".join(out)


# What a path segment names when it is not the model's own name (plural). Each entry is a decision.
SEGMENT_MODELS = {
    "grids": "territory.Territory",  # a grid is a territory node
    "imports": "exchange.ImportJob",
    "extensions": "events.ExtensionRequest",
    "event-categories": "events.Category",
    "photos": "events.Attachment",
    "attachments": "events.Attachment",
}
# Parameters that name another object than the segment before them.
PARAM_MODELS = {"att_id": "events.Attachment", "aid": "events.Attachment"}


def _project_models() -> dict[str, type[models.Model]]:
    out = {}
    for m in apps.get_models():
        if m.__module__.startswith("wangge."):
            out[m._meta.model_name] = m
    return out


def model_for(route: Route, param: str) -> type[models.Model] | None:
    """The model a path parameter names: from PARAM_MODELS, else the path segment just before it."""
    if param in PARAM_MODELS:
        return apps.get_model(PARAM_MODELS[param])
    path = fill(route, {n: f"<{n}>" for n in route.params})
    segments = [s for s in path.split("/") if s]
    if f"<{param}>" not in segments:
        return None  # part of a segment (open311's "requests/<id>.<fmt>"): not an object id by itself
    idx = segments.index(f"<{param}>")
    if idx == 0:
        return None
    seg = segments[idx - 1]
    if seg in SEGMENT_MODELS:
        return apps.get_model(SEGMENT_MODELS[seg])
    models_by_name = _project_models()
    base = seg.replace("-", "").replace("_", "")
    for cand in (base, base[:-1], base[:-3] + "y", base[:-2]):
        if cand in models_by_name:
            return models_by_name[cand]
    return None


def _territory_q(model: type[models.Model], prefix: str = "") -> Q | None:
    """A Q on `model` that selects rows inside the grid `GRID1_PATH`, or None if it has no territory."""
    names = {f.name for f in model._meta.get_fields()}
    if model._meta.label == "territory.Territory":
        return Q(code__startswith=GRID1_PATH)
    if "path" in names:
        return Q(**{f"{prefix}path__startswith": GRID1_PATH})
    for fk in ("event", "whistle", "building", "resident", "device"):
        if fk in names:
            target = model._meta.get_field(fk).related_model
            inner = _territory_q(target, prefix + fk + "__")  # type: ignore[arg-type]
            if inner is not None:
                return inner
    return None


def foreign_ids(model: type[models.Model]) -> list[int]:
    """Ids of `model` rows outside grid1 (for territory nodes: not grid1 and not one of its ancestors)."""
    q = _territory_q(model)
    if q is None:
        return []
    qs = model._default_manager.exclude(q)
    if model._meta.label == "territory.Territory":
        ancestors = [GRID1_PATH[:n] for n in (6, 9, 12)]
        qs = qs.exclude(code__in=ancestors)
    return list(qs.order_by("pk").values_list("pk", flat=True))


def own_ids(model: type[models.Model]) -> list[int]:
    q = _territory_q(model)
    if q is None:
        return list(model._default_manager.order_by("pk").values_list("pk", flat=True)[:3])
    return list(model._default_manager.filter(q).order_by("pk").values_list("pk", flat=True))


# ---- the database, all of it ------------------------------------------------------------------------


def snapshot(skip: Iterable[str] = ()) -> dict[str, dict[Any, str]]:
    """{table: {primary key: digest of the row}} for every table of every installed model."""
    skip = set(skip)
    out: dict[str, dict[Any, str]] = {}
    seen = set()
    with connection.cursor() as cur:
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            if table in seen or table in skip or not model._meta.managed:
                continue
            seen.add(table)
            pk = model._meta.pk.column
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - model tables
            cols = [c[0] for c in cur.description]
            ipk = cols.index(pk) if pk in cols else 0
            out[table] = {
                row[ipk]: hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest()
                for row in cur.fetchall()
            }
    return out


@dataclass
class Diff:
    added: dict[str, list[Any]] = field(default_factory=dict)
    removed: dict[str, list[Any]] = field(default_factory=dict)
    changed: dict[str, list[Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff(before: dict[str, dict[Any, str]], after: dict[str, dict[Any, str]]) -> Diff:
    d = Diff()
    for table in before.keys() | after.keys():
        a, b = before.get(table, {}), after.get(table, {})
        added = [k for k in b if k not in a]
        removed = [k for k in a if k not in b]
        changed = [k for k in a if k in b and a[k] != b[k]]
        if added:
            d.added[table] = added
        if removed:
            d.removed[table] = removed
        if changed:
            d.changed[table] = changed
    return d


# ---- values for path parameters that are not object ids --------------------------------------------


def param_values(h: Hostile, route: Route, name: str, *, own: bool = True) -> list[Any] | None:
    """Values to put in a path parameter that does not name a model row; None if it is unknown (then
    add it here: a walker must be able to reach every route)."""
    from wangge.exchange.models import ImportKind

    event = h.own["handled"] if own else h.foreign["hotline"]
    table: dict[str, list[Any]] = {
        "kind": list(ImportKind.values),  # exports and import templates: every kind
        "key": ["accept", "reject", "escalate", "reopen", "dispatch", "feedback", "verify"],  # page actions
        # Public tracking: the tracking code of a report waiting for the reporter's check, and of a
        # closed one waiting for a rating.
        "code": [event.tracking_code, h.own["closed"].tracking_code],
        "tracking_code": [event.tracking_code, h.own["closed"].tracking_code],
        "request_id": [event.tracking_code],  # Open311: the tracking code is the service_request_id
        "token": [event.tracking_code],
        "fmt": ["json", "xml"],
        "rest": ["nothing-here"],
        # A classifier training task: an id no task has (the route answers only the district admin).
        "task_id": ["00000000-0000-0000-0000-000000000000"],
        # Base-map tiles (public; a tile the file does not hold is 404).
        "z": [0],
        "x": [0],
        "y": [0],
    }
    if route.pattern.startswith("open311/") and name == "code":
        from wangge.events.models import Category

        return [Category.objects.order_by("pk").values_list("code", flat=True).first()]
    return table.get(name)
