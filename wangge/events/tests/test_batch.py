"""Batched intake (events.batch): the same outcome as the single path, idempotent, errors per item,
likely duplicates inside a batch and against open events, and the one-by-one fallback on a conflict."""

import pytest

from wangge.audit.models import AuditEntry
from wangge.core import crypto
from wangge.core.errors import InvalidInput
from wangge.events.intake import batch
from wangge.events.intake import report as report_module
from wangge.events.intake.batch import event_intake_many
from wangge.events.models import Event, StageDeadline
from wangge.events.services import EventInput, event_intake

from .core_helpers import G111, G112, report

pytestmark = pytest.mark.django_db

FUMES = "小区门口烧烤油烟很大，呛得受不了"
PARKING = "消防通道被私家车堵住了，车牌看不清，已经停了两天"


def item(text: str, at: tuple[float, float] = G111, **kw):
    lat, lng = at
    kw.setdefault("reporter_name", "李四")
    kw.setdefault("reporter_phone", "13912345678")
    return EventInput(description=text, lat=lat, lng=lng, **kw)


def shape(e: Event) -> dict:
    clock = e.clocks.get()
    return {
        "category": e.category_id,
        "suggested": e.suggested_category_id,
        "confidence": e.confidence,
        "urgency": e.urgency,
        "grid": e.grid_id,
        "path": e.path,
        "needs_triage": e.needs_triage,
        "status": e.status.code,
        "stage": e.stage,
        "deadline_after_start": e.deadline - e.stage_started_at,
        "clock": (clock.stage, clock.deadline - clock.started_at),
        "timeline": [(t.action, t.public, t.to_status) for t in e.timeline.order_by("id")],
        "triage": {k: v for k, v in e.timeline.get(action="triage").data.items() if k != "likely_duplicate"},
    }


def test_same_outcome_as_the_single_path(world):
    single = report(PARKING, at=G112)
    # Far apart in place so neither is the other's likely duplicate.
    [outcome] = event_intake_many(items=[item(PARKING, at=G111)])
    assert outcome.created and outcome.error is None
    many = Event.objects.get(pk=outcome.event_id)
    a, b = shape(single), shape(many)
    assert a["path"] != b["path"]
    for key in ("path", "grid", "deadline_after_start", "clock"):  # differ by place / start time only
        a.pop(key), b.pop(key)
    a["triage"].pop("grid"), b["triage"].pop("grid")
    assert a == b
    assert many.reporter_phone_hash == crypto.digest("13912345678")
    assert outcome.tracking_code == many.tracking_code


def test_bad_items_are_errors_and_the_rest_is_stored(world):
    outcomes = event_intake_many(
        items=[item(FUMES), item(""), item(FUMES, category_code="nope"), EventInput(description="没有位置")]
    )
    assert outcomes[0].created
    assert [o.error.code for o in outcomes[1:]] == [
        "description_required",
        "invalid_category",
        "location_required",
    ]
    assert Event.objects.count() == 1
    entry = AuditEntry.objects.get(action="event.create_batch")
    assert entry.after["created"] == [outcomes[0].event_id]


def test_idempotent_by_channel_and_external_id(world):
    first = event_intake(data=item(FUMES, channel="hotline", external_id="GD-1"))[0]
    outcomes = event_intake_many(
        items=[
            item(FUMES, channel="hotline", external_id="GD-1"),  # registered before
            item(PARKING, channel="hotline", external_id="GD-2"),
            item(PARKING, channel="hotline", external_id="GD-2"),  # twice in this batch
            item(PARKING, channel="api", external_id="GD-2"),  # another channel: another event
        ]
    )
    assert (outcomes[0].event_id, outcomes[0].created) == (first.pk, False)
    assert outcomes[1].created and not outcomes[2].created
    assert outcomes[2].event_id == outcomes[1].event_id
    assert outcomes[3].created and outcomes[3].event_id != outcomes[1].event_id
    again = event_intake_many(items=[item(PARKING, channel="hotline", external_id="GD-2")])
    assert (again[0].event_id, again[0].created) == (outcomes[1].event_id, False)
    assert Event.objects.count() == 3


def test_likely_duplicates_are_held_for_a_person(world):
    open_one = report(FUMES)
    outcomes = event_intake_many(
        items=[
            item(FUMES + "，天天如此"),  # like the open one, same place
            item(PARKING, at=G112),
            item(PARKING + "。", at=G112),  # like the previous item of this batch
            item("路灯坏了好几天，晚上很黑", at=G112),  # same place, nothing like it
        ]
    )
    events = [Event.objects.get(pk=o.event_id) for o in outcomes]
    assert events[0].needs_triage and events[0].extra["likely_duplicate"]["id"] == open_one.pk
    assert "likely_duplicate" not in events[1].extra
    dup = events[2].extra["likely_duplicate"]
    assert (dup["id"], dup["tracking_code"]) == (events[1].pk, events[1].tracking_code)
    assert events[2].timeline.get(action="triage").data["likely_duplicate"]["id"] == events[1].pk
    assert events[2].needs_triage and outcomes[2].needs_triage
    assert "likely_duplicate" not in events[3].extra


def test_single_path_flags_a_likely_duplicate_too(world):
    first = report(FUMES)
    second = report(FUMES + "，希望彻底解决")
    assert second.needs_triage
    assert second.extra["likely_duplicate"] == {
        "id": first.pk,
        "tracking_code": first.tracking_code,
        "score": second.extra["likely_duplicate"]["score"],
    }
    assert second.extra["likely_duplicate"]["score"] >= 0.5
    third = report("楼道里的灯坏了", at=G111)
    assert "likely_duplicate" not in third.extra


def test_a_conflict_redoes_the_batch_one_by_one(world, monkeypatch):
    taken = report(FUMES).tracking_code
    codes = iter([taken] + [f"T{i:09d}" for i in range(10)])  # the batch's first code collides
    monkeypatch.setattr(report_module, "tracking_code_new", lambda: next(codes))
    outcomes = event_intake_many(items=[item(PARKING, at=G112), item("路灯坏了", at=G112)])
    assert all(o.created and o.error is None for o in outcomes)
    assert Event.objects.count() == 3
    assert not AuditEntry.objects.filter(action="event.create_batch").exists()  # rolled back with the batch
    assert StageDeadline.objects.count() == 3


def test_too_many_items_refused(world):
    with pytest.raises(InvalidInput) as exc:
        event_intake_many(items=[item(FUMES)] * (batch.MAX_ITEMS + 1))
    assert exc.value.code == "too_many_items"
    assert Event.objects.count() == 0
