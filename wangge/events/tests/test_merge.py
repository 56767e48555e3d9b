"""Merging duplicates: rules and refusals, data-driven terminal status, followers told the outcome once."""

import pytest

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.core.errors import Conflict, InvalidInput, NotFound
from wangge.events.models import Event, Notification, StageDeadline, Status, TimelineEntry, Transition
from wangge.events.services import event_transition
from wangge.events.triage.merge import event_merge, event_unmerge
from wangge.events.workflow.followers import merge_followers_notify, public_source

from .test_dedupe import make_event

PHONE = "13812345678"


def close(event_id: int, actor) -> Event:
    for target, note in [
        ("accepted", ""),
        ("dispatched", ""),
        ("handling", ""),
        ("handled", "已清理烧烤摊，油烟问题解决"),
        ("closed", ""),
    ]:
        event = event_transition(event_id=event_id, target=target, actor=actor, note=note)
    return event


@pytest.fixture
def reports(world):
    master = make_event(world, "小区门口烧烤店油烟很大", reporter_phone="13900000000")
    by_phone = make_event(world, "门口烧烤油烟呛人", north_m=20, reporter_phone=PHONE, reporter_name="李四")
    anonymous = make_event(world, "烧烤油烟", north_m=30, anonymous=True)
    by_account = make_event(world, "烧烤店油烟大", north_m=-10)
    Event.objects.filter(pk=by_account.pk).update(reporter_user=world.users.resident1)
    return master, by_phone, anonymous, by_account


@pytest.mark.django_db
def test_merge_links_stops_clocks_and_records(world, reports):
    master, by_phone, anonymous, by_account = reports
    assert by_phone.deadline is not None
    actor = world.users.community1
    result = event_merge(
        master_id=master.pk,
        duplicate_ids=[by_phone.pk, anonymous.pk, by_account.pk],
        actor=actor,
        note="同一烧烤店",
    )
    assert result.pk == master.pk and result.master_id is None
    for dup in (by_phone, anonymous, by_account):
        dup.refresh_from_db()
        assert dup.master_id == master.pk
        assert dup.status.code == "pending"  # default graph: keeps its status ...
        assert dup.deadline is None and dup.stage == "" and dup.warning == "none"  # ... but no clock runs
        assert not StageDeadline.objects.filter(event=dup, finished_at__isnull=True).exists()
        entry = TimelineEntry.objects.get(event=dup, action="merged_into")
        assert entry.public and entry.data["master"] == master.pk
        assert master.tracking_code not in entry.note  # the master's tracking code is not handed out
        assert public_source(dup) == master
    entry = TimelineEntry.objects.get(event=master, action="merge")
    assert not entry.public and entry.note == "同一烧烤店"
    assert set(entry.data["duplicates"]) == {by_phone.pk, anonymous.pk, by_account.pk}
    audit = AuditEntry.objects.get(action="event.merge")
    assert audit.object_id == str(master.pk) and by_phone.tracking_code in audit.after["duplicates"]
    assert PHONE not in str(audit.after)


@pytest.mark.django_db
def test_merge_refusals(world, reports):
    master, by_phone, anonymous, by_account = reports
    actor = world.users.community1
    with pytest.raises(InvalidInput) as err:
        event_merge(master_id=master.pk, duplicate_ids=[], actor=actor)
    assert err.value.code == "duplicates_required"
    with pytest.raises(InvalidInput) as err:
        event_merge(master_id=master.pk, duplicate_ids=[master.pk, by_phone.pk], actor=actor)
    assert err.value.code == "master_in_duplicates"
    with pytest.raises(InvalidInput):
        event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk, by_phone.pk], actor=actor)
    with pytest.raises(InvalidInput):
        event_merge(master_id=master.pk, duplicate_ids=["x"], actor=actor)
    # Out of scope (another street, or an unknown id): 404, nothing changed.
    with pytest.raises(NotFound):
        event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk], actor=world.users.street2)
    other_street = make_event(world, "烧烤油烟", grid=world.g211, col=3)
    with pytest.raises(NotFound):
        event_merge(master_id=master.pk, duplicate_ids=[other_street.pk], actor=actor)
    with pytest.raises(NotFound):
        event_merge(master_id=999999, duplicate_ids=[by_phone.pk], actor=actor)
    # Closed or rejected events are not merged.
    Event.objects.filter(pk=anonymous.pk).update(status=Status.objects.get(code="rejected"))
    with pytest.raises(Conflict) as err:
        event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk, anonymous.pk], actor=actor)
    assert err.value.code == "event_closed"
    assert not Event.objects.filter(master__isnull=False).exists()  # all or nothing
    # Merging twice is refused, never applied twice.
    event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk], actor=actor)
    with pytest.raises(Conflict) as err:
        event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk], actor=actor)
    assert err.value.code == "already_merged"
    assert TimelineEntry.objects.filter(event=by_phone, action="merged_into").count() == 1
    # A merged event cannot be a master.
    with pytest.raises(Conflict):
        event_merge(master_id=by_phone.pk, duplicate_ids=[by_account.pk], actor=actor)
    # Non-staff accounts see no events to merge.
    with pytest.raises(NotFound):
        event_merge(master_id=master.pk, duplicate_ids=[by_account.pk], actor=world.users.resident1)


@pytest.mark.django_db
def test_merging_a_master_moves_its_followers(world, reports):
    master, by_phone, anonymous, by_account = reports
    actor = world.users.admin
    event_merge(master_id=by_account.pk, duplicate_ids=[by_phone.pk], actor=actor)
    event_merge(master_id=master.pk, duplicate_ids=[by_account.pk], actor=actor)
    assert set(Event.objects.filter(master=master).values_list("pk", flat=True)) == {
        by_phone.pk,
        by_account.pk,
    }
    assert TimelineEntry.objects.filter(event=by_phone, action="merged_into").count() == 2


@pytest.mark.django_db
def test_merged_status_when_the_graph_has_one(world, reports):
    master, by_phone, anonymous, by_account = reports
    merged = Status.objects.create(code="merged", name="已合并", is_closed=True, sort=99)
    Transition.objects.create(source=Status.objects.get(code="pending"), target=merged, name="合并")
    event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk], actor=world.users.community1)
    by_phone.refresh_from_db()
    assert by_phone.status.code == "merged" and by_phone.master_id == master.pk
    assert TimelineEntry.objects.filter(event=by_phone, to_status="merged").exists()
    # Without an edge from its status, an event is merged the default way.
    event_transition(event_id=by_account.pk, target="accepted", actor=world.users.admin)
    event_merge(master_id=master.pk, duplicate_ids=[by_account.pk], actor=world.users.community1)
    by_account.refresh_from_db()
    assert by_account.status.code == "accepted" and by_account.master_id == master.pk


@pytest.mark.django_db
def test_followers_are_told_the_outcome_once_per_closure(world, reports):
    master, by_phone, anonymous, by_account = reports
    admin = world.users.admin
    event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk, anonymous.pk, by_account.pk], actor=admin)
    assert merge_followers_notify(master_id=master.pk) == 0  # not closed yet
    assert not Notification.objects.filter(kind="outcome").exists()
    close(master.pk, admin)  # the close path itself tells the followers
    assert Notification.objects.filter(kind="outcome").count() == 2  # the anonymous reporter has no contact
    rows = Notification.objects.filter(kind="outcome")
    assert {n.event_id for n in rows} == {by_phone.pk, by_account.pk}
    phone_row = rows.get(event=by_phone)
    assert phone_row.address_enc and phone_row.recipient_id is None and PHONE not in phone_row.address_enc
    assert by_phone.tracking_code in phone_row.subject and "已结案" in phone_row.subject
    assert "已清理烧烤摊" in phone_row.body and PHONE not in phone_row.body
    assert rows.get(event=by_account).recipient_id == world.users.resident1.pk
    for dup in (by_phone, anonymous, by_account):
        entry = TimelineEntry.objects.get(event=dup, action="master_outcome")
        assert entry.public and entry.to_status == "closed"
    # Again, and after the rating: nothing new.
    assert merge_followers_notify(master_id=master.pk) == 0
    event_transition(event_id=master.pk, target="rated", actor=admin)
    assert merge_followers_notify(master_id=master.pk) == 0
    assert Notification.objects.filter(kind="outcome").count() == 2
    assert TimelineEntry.objects.filter(action="master_outcome").count() == 3
    # Reopened and closed again: a new outcome, told again.
    event_transition(event_id=master.pk, target="handling", actor=admin, note="居民反映又有油烟")
    assert merge_followers_notify(master_id=master.pk) == 0
    event_transition(event_id=master.pk, target="handled", actor=admin, note="再次整改")
    event_transition(event_id=master.pk, target="closed", actor=admin)
    assert Notification.objects.filter(kind="outcome").count() == 4
    assert merge_followers_notify(master_id=master.pk) == 0
    assert merge_followers_notify(master_id=999999) == 0


@pytest.mark.django_db
def test_unmerge_restarts_the_clock(world, reports):
    master, by_phone, *_ = reports
    actor = world.users.community1
    event_merge(master_id=master.pk, duplicate_ids=[by_phone.pk], actor=actor)
    with pytest.raises(InvalidInput):
        event_unmerge(event_id=by_phone.pk, actor=actor, reason="")
    event = event_unmerge(event_id=by_phone.pk, actor=actor, reason="并非同一问题")
    assert event.master_id is None and event.deadline is not None and event.stage == "accept"
    assert StageDeadline.objects.filter(event=event, finished_at__isnull=True).count() == 1
    with pytest.raises(Conflict):
        event_unmerge(event_id=by_phone.pk, actor=actor, reason="再来")


@pytest.mark.django_db
def test_merge_api(world, api_for, reports):
    master, by_phone, anonymous, by_account = reports
    client = api_for(world.users.grid1)
    body = {"master": master.pk, "duplicates": [by_phone.pk, by_account.pk], "note": "同一问题"}
    resp = client.post("/api/v1/events/merge/", body, format="json")
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["id"] == master.pk and {e["id"] for e in data["merged"]} == {by_phone.pk, by_account.pk}
    assert_error(client.post("/api/v1/events/merge/", body, format="json"), 409, "already_merged")
    assert_error(client.post("/api/v1/events/merge/", {"master": master.pk}, format="json"), 400, "invalid")
    assert_error(
        client.post("/api/v1/events/merge/", {"master": master.pk, "duplicates": []}, format="json"), 400
    )
    other = api_for(world.users.grid2)
    resp = other.post(
        "/api/v1/events/merge/", {"master": master.pk, "duplicates": [anonymous.pk]}, format="json"
    )
    assert_error(resp, 404, "not_found")
    resp = api_for(world.users.resident1).post(
        "/api/v1/events/merge/", {"master": master.pk, "duplicates": [anonymous.pk]}, format="json"
    )
    assert_error(resp, 403)
