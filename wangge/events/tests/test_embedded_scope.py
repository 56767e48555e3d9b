"""Related objects embedded in what a viewer is shown (merged events in the timeline and merged_count,
the merge answer, dispute parties) are scoped for that viewer, on the API (fast path and DRF) and pages."""

import json
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from wangge.events import display, selectors
from wangge.events.disputes import OTHER_GRID_RESIDENT, dispute_party_add
from wangge.events.models import Event
from wangge.events.triage.merge import event_merge
from wangge.registry.services import resident_create
from wangge.registry.tests.factories import make_id

from .test_dedupe import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(world: Any) -> tuple[Event, Event]:
    """grid1's event (g111) as master, with a report from grid g112 merged in by community staff."""
    master = make_event(world, "小区门口烧烤店油烟很大")
    other = make_event(world, "烧烤店油烟很大呛人", grid=world.g112, col=1)
    event_merge(
        master_id=master.pk, duplicate_ids=[other.pk], actor=world.users.community1, note="同一烧烤店"
    )
    return master, other


def _details(api_for: Any, user: Any, pk: int) -> list[dict[str, Any]]:
    """The detail through the fast path (plain token GET) and through DRF (?format=json): both."""
    client = api_for(user)
    fast = client.get(f"/api/v1/events/{pk}/")
    drf = client.get(f"/api/v1/events/{pk}/?format=json")
    assert fast.status_code == drf.status_code == 200
    return [json.loads(fast.content), json.loads(drf.content)]


def _merge_entry(detail: dict[str, Any]) -> dict[str, Any]:
    (entry,) = [t for t in detail["timeline"] if t["action"] == "merge"]
    return entry["data"]


def test_merge_entry_and_count_as_seen_by_the_grid_worker(world: Any, api_for: Any, merged: Any) -> None:
    master, other = merged
    for detail in _details(api_for, world.users.grid1, master.pk):
        assert _merge_entry(detail) == {"duplicates": [], "tracking_codes": []}
        assert detail["merged_count"] == 0
        assert other.tracking_code not in json.dumps(detail, ensure_ascii=False)
    for detail in _details(api_for, world.users.community1, master.pk):
        assert _merge_entry(detail) == {"duplicates": [other.pk], "tracking_codes": [other.tracking_code]}
        assert detail["merged_count"] == 1


def test_merged_into_entry_as_seen_from_the_other_grid(world: Any, api_for: Any, merged: Any) -> None:
    master, other = merged
    for detail in _details(api_for, world.users.grid2, other.pk):
        (entry,) = [t for t in detail["timeline"] if t["action"] == "merged_into"]
        assert entry["data"]["master"] is None
    for detail in _details(api_for, world.users.community1, other.pk):
        (entry,) = [t for t in detail["timeline"] if t["action"] == "merged_into"]
        assert entry["data"]["master"] == master.pk


def test_merging_into_that_master_answers_only_with_what_the_worker_sees(
    world: Any, api_for: Any, merged: Any
) -> None:
    master, other = merged
    mine = make_event(world, "门口烧烤油烟", north_m=20)
    r = api_for(world.users.grid1).post(
        "/api/v1/events/merge/", {"master": master.pk, "duplicates": [mine.pk]}, format="json"
    )
    assert r.status_code == 200, r.content
    assert [m["id"] for m in r.json()["merged"]] == [mine.pk]
    assert other.tracking_code not in r.content.decode() and other.title not in r.content.decode()


def test_detail_page_lists_only_visible_merged_reports(world: Any, merged: Any) -> None:
    master, other = merged
    pages = {}
    for user in (world.users.grid1, world.users.community1):
        c = Client()
        c.force_login(user)
        r = c.get(f"/events/{master.pk}/")
        assert r.status_code == 200
        pages[user.username] = r.content.decode()
    assert other.tracking_code not in pages["grid1"] and f"/events/{other.pk}/" not in pages["grid1"]
    assert other.tracking_code in pages["community1"]


def test_scoping_costs_one_query_however_many_were_merged(world: Any) -> None:
    def detail_queries(master: Event) -> int:
        with CaptureQueriesContext(connection) as ctx:
            event = selectors.event_get_detail(user=world.users.grid1, pk=master.pk)
            display.event_detail(event, viewer=world.users.grid1)
        return len(ctx.captured_queries)

    one = make_event(world, "路灯不亮")
    event_merge(
        master_id=one.pk,
        duplicate_ids=[make_event(world, "路灯坏了", grid=world.g112, col=1).pk],
        actor=world.users.community1,
    )
    many = make_event(world, "井盖缺失", north_m=100)
    dups = [make_event(world, f"井盖丢了{i}", grid=world.g112, col=1, north_m=i * 5).pk for i in range(5)]
    event_merge(master_id=many.pk, duplicate_ids=dups, actor=world.users.community1)
    selectors.event_get_detail(user=world.users.grid1, pk=one.pk)  # warm the per-process caches
    assert detail_queries(one) == detail_queries(many)


# --- dispute parties -------------------------------------------------------------------------------------


def test_dispute_party_from_another_grid(world: Any, api_for: Any, dispute: Event) -> None:
    neighbour = resident_create(
        actor=world.users.community1,
        name="李四海",
        id_number=make_id(date(1965, 3, 4), seq=31),
        grid=world.g112,
    )
    dispute_party_add(
        actor=world.users.community1, event_id=dispute.pk, side="respondent", resident_id=neighbour.pk
    )
    r = api_for(world.users.grid1).get(f"/api/v1/events/{dispute.pk}/dispute/")
    assert r.status_code == 200, r.content
    (party,) = r.json()["parties"]
    assert party["resident"] is None and party["name"] == OTHER_GRID_RESIDENT
    assert "李" not in r.content.decode()
    for detail in _details(api_for, world.users.grid1, dispute.pk):
        (entry,) = [t for t in detail["timeline"] if t["action"] == "dispute_party"]
        assert "resident" not in entry["data"]
    # The community's staff, whose territory holds that resident, see the register's name.
    (theirs,) = api_for(world.users.community1).get(f"/api/v1/events/{dispute.pk}/dispute/").json()["parties"]
    assert theirs["resident"] == neighbour.pk and theirs["name"] == "李四海"


def test_dispute_party_as_seen_by_a_handler_bound_to_no_territory(world: Any, dispute: Event) -> None:
    # A department's handler sees a dispute because it was sent to their unit; bound to no territory,
    # every register resident is "outside" their scope. They get the masked name, never id or full name.
    from wangge.accounts.roles import Role
    from wangge.accounts.services import user_create
    from wangge.events.disputes import party_display
    from wangge.events.models import DisputeParty

    neighbour = resident_create(
        actor=world.users.community1,
        name="李四海",
        id_number=make_id(date(1965, 3, 4), seq=32),
        grid=world.g112,
    )
    dispute_party_add(
        actor=world.users.community1, event_id=dispute.pk, side="respondent", resident_id=neighbour.pk
    )
    officer = user_create(
        username="market9", password="test-pass-123", role=Role.DEPT_HANDLER, territory_id=None
    )
    shown = party_display(DisputeParty.objects.get(event=dispute, resident=neighbour), officer)
    assert shown["resident"] is None and shown["name"] == "李*海"
    grid_worker = party_display(
        DisputeParty.objects.get(event=dispute, resident=neighbour), world.users.grid1
    )
    assert grid_worker["name"] == OTHER_GRID_RESIDENT
