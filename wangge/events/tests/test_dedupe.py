"""Duplicate detection: category, distance, building/address, time window, state, scope, API."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wangge.conftest import STEP, assert_error, centre
from wangge.core.errors import NotFound
from wangge.events.models import Category, Event, Status
from wangge.events.services import EventInput, event_create
from wangge.events.triage.dedupe import (
    Candidate,
    bounding_box,
    box_around,
    duplicate_candidates,
    find_duplicates,
    haversine_m,
    open_candidates,
    open_status_ids,
    place_q,
    recent_nearby,
    text_similarity,
)
from wangge.territory.models import Building, Compound

M_PER_DEG = 111_320.0


def make_event(
    world: Any,
    text: str,
    *,
    grid: Any = None,
    north_m: float = 0.0,
    east_m: float = 0.0,
    col: int = 0,
    category: str | None = "0103",
    suggested: str | None = None,
    address: str = "",
    point: bool = True,
    **input_kw: Any,
) -> Event:
    """An event at the centre of lattice cell `col` (offset in metres), located to `grid` and classified."""
    grid = grid or world.g111
    lat, lng = centre(col, 0)
    lat += north_m / M_PER_DEG
    lng += east_m / (M_PER_DEG * 0.857)  # cos(31°)
    data = EventInput(
        description=text,
        lat=lat if point else None,
        lng=lng if point else None,
        address=address,
        channel=input_kw.pop("channel", "resident"),
        **input_kw,
    )
    event, _ = event_create(data=data)
    cats = {c.code: c for c in Category.objects.filter(code__in=[x for x in (category, suggested) if x])}
    Event.objects.filter(pk=event.pk).update(
        path=grid.path,
        grid=grid,
        category=cats.get(category),
        suggested_category=cats.get(suggested),
        needs_triage=False,
    )
    event.refresh_from_db()
    return event


def test_geometry_helpers():
    assert haversine_m(31.0, 112.0, 31.001, 112.0) == pytest.approx(111.2, abs=0.5)
    min_lat, max_lat, min_lng, max_lng = bounding_box(31.0, 112.0, 100)
    assert haversine_m(31.0, 112.0, max_lat, 112.0) == pytest.approx(100, abs=1)
    assert haversine_m(31.0, 112.0, 31.0, max_lng) == pytest.approx(100, abs=1)
    assert text_similarity("烧烤油烟很大", "烧烤油烟很大") == 1.0
    assert text_similarity("烧烤油烟很大", "路灯不亮") == 0.0
    assert 0 < text_similarity("小区门口烧烤油烟很大", "门口烧烤店油烟大") < 1
    assert text_similarity("", "油烟") == 0.0


def every_rule(world: Any) -> dict[str, Event]:
    """A report and others around it that each meet or miss one rule of the duplicate search."""
    base = make_event(world, "小区门口烧烤店油烟很大，呛得开不了窗", address="幸福路1号")
    made = dict(
        base=base,
        near_similar=make_event(world, "门口烧烤店油烟很大，开不了窗", north_m=30),
        near_other_text=make_event(world, "饭店排烟管对着我家", east_m=-60),
        suggested_only=make_event(world, "烧烤油烟呛人", north_m=-20, category=None, suggested="0103"),
        same_address=make_event(world, "幸福路1号楼下油烟", point=False, address="幸福路1号"),
        far=make_event(world, "小区门口烧烤店油烟很大", east_m=400),  # next grid (outside all: refused)
        just_outside=make_event(world, "小区门口烧烤店油烟很大", north_m=105),
        other_category=make_event(world, "小区门口烧烤店油烟很大", north_m=10, category="0104"),
        old=make_event(world, "小区门口烧烤店油烟很大", north_m=10),
        closed=make_event(world, "小区门口烧烤店油烟很大", north_m=10),
        rejected=make_event(world, "小区门口烧烤店油烟很大", north_m=10),
        merged=make_event(world, "小区门口烧烤店油烟很大", north_m=10),
    )
    Event.objects.filter(pk=made["old"].pk).update(created_at=base.created_at - timedelta(hours=80))
    Event.objects.filter(pk=made["closed"].pk).update(status=Status.objects.get(code="closed"))
    Event.objects.filter(pk=made["rejected"].pk).update(status=Status.objects.get(code="rejected"))
    Event.objects.filter(pk=made["merged"].pk).update(master=made["near_similar"])
    return made


@pytest.mark.django_db
def test_find_duplicates_applies_every_rule(world, settings):
    settings.WANGGE_DEDUPE_METRES = 100
    settings.WANGGE_DEDUPE_HOURS = 72
    made = every_rule(world)
    base, near_similar, near_other_text, suggested_only, same_address = (
        made[k] for k in ("base", "near_similar", "near_other_text", "suggested_only", "same_address")
    )
    far, just_outside, other_category, old, closed, rejected, merged = (
        made[k] for k in ("far", "just_outside", "other_category", "old", "closed", "rejected", "merged")
    )

    rows = find_duplicates(event=base, limit=10)
    found = [e.pk for e, _ in rows]
    assert set(found) == {near_similar.pk, near_other_text.pk, suggested_only.pk, same_address.pk}
    for excluded in (far, just_outside, other_category, old, closed, rejected, merged, base):
        assert excluded.pk not in found
    # Most similar text first; scores in [0, 1].
    assert found[0] == near_similar.pk
    scores = [s for _, s in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert len(find_duplicates(event=base, limit=2)) == 2
    # A wider window brings back the old report.
    settings.WANGGE_DEDUPE_HOURS = 100
    assert old.pk in [e.pk for e, _ in find_duplicates(event=base, limit=10)]


@pytest.mark.django_db
def test_recent_nearby_reads_what_the_rules_allow(world: Any) -> None:
    """The intake's candidate rows (compiled once per shape): each place arm — box, building, address —
    and each category arm — category, or unclassified with that suggestion — alone and together."""
    made = every_rule(world)
    base = made["base"]
    box = box_around([(base.lat, base.lng)], 100.0)
    since = base.created_at - timedelta(hours=72)
    category = base.category_id

    def found(**places: Any) -> set[str]:
        args: dict[str, Any] = dict(box=[], building_ids=set(), addresses=set())
        rows = recent_nearby(**{**args, **places}, since=since, category_ids={category}, limit=50)
        assert all(isinstance(r, Candidate) for r in rows)
        names = {e.pk: k for k, e in made.items()}
        return {names[r.pk] for r in rows}

    in_box = {"base", "near_similar", "near_other_text", "suggested_only"}
    assert found(box=box) == in_box
    assert found(addresses={"幸福路1号"}) == {"base", "same_address"}
    assert found(box=box, addresses={"幸福路1号"}) == in_box | {"same_address"}
    compound = Compound.objects.create(code="C1", name="六合小区", community=world.c11, path=world.g111.code)
    building = Building.objects.create(code="B1", name="3栋", compound=compound, path=world.g111.code)
    Event.objects.filter(pk__in=[made["far"].pk, made["old"].pk]).update(building=building)
    assert found(building_ids={building.pk}) == {"far"}  # the old one is outside the window
    assert found(box=box, building_ids={building.pk}, addresses={"幸福路1号"}) == in_box | {
        "same_address",
        "far",
    }
    # No place (or no open status), no candidates; another category's rows are not read; the newest
    # first, at most `limit`.
    assert not open_candidates([], since=since, category_ids=set(), open_ids=open_status_ids()).exists()
    assert not open_candidates(
        place_q(box=box, building_ids=[], addresses=[]), since=since, category_ids=set(), open_ids=[]
    ).exists()
    assert open_candidates(
        place_q(box=box, building_ids=[], addresses=[]),
        since=since,
        category_ids=set(),
        open_ids=open_status_ids(),
    ).exists()
    assert (
        recent_nearby(box=[], building_ids=[], addresses=[], since=since, category_ids={category}, limit=5)
        == []
    )
    other = Category.objects.get(code="0104").pk
    rows = recent_nearby(box=box, building_ids=[], addresses=[], since=since, category_ids={other}, limit=5)
    assert [r.pk for r in rows] == [made["other_category"].pk]
    rows = recent_nearby(
        box=box, building_ids=[], addresses=[], since=since, category_ids={category}, limit=2
    )
    newest = Event.objects.filter(pk__in=[made[k].pk for k in in_box]).order_by("-created_at", "-pk")
    assert len(rows) == 2 and {r.pk for r in rows} <= {e.pk for e in newest}
    # The row carries what the comparison and the triage note read.
    (row,) = [
        r
        for r in recent_nearby(
            box=box, building_ids=[], addresses=[], since=since, category_ids={category}, limit=50
        )
        if r.pk == base.pk
    ]
    assert (row.tracking_code, row.title, row.description, row.lat, row.lng, row.address) == (
        base.tracking_code,
        base.title,
        base.description,
        base.lat,
        base.lng,
        base.address,
    )


@pytest.mark.django_db
def test_candidate_query_is_bounded_by_box_and_window(world):
    from wangge.events.reference import reference

    base = make_event(world, "油烟很大")
    reference()  # the open statuses come from the per-process reference copy, read once
    with CaptureQueriesContext(connection) as ctx:
        find_duplicates(event=base)
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"].lower()
    assert "between" in sql and '"lat"' in sql and '"lng"' in sql and '"created_at"' in sql


@pytest.mark.django_db
def test_event_without_place_or_category(world):
    nowhere = make_event(world, "油烟很大", point=False, address="临时", category=None)
    Event.objects.filter(pk=nowhere.pk).update(address="")
    nowhere.refresh_from_db()
    assert find_duplicates(event=nowhere) == []
    # No category yet: any category at the same place counts, ordered by text.
    a = make_event(world, "路灯不亮", category=None)
    b = make_event(world, "路灯不亮了", north_m=5, category="0702")
    assert [e.pk for e, _ in find_duplicates(event=a)] == [b.pk]


@pytest.mark.django_db
def test_duplicate_candidates_are_scoped(world):
    # Two reports 40 m apart on both sides of the border between grids g111 and g112.
    west = make_event(world, "烧烤油烟很大", col=0, east_m=STEP * M_PER_DEG * 0.857 / 2 - 20)
    east = make_event(
        world, "烧烤油烟很大呛人", grid=world.g112, col=1, east_m=-(STEP * M_PER_DEG * 0.857 / 2 - 20)
    )
    assert [e.pk for e, _ in find_duplicates(event=west)] == [east.pk]
    assert [e.pk for e, _ in duplicate_candidates(user=world.users.community1, event_id=west.pk)] == [east.pk]
    assert duplicate_candidates(user=world.users.grid1, event_id=west.pk) == []
    with pytest.raises(NotFound):
        duplicate_candidates(user=world.users.grid2, event_id=west.pk)
    with pytest.raises(NotFound):
        duplicate_candidates(user=world.users.street2, event_id=west.pk)
    with pytest.raises(NotFound):
        duplicate_candidates(user=world.users.admin, event_id="abc")


@pytest.mark.django_db
def test_duplicates_api(world, api_for):
    a = make_event(world, "小区门口烧烤店油烟很大")
    b = make_event(world, "门口烧烤店油烟很大", north_m=20)
    resp = api_for(world.users.community1).get(f"/api/v1/events/{a.pk}/duplicates/")
    assert resp.status_code == 200, resp.content
    [row] = resp.json()
    assert row["id"] == b.pk and row["tracking_code"] == b.tracking_code and row["category"] == "0103"
    assert 15 < row["distance_m"] < 25 and 0 < row["score"] <= 1
    assert_error(api_for(world.users.street2).get(f"/api/v1/events/{a.pk}/duplicates/"), 404, "not_found")
    assert_error(api_for(world.users.admin).get("/api/v1/events/999999/duplicates/"), 404, "not_found")
    assert_error(api_for(world.users.resident1).get(f"/api/v1/events/{a.pk}/duplicates/"), 403)


def test_likely_duplicate_shown_only_when_the_user_may_see_it(world: Any) -> None:
    from wangge.events.tests.core_helpers import G111, G211, report
    from wangge.events.triage.dedupe import likely_duplicates_visible

    outside = report("路灯坏了", at=G211)  # street 2: outside community1's scope
    inside = report("路边烧烤油烟很大", at=G111)
    mine = report("楼道堆满杂物", at=G111)
    Event.objects.filter(pk=mine.pk).update(
        extra={"likely_duplicate": {"id": outside.pk, "tracking_code": outside.tracking_code, "score": 0.8}}
    )
    Event.objects.filter(pk=inside.pk).update(
        extra={"likely_duplicate": {"id": mine.pk, "tracking_code": mine.tracking_code, "score": 0.6}}
    )
    events = list(Event.objects.filter(pk__in=[inside.pk, mine.pk]))
    seen = likely_duplicates_visible(user=world.users.community1, events=events)
    assert seen == {inside.pk: {"id": mine.pk, "tracking_code": mine.tracking_code, "score": 0.6}}
    assert set(likely_duplicates_visible(user=world.users.admin, events=events)) == {inside.pk, mine.pk}


def test_nearby_index_misses_nothing_a_full_scan_would_match() -> None:
    """The batch's spatial index against a brute-force scan: every report at the same place (within the
    distance, same building or same address) is among the candidates, in the order added."""
    import random

    from wangge.events.triage.dedupe import Nearby, match

    rng = random.Random(7)
    metres = 80.0
    events = []
    for i in range(400):
        # Clustered points around two spots (one far north, where a degree of longitude is short),
        # straddling cell edges; some with a building or an address only.
        lat0, lng0 = rng.choice([(31.2, 121.4), (60.1, 24.9)])
        e = Event(pk=i + 1, title="", description="", address="")
        if rng.random() < 0.85:
            e.lat, e.lng = lat0 + rng.uniform(-0.003, 0.003), lng0 + rng.uniform(-0.003, 0.003)
        if rng.random() < 0.1:
            e.building_id = rng.choice([1, 2])
        if rng.random() < 0.1:
            e.address = rng.choice(["六合路8号", "竹园小区1栋 "])
        events.append(e)
    index = Nearby(metres, max(abs(e.lat) for e in events if e.lat is not None))
    for e in events:
        index.add(e)
    checked = 0
    for e in events:
        got = index.candidates(e)
        assert [x.pk for x in got] == sorted(x.pk for x in got)  # insertion order
        full = [o for o in events if match(e, o, metres=metres) is not None]
        assert {o.pk for o in full} <= {o.pk for o in got}
        checked += len(full)
    assert checked > 2 * len(events)  # many real matches, not an empty comparison


def test_event_detail_hides_a_likely_duplicate_the_viewer_may_not_see(world: Any, api_for: Any) -> None:
    """The triage step's note of a likely duplicate names that event's tracking code: staff who may see
    the event but not its look-alike in a neighbouring territory get the note without it."""
    from wangge.events.models import TimelineEntry
    from wangge.events.tests.core_helpers import G111, G211, report

    outside = report("路灯坏了", at=G211)  # street 2: outside community1's scope
    mine = report("楼道堆满杂物", at=G111)
    TimelineEntry.objects.filter(event=mine, action="triage").update(
        data={"likely_duplicate": {"id": outside.pk, "tracking_code": outside.tracking_code, "score": 0.8}}
    )

    def noted(user: Any) -> Any:
        resp = api_for(user).get(f"/api/v1/events/{mine.pk}/")
        assert resp.status_code == 200, resp.content
        [triage] = [t for t in resp.json()["timeline"] if t["action"] == "triage"]
        return triage["data"]["likely_duplicate"]

    assert noted(world.users.community1) is None
    page = api_for(world.users.community1).get(f"/api/v1/events/{mine.pk}/")
    assert outside.tracking_code not in page.content.decode()
    assert noted(world.users.admin)["tracking_code"] == outside.tracking_code


def test_bigrams_are_remembered_for_usual_lengths_only() -> None:
    from wangge.events.triage import dedupe

    dedupe._remembered_bigrams.cache_clear()
    short = "小区门口烧烤油烟很大，呛得受不了"
    long = "楼道堆满杂物" * 60  # 360 characters: computed each time, never kept
    assert (
        dedupe._bigrams(short)
        == dedupe._bigrams_of(short)
        == frozenset(
            {
                "小区",
                "区门",
                "门口",
                "口烧",
                "烧烤",
                "烤油",
                "油烟",
                "烟很",
                "很大",
                "大呛",
                "呛得",
                "得受",
                "受不",
                "不了",
            }
        )
    )
    assert dedupe._bigrams(long) == dedupe._bigrams_of(long)
    assert dedupe._bigrams(short) is dedupe._bigrams(short)  # the remembered set, shared (and frozen)
    assert dedupe._remembered_bigrams.cache_info().currsize == 1
