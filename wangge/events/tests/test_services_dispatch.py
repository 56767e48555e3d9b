"""Dispatch rules (first match by order, category ancestors, territory prefix, urgency, role, level),
the default (the grid's worker), the dry run, reassignment and the escalation ladder."""

from typing import Any

import pytest

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.conftest import PASSWORD
from wangge.core.errors import Conflict, InvalidInput
from wangge.events.models import Category, DispatchRule, Event, Notification, TimelineEntry
from wangge.events.services import (
    dispatch_resolve,
    event_accept,
    event_dispatch,
    event_escalate,
    event_feedback,
    event_reassign,
)
from wangge.events.tests.core_helpers import G112, G211, enforcement_unit, report, staff

pytestmark = pytest.mark.django_db


def cat(code: str) -> Category:
    return Category.objects.get(code=code)


def accepted(world: Any, **kw: Any) -> Event:
    e = report(**kw)
    return event_accept(event_id=e.pk, actor=world.users.admin)


def test_default_is_the_grids_worker_and_dry_run_explains(world: Any) -> None:
    staff(world)
    e = accepted(world, text="路灯不亮，晚上很黑", at=G112)
    got = dispatch_resolve(event=e)
    assert got["rule_id"] is None and got["user_id"] == world.users.grid2.pk
    assert "默认" in got["explanation"] and "网格员" in got["explanation"]
    # the dry run changed nothing
    assert Event.objects.get(pk=e.pk).status.code == "accepted"
    e = event_dispatch(event_id=e.pk, actor=world.users.community1)
    assert e.handler_user == world.users.grid2 and e.status.code == "dispatched" and e.stage == "handle"
    entry = TimelineEntry.objects.filter(event=e).last()
    assert (
        entry.action == "dispatch"
        and entry.data["rule"] is None
        and entry.data["user"] == world.users.grid2.pk
    )


def test_without_assignment_the_grid_bound_worker_is_used_and_nobody_means_manual(world: Any) -> None:
    e = accepted(world, text="路灯不亮", at=G112)  # no GridAssignment rows: grid2 is bound to the grid
    assert dispatch_resolve(event=e)["user_id"] == world.users.grid2.pk
    lonely = accepted(world, text="路灯不亮", at=G211)  # nobody in grid 211
    got = dispatch_resolve(event=lonely)
    assert not got["found"] and "手动" in got["explanation"]
    with pytest.raises(InvalidInput) as exc:
        event_dispatch(event_id=lonely.pk, actor=world.users.admin)
    assert exc.value.code == "no_dispatch_target"
    # a manual choice works
    e = event_dispatch(event_id=lonely.pk, actor=world.users.admin, user_id=world.users.street2.pk)
    assert e.handler_user == world.users.street2


def test_rules_first_match_by_order(world: Any) -> None:
    staff(world)
    unit = enforcement_unit(world, world.users.dept1)
    other = enforcement_unit(world)
    other.name = "市场监管所"
    other.save()
    # inactive rule first: skipped
    DispatchRule.objects.create(order=1, category=cat("04"), unit=other, active=False)
    # urgency-specific rule: only for 紧急
    DispatchRule.objects.create(order=2, category=cat("04"), urgency="urgent", unit=other)
    # territory prefix of street 2 only
    DispatchRule.objects.create(order=3, category=cat("04"), path_prefix="420802002", unit=other)
    # the parent category 街面秩序 (04) with subcategories → enforcement team
    r4 = DispatchRule.objects.create(order=4, category=cat("04"), unit=unit)
    # exact category only (no subcategories) never matches a child
    DispatchRule.objects.create(order=0, category=cat("04"), include_subcategories=False, unit=other)
    e = accepted(world, text="门口有流动摊贩占道摆摊")
    assert e.category.code == "0401"
    got = dispatch_resolve(event=e)
    assert got["rule_id"] == r4.pk and got["unit_id"] == unit.pk and f"#{r4.pk}" in got["explanation"]
    urgent = event_accept(
        event_id=report(text="门口有流动摊贩占道摆摊").pk, actor=world.users.admin, urgency="urgent"
    )
    assert dispatch_resolve(event=urgent)["unit_id"] == other.pk
    far = accepted(world, text="门口有流动摊贩占道摆摊", at=G211)
    assert dispatch_resolve(event=far)["unit_id"] == other.pk
    # a rule for another level does not apply at grid level
    DispatchRule.objects.create(order=0, category=cat("0401"), unit=other, level="community")
    assert dispatch_resolve(event=e)["unit_id"] == unit.pk


def test_role_rules_pick_the_role_at_the_rule_level(world: Any) -> None:
    staff(world)
    DispatchRule.objects.create(order=1, category=cat("0604"), role=Role.COMMUNITY_STAFF, level="grid")
    e = accepted(world, text="电梯困人停运了")
    # no community staff bound to the grid node: rule skipped (explained), default grid worker
    got = dispatch_resolve(event=e)
    assert got["user_id"] == world.users.grid1.pk
    assert "没有可接收" in got["explanation"]
    DispatchRule.objects.all().delete()
    DispatchRule.objects.create(order=1, category=cat("0604"), role=Role.COMMUNITY_STAFF, level="community")
    escalated = event_escalate(event_id=e.pk, actor=world.users.grid1, reason="需要社区协调物业")
    assert escalated.level == "community"
    got = dispatch_resolve(event=escalated)
    assert got["user_id"] == world.users.community1.pk and got["rule_id"] is not None


def test_reassignment_needs_a_reason(world: Any) -> None:
    staff(world)
    unit = enforcement_unit(world, world.users.dept1)
    e = accepted(world, text="路灯不亮")
    e = event_dispatch(event_id=e.pk, actor=world.users.community1)
    with pytest.raises(InvalidInput) as exc:
        event_reassign(event_id=e.pk, actor=world.users.community1, unit_id=unit.pk, reason="  ")
    assert exc.value.code == "reason_required"
    with pytest.raises(InvalidInput):
        event_reassign(event_id=e.pk, actor=world.users.community1, reason="换人")  # nobody named
    with pytest.raises(InvalidInput):
        event_reassign(
            event_id=e.pk, actor=world.users.community1, user_id=world.users.grid1.pk, reason="同一人"
        )
    e = event_reassign(event_id=e.pk, actor=world.users.community1, unit_id=unit.pk, reason="需执法处理")
    kinds = set(Notification.objects.filter(event=e).values_list("kind", "recipient_id"))
    assert ("dispatch", world.users.grid1.pk) in kinds and ("reassign", world.users.dept1.pk) in kinds
    assert e.handler_unit == unit and e.handler_user is None and e.status.code == "dispatched"
    entry = TimelineEntry.objects.filter(event=e).last()
    assert entry.action == "reassign" and entry.note == "需执法处理"
    assert entry.data["from"] == {"unit": None, "user": world.users.grid1.pk}
    with pytest.raises(InvalidInput):
        event_reassign(
            event_id=e.pk, actor=world.users.community1, user_id=world.users.resident1.pk, reason="x"
        )


def test_escalation_ladder_grid_to_district_and_no_further(world: Any) -> None:
    staff(world)
    # street staff and district admin exist in the fixture; the default at each level is that level's staff
    e = accepted(world, text="楼顶漏水外墙脱落")
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    with pytest.raises(InvalidInput):
        event_escalate(event_id=e.pk, actor=world.users.grid1, reason="")
    e = event_escalate(event_id=e.pk, actor=world.users.grid1, reason="本网格无法解决，需社区协调")
    assert (e.level, e.status.code, e.handler_user_id, e.path) == (
        "community",
        "accepted",
        None,
        world.g111.code,
    )
    assert Notification.objects.filter(event=e, kind="escalate", recipient=world.users.community1).exists()
    assert dispatch_resolve(event=e)["user_id"] == world.users.community1.pk
    e = event_dispatch(event_id=e.pk, actor=world.users.community1)
    assert e.handler_user == world.users.community1
    e = event_escalate(event_id=e.pk, actor=world.users.community1, reason="需街道协调多部门")
    assert e.level == "street"
    assert dispatch_resolve(event=e)["user_id"] == world.users.street1.pk
    # escalate again straight from "accepted" (not dispatched at street level): moves up in place
    e = event_escalate(event_id=e.pk, actor=world.users.street1, reason="需区级协调")
    assert (e.level, e.status.code) == ("district", "accepted")
    assert dispatch_resolve(event=e)["user_id"] == world.users.admin.pk
    with pytest.raises(Conflict) as exc:
        event_escalate(event_id=e.pk, actor=world.users.admin, reason="再往上")
    assert exc.value.code == "escalation_top"
    steps = list(TimelineEntry.objects.filter(event=e, action="escalate").values_list("data", flat=True))
    assert [s["level"] for s in steps] == ["community", "street", "district"]
    # the system (a red limit passed) may escalate too
    other = accepted(world, text="路灯不亮")
    assert event_escalate(event_id=other.pk, actor=None, reason="超期自动上报").level == "community"


def test_dept_handler_cannot_dispatch_but_can_handle(world: Any) -> None:
    unit = enforcement_unit(world, world.users.dept1)
    e = accepted(world, text="流动摊贩占道")
    from wangge.core.errors import NotFound

    with pytest.raises(NotFound):
        event_dispatch(event_id=e.pk, actor=world.users.dept1, unit_id=unit.pk)
    e = event_dispatch(event_id=e.pk, actor=world.users.admin, unit_id=unit.pk)
    e = event_feedback(event_id=e.pk, actor=world.users.dept1, note="已取缔")
    assert e.status.code == "handled"
    outsider = user_create(
        username="dept9", password=PASSWORD, role=Role.DEPT_HANDLER, territory_id=world.district.pk
    )
    with pytest.raises(NotFound):
        event_feedback(event_id=e.pk, actor=outsider, note="x")


# --- dispatch at once after escalation -----------------------------------------------------------------


def community_unit(world: Any, *members: Any) -> Any:
    from wangge.events.models import HandlingUnit

    unit = HandlingUnit.objects.create(
        name="和平社区物业协调组",
        kind=HandlingUnit.Kind.ENFORCEMENT,
        territory=world.c11,
        path=world.c11.code,
    )
    unit.members.set(members)
    return unit


def test_escalation_dispatches_by_the_rule_of_the_new_level(world: Any) -> None:
    staff(world)
    unit = community_unit(world, world.users.dept1)
    # a grid-level rule for the same category does not apply once the event is at community level
    grid_unit = enforcement_unit(world)
    DispatchRule.objects.create(order=1, category=cat("06"), unit=grid_unit, level="grid")
    rule = DispatchRule.objects.create(order=2, category=cat("06"), unit=unit, level="community")
    e = accepted(world, text="电梯困人停运了")
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1, user_id=world.users.grid1.pk)
    version = e.version
    e = event_escalate(event_id=e.pk, actor=world.users.grid1, reason="本网格无法解决，需社区协调物业")
    assert (e.level, e.status.code, e.handler_unit, e.handler_user, e.stage) == (
        "community",
        "dispatched",
        unit,
        None,
        "handle",
    )
    assert e.version == version + 2  # escalate, then dispatch
    escalate, dispatch = TimelineEntry.objects.filter(event=e).order_by("-id")[:2][::-1]
    assert (escalate.action, escalate.actor, escalate.to_status) == (
        "escalate",
        world.users.grid1,
        "accepted",
    )
    assert (dispatch.action, dispatch.actor, dispatch.actor_name) == ("dispatch", None, "system")
    assert (dispatch.from_status, dispatch.to_status) == ("accepted", "dispatched")
    assert dispatch.data["rule"] == rule.pk and dispatch.data["unit"] == unit.pk
    assert dispatch.data["auto"] == "escalate" and f"#{rule.pk}" in dispatch.data["explanation"]
    from wangge.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="event.dispatch", object_id=str(e.pk), actor=None).exists()
    # the unit is told to handle it; the community staff learn it was escalated and dispatched
    got = set(Notification.objects.filter(event=e).values_list("kind", "recipient_id"))
    assert ("dispatch", world.users.dept1.pk) in got and ("escalate", world.users.community1.pk) in got
    notice = Notification.objects.get(event=e, kind="escalate")
    assert "自动派遣" in notice.subject and "请派遣" not in notice.subject


def test_escalation_dispatches_to_a_role_of_the_new_level_from_accepted(world: Any) -> None:
    staff(world)
    DispatchRule.objects.create(order=1, role=Role.COMMUNITY_STAFF, level="community")  # any category
    e = accepted(world, text="楼顶漏水外墙脱落")
    e = event_escalate(event_id=e.pk, actor=world.users.grid1, reason="需社区协调")
    assert (e.level, e.status.code, e.handler_user) == ("community", "dispatched", world.users.community1)
    actions = list(TimelineEntry.objects.filter(event=e).values_list("action", "actor_id"))
    assert actions[-2:] == [("escalate", world.users.grid1.pk), ("dispatch", None)]
    # the handler is not told twice (once as handler, not again as the level's staff)
    assert list(Notification.objects.filter(event=e).values_list("kind", "recipient_id")) == [
        ("dispatch", world.users.community1.pk)
    ]


def test_without_a_rule_of_the_new_level_the_event_waits_and_its_staff_are_told(world: Any) -> None:
    staff(world)
    unit = enforcement_unit(world, world.users.dept1)
    DispatchRule.objects.create(order=1, category=cat("06"), unit=unit, level="grid")  # grid only
    inactive = community_unit(world, world.users.dept1)
    inactive.active = False
    inactive.save()
    DispatchRule.objects.create(order=2, category=cat("06"), unit=inactive, level="community")
    DispatchRule.objects.create(order=3, category=cat("06"), role=Role.STREET_STAFF, level="community")
    e = accepted(world, text="电梯困人停运了")
    e = event_dispatch(event_id=e.pk, actor=world.users.grid1)
    assert e.handler_unit == unit
    e = event_escalate(event_id=e.pk, actor=world.users.grid1, reason="本网格无法解决")
    assert (e.level, e.status.code, e.handler_unit_id, e.handler_user_id) == (
        "community",
        "accepted",
        None,
        None,
    )
    assert TimelineEntry.objects.filter(event=e).last().action == "escalate"
    notice = Notification.objects.get(event=e, kind="escalate")
    assert notice.recipient == world.users.community1 and "请派遣" in notice.subject


def test_red_limit_escalation_by_the_sweep_dispatches_too(world: Any) -> None:
    from wangge.events.tests.clock_helpers import at, make_event
    from wangge.events.workflow import clock

    unit = community_unit(world, world.users.dept1)
    rule = DispatchRule.objects.create(order=1, category=cat("01"), unit=unit, level="community")
    event = make_event(world, start=at(2025, 3, 10, 8, 30), handler_user=world.users.grid1)
    r = clock.clock_sweep(now=event.deadline)
    assert r.red == 1 and r.escalated == 1, r.errors
    e = Event.objects.select_related("status").get(pk=event.pk)
    assert (e.level, e.status.code, e.handler_unit_id, e.handler_user_id) == (
        "community",
        "dispatched",
        unit.pk,
        None,
    )
    assert e.warning == "none" and e.stage == "handle"  # a fresh clock at the new level
    steps = list(TimelineEntry.objects.filter(event=e).values_list("action", "actor_id", "data"))
    assert [(a, who) for a, who, _ in steps[-3:]] == [
        ("warning", None),
        ("escalate", None),
        ("dispatch", None),
    ]
    assert steps[-1][2]["rule"] == rule.pk
    assert Notification.objects.filter(event=e, kind="dispatch", recipient=world.users.dept1).exists()
