"""Disputes (E7): parties from the register (masked without register access), sessions, outcome."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from wangge.accounts.roles import Role
from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from wangge.events.disputes import (
    dispute_get,
    dispute_outcome_set,
    dispute_party_add,
    mediation_session_add,
    party_display,
)
from wangge.events.models import DisputeOutcome, DisputeParty, Event, TimelineEntry

from .test_dedupe import make_event


@pytest.mark.django_db
def test_parties_from_the_register_and_by_name(world, dispute, residents):
    here, elsewhere = residents
    actor = world.users.community1
    p1 = dispute_party_add(actor=actor, event_id=dispute.pk, side="applicant", resident_id=here.pk)
    assert p1.resident_id == here.pk and p1.name == ""  # the register keeps the name
    p2 = dispute_party_add(
        actor=actor, event_id=dispute.pk, side="respondent", name="楼上住户赵六", note="租户"
    )
    assert p2.name == "楼上住户赵六"
    with pytest.raises(Conflict):
        dispute_party_add(actor=actor, event_id=dispute.pk, side="other", resident_id=here.pk)
    # A resident outside the actor's territory is "not found".
    with pytest.raises(NotFound):
        dispute_party_add(actor=actor, event_id=dispute.pk, side="other", resident_id=elsewhere.pk)
    with pytest.raises(InvalidInput) as err:
        dispute_party_add(actor=actor, event_id=dispute.pk, side="other")
    assert err.value.code == "party_required"
    with pytest.raises(InvalidInput) as err:
        dispute_party_add(actor=actor, event_id=dispute.pk, side="judge", name="某人")
    assert err.value.code == "invalid_side"
    entries = TimelineEntry.objects.filter(event=dispute, action="dispute_party")
    assert entries.count() == 2 and not any(e.public for e in entries)
    assert all("张三丰" not in e.note and "赵六" not in e.note for e in entries)
    audits = AuditEntry.objects.filter(action="dispute.party_add")
    assert audits.count() == 2 and all(
        "张三丰" not in str(a.after) and "赵六" not in str(a.after) for a in audits
    )
    # Full names for those with register access, masked for others.
    assert party_display(p1, actor)["name"] == "张三丰"
    shown = party_display(p1, world.users.dept1)
    assert shown["name"] == "张*丰" and shown["resident"] is None
    assert party_display(p2, world.users.dept1)["name"] == "楼" + "*" * 4 + "六"


@pytest.mark.django_db
def test_register_access_is_needed_for_residents(world, dispute, residents):
    here, _ = residents
    group = Group.objects.get(name=Role.COMMUNITY_STAFF.label)
    group.permissions.remove(Permission.objects.get(codename="view_register"))
    actor = type(world.users.community1).objects.get(pk=world.users.community1.pk)  # fresh permission cache
    with pytest.raises(Forbidden):
        dispute_party_add(actor=actor, event_id=dispute.pk, side="applicant", resident_id=here.pk)
    dispute_party_add(actor=world.users.grid1, event_id=dispute.pk, side="applicant", resident_id=here.pk)
    card = dispute_get(user=actor, event_id=dispute.pk)
    assert card["parties"][0]["name"] == "张*丰"


@pytest.mark.django_db
def test_only_dispute_events_in_scope(world, dispute):
    other = make_event(world, "路灯不亮", category="0702")
    with pytest.raises(InvalidInput) as err:
        dispute_party_add(actor=world.users.community1, event_id=other.pk, side="applicant", name="甲")
    assert err.value.code == "not_dispute"
    # The suggested category counts before a person has accepted the event.
    suggested = make_event(world, "物业纠纷", category=None, suggested="0602")
    dispute_party_add(actor=world.users.community1, event_id=suggested.pk, side="applicant", name="甲")
    with pytest.raises(NotFound):
        dispute_party_add(actor=world.users.street2, event_id=dispute.pk, side="applicant", name="甲")
    with pytest.raises(NotFound):
        dispute_get(user=world.users.grid2, event_id=dispute.pk)
    Event.objects.filter(pk=suggested.pk).update(master=dispute)
    with pytest.raises(Conflict):
        dispute_party_add(actor=world.users.community1, event_id=suggested.pk, side="other", name="乙")


@pytest.mark.django_db
def test_mediation_sessions_and_outcome(world, dispute):
    actor = world.users.community1
    now = timezone.now()
    s1 = mediation_session_add(
        actor=actor,
        event_id=dispute.pk,
        held_at=now - timedelta(days=2),
        mediator="人民调解员刘",
        place="社区调解室",
        summary="双方陈述，约定查看漏水点",
    )
    mediation_session_add(
        actor=actor,
        event_id=dispute.pk,
        held_at=now - timedelta(days=1),
        mediator="刘",
        summary="达成初步意见",
    )
    assert s1.created_by == actor
    notes = list(
        TimelineEntry.objects.filter(event=dispute, action="mediation").values_list("note", "public")
    )
    assert notes == [("第1次调解", False), ("第2次调解", False)]
    with pytest.raises(InvalidInput) as err:
        mediation_session_add(
            actor=actor, event_id=dispute.pk, held_at=now + timedelta(days=1), mediator="刘", summary="x"
        )
    assert err.value.code == "datetime_in_future"
    with pytest.raises(InvalidInput):
        mediation_session_add(actor=actor, event_id=dispute.pk, held_at=now, mediator="", summary="x")
    with pytest.raises(InvalidInput):
        mediation_session_add(actor=actor, event_id=dispute.pk, held_at=now, mediator="刘", summary=" ")

    with pytest.raises(InvalidInput) as err:
        dispute_outcome_set(actor=actor, event_id=dispute.pk, result="agreed", decided_at=now)
    assert err.value.code == "required"
    with pytest.raises(InvalidInput):
        dispute_outcome_set(actor=actor, event_id=dispute.pk, result="won", decided_at=now)
    dispute_outcome_set(actor=actor, event_id=dispute.pk, result="failed", decided_at=now)
    outcome = dispute_outcome_set(
        actor=actor, event_id=dispute.pk, result="agreed", agreement_text="楼上负责维修防水层", decided_at=now
    )
    assert DisputeOutcome.objects.filter(event=dispute).count() == 1 and outcome.result == "agreed"
    entry = TimelineEntry.objects.filter(event=dispute, action="dispute_outcome").last()
    assert entry.public and entry.note == "调解结果：调解成功" and "防水层" not in str(entry.data)
    audit = AuditEntry.objects.filter(action="dispute.outcome_set").order_by("pk").last()
    assert audit.before["result"] == "failed" and "防水层" not in str(audit.after)
    card = dispute_get(user=actor, event_id=dispute.pk)
    assert len(card["sessions"]) == 2 and card["outcome"]["agreement_text"] == "楼上负责维修防水层"


@pytest.mark.django_db
def test_dispute_api(world, api_for, dispute, residents):
    here, elsewhere = residents
    client = api_for(world.users.grid1)
    base = f"/api/v1/events/{dispute.pk}/dispute/"
    resp = client.post(base + "parties/", {"side": "applicant", "resident": here.pk}, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["name"] == "张三丰"
    assert_error(
        client.post(base + "parties/", {"side": "applicant", "resident": elsewhere.pk}, format="json"), 404
    )
    assert_error(client.post(base + "parties/", {"side": "x", "name": "甲"}, format="json"), 400, "invalid")
    assert_error(client.post(base + "parties/", {"side": "other"}, format="json"), 400, "party_required")
    held = (timezone.now() - timedelta(hours=3)).isoformat()
    resp = client.post(
        base + "sessions/", {"held_at": held, "mediator": "刘", "summary": "首次调解"}, format="json"
    )
    assert resp.status_code == 201, resp.content
    decided = timezone.now().isoformat()
    resp = client.put(
        base + "outcome/",
        {"result": "agreed", "agreement_text": "各让一步", "decided_at": decided},
        format="json",
    )
    assert resp.status_code == 200 and resp.json()["result_label"] == "调解成功"
    card = client.get(base).json()
    assert [p["side"] for p in card["parties"]] == ["applicant"]
    assert len(card["sessions"]) == 1 and card["outcome"]["result"] == "agreed"
    assert_error(api_for(world.users.street2).get(base), 404, "not_found")
    assert_error(api_for(world.users.resident1).get(base), 403)
    lamp = make_event(world, "路灯不亮", category="0702")
    assert_error(client.get(f"/api/v1/events/{lamp.pk}/dispute/"), 400, "not_dispute")
    assert DisputeParty.objects.count() == 1


def test_dispute_list_counts_parties_and_sessions_per_row(world, dispute):
    from wangge.events.disputes import dispute_list
    from wangge.events.tests.conftest import make_event

    quiet = make_event(world, "楼上装修噪音扰民，双方争执", category="0601")
    c1 = world.users.community1
    for name in ("张三", "李四"):
        dispute_party_add(actor=c1, event_id=dispute.pk, side="other", name=name)
    now = timezone.now()
    held = [now - timedelta(days=d) for d in (5, 1, 3)]
    for t in held:
        mediation_session_add(actor=c1, event_id=dispute.pk, held_at=t, mediator="老娘舅", summary="调解")
    rows = {e.pk: e for e in dispute_list(user=c1)}
    assert (rows[dispute.pk].party_count, rows[dispute.pk].session_count) == (2, 3)
    assert rows[dispute.pk].last_session_at == max(held)
    assert (rows[quiet.pk].party_count, rows[quiet.pk].session_count, rows[quiet.pk].last_session_at) == (
        0,
        0,
        None,
    )
    assert dispute_list(user=c1).count() == 2


def test_dispute_list_search_keeps_the_counts_newest_first(world, dispute):
    from wangge.events.disputes import dispute_list
    from wangge.events.tests.conftest import make_event

    later = make_event(world, "楼上装修噪音扰民，双方争执", category="0601")
    c1 = world.users.community1
    mediation_session_add(
        actor=c1, event_id=later.pk, held_at=timezone.now(), mediator="老娘舅", summary="调解"
    )
    assert [e.pk for e in dispute_list(user=c1, q="噪音")] == [later.pk]
    both = list(dispute_list(user=c1, q=f" {dispute.tracking_code.lower()} "))
    assert [e.pk for e in both] == [dispute.pk]
    newest = list(dispute_list(user=c1, q="，"))  # punctuation both texts share: newest first
    assert [e.pk for e in newest] == [later.pk, dispute.pk]
    assert [(e.session_count, e.party_count) for e in newest] == [(1, 0), (0, 0)]
    assert list(dispute_list(user=c1, q="没有这个词")) == []
