"""One action catalogue (issue 17): for every role × status, the actions the event page offers, the
actions the API lists and the actions the services accept are the same set."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from wangge.conftest import PASSWORD, assert_error
from wangge.core.errors import Forbidden, ServiceError
from wangge.events import services, sos
from wangge.events.common import action_allowed, edge_kind, event_actions
from wangge.events.models import Event, HandlingUnit, SosWatch, Status
from wangge.events.workflow import clock, whistle

from .clock_helpers import make_event
from .core_helpers import enforcement_unit, staff

ROLES = ["grid1", "community1", "street1", "admin", "dept1", "resident1", "superuser"]
STATUSES = [
    "pending",
    "accepted",
    "dispatched",
    "handling",
    "suspended",
    "handled",
    "verifying",
    "closed",
    "rated",
    "rejected",
]
# Statuses in which the event has a handler (the enforcement unit dept1 works for).
HANDLED = {"dispatched", "handling", "suspended", "handled", "verifying", "closed", "rated"}


class _Undo(Exception):
    """Rolls a successful service call back, so every key is tried on the same event."""


def _accepted(call: Callable[[], Any]) -> bool:
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except ServiceError:
        return False


def _user(world: Any, name: str) -> Any:
    if name == "superuser":
        return get_user_model().objects.create_superuser("boss", "boss@example.org", PASSWORD)
    return getattr(world.users, name)


def _service_calls(event: Event, user: Any, units: dict[str, HandlingUnit]) -> dict[str, Callable[[], Any]]:
    """Each action key → the service that takes it, with valid input (so only the rules can refuse)."""
    eid = event.pk
    calls: dict[str, Callable[[], Any]] = {
        "accept": lambda: services.event_accept(event_id=eid, actor=user),
        "reject": lambda: services.event_reject(event_id=eid, actor=user, reason="不属于受理范围"),
        "dispatch": lambda: services.event_dispatch(event_id=eid, actor=user, unit_id=units["law"].pk),
        "reassign": lambda: services.event_reassign(
            event_id=eid, actor=user, unit_id=units["market"].pk, reason="需市场监管处理"
        ),
        "escalate": lambda: services.event_escalate(event_id=eid, actor=user, reason="本级无法解决"),
        "feedback": lambda: services.event_feedback(event_id=eid, actor=user, note="已清理完毕"),
        "verify": lambda: services.event_verify(event_id=eid, actor=user, passed=True),
        "reopen": lambda: services.event_reopen(event_id=eid, actor=user, reason="居民反映又堆上了"),
        "whistle": lambda: whistle.whistle_blow(
            event_id=eid, actor=user, unit_ids=[units["market"].pk], note="请到场"
        ),
        "extension": lambda: clock.extension_request(
            event_id=eid, actor=user, amount=1, unit="workday", reason="需要协调物业"
        ),
        "sos_ack": lambda: sos.sos_acknowledge(event_id=eid, actor=user),
    }
    for code in Status.objects.exclude(code="pending").values_list("code", flat=True):
        if edge_kind(event.status.code, code) == "transition":  # a plain edge: POST transitions/
            calls[f"transition:{code}"] = lambda code=code: services.event_move(
                event_id=eid, actor=user, target=code, note="说明"
            )
    return calls


def _page_keys(user: Any, event: Event) -> set[str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/events/{event.pk}/")
    if response.status_code in (403, 404):
        return set()
    assert response.status_code == 200
    return {a["key"] for a in response.context["actions"]}


def _api_keys(api_for: Any, user: Any, event: Event) -> set[str]:
    response = api_for(user).get(f"/api/v1/events/{event.pk}/actions/")
    if response.status_code in (403, 404):
        return set()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == event.pk and body["version"] == event.version
    return {a["key"] for a in body["actions"]}


@pytest.fixture
def units(world: Any) -> dict[str, HandlingUnit]:
    staff(world)
    market = HandlingUnit.objects.create(
        name="市场监管所", kind="department", territory=world.district, path=world.district.code
    )
    return {"law": enforcement_unit(world, world.users.dept1), "market": market}


@pytest.mark.parametrize("role", ROLES)
def test_page_api_and_services_agree_for_every_status(
    world: Any, units: Any, api_for: Any, role: str
) -> None:
    user = _user(world, role)
    start = timezone.now() - timedelta(hours=1)
    for code in STATUSES:
        event = make_event(
            world, start=start, status=code, handler_unit=units["law"] if code in HANDLED else None
        )
        # An SOS watch at its second step (grid worker and community staff on duty) on every event.
        SosWatch.objects.create(event=event, step=2, step_deadline=timezone.now() + timedelta(minutes=5))
        event = Event.objects.select_related("status").get(pk=event.pk)
        page = _page_keys(user, event)
        api = _api_keys(api_for, user, event)
        calls = _service_calls(event, user, units)
        accepted = {key for key, call in calls.items() if _accepted(call)}
        assert page == api == accepted, (role, code, page, api, accepted)
        assert {a.key for a in event_actions(user=user, event=event)} == accepted
        assert all(action_allowed(user=user, event=event, key=k) for k in accepted)


def test_expected_table(world: Any, units: Any) -> None:
    """A few rows of the rule table spelled out (the table test above only says the three agree)."""
    u = world.users
    start = timezone.now() - timedelta(hours=1)

    def keys(user: Any, status: str) -> set[str]:
        event = make_event(
            world, start=start, status=status, handler_unit=units["law"] if status in HANDLED else None
        )
        return {a.key for a in event_actions(user=user, event=Event.objects.get(pk=event.pk))}

    assert keys(u.grid1, "pending") == {"accept", "reject", "extension"}
    assert keys(u.grid1, "handling") == {
        "feedback",
        "escalate",
        "transition:suspended",
        "extension",
    }
    assert keys(u.community1, "handling") == {
        "feedback",
        "escalate",
        "transition:suspended",
        "reassign",
        "whistle",
        "extension",
    }
    # The handler's department officer: its own work, no staff decisions.
    assert keys(u.dept1, "dispatched") == {
        "transition:handling",
        "transition:accepted",
        "transition:suspended",
        "feedback",
        "escalate",
        "extension",
    }
    assert keys(u.dept1, "handled") == {"transition:verifying", "extension"}
    assert keys(u.street1, "closed") == {"reopen"}
    assert keys(u.resident1, "handling") == set()
    # 核查 of the department's work: the grid's worker and the staff above, never the department itself.
    assert keys(u.grid1, "handled") == {"verify", "transition:verifying", "extension"}
    assert keys(u.community1, "verifying") == {"verify", "whistle", "extension"}
    assert "verify" not in keys(u.dept1, "verifying")
    # The grid worker's own work (handler_user): community staff verify it, the grid worker may not.
    own = make_event(world, start=start, status="handled", handler_user=u.grid1)
    assert {a.key for a in event_actions(user=u.grid1, event=own)} == {"transition:verifying", "extension"}
    assert "verify" in {a.key for a in event_actions(user=u.community1, event=own)}


def test_a_grid_worker_may_not_reassign(world: Any, units: Any, api_for: Any) -> None:
    """Reassignment is a supervisor's: the page never offered it to a grid worker, and now the service
    and the API refuse it too (they used to accept any staff member)."""
    event = make_event(world, start=timezone.now(), status="handling", handler_unit=units["law"])
    with pytest.raises(Forbidden) as exc:
        services.event_reassign(
            event_id=event.pk, actor=world.users.grid1, unit_id=units["market"].pk, reason="换人"
        )
    assert exc.value.code == "action_not_allowed"
    body = {"unit": units["market"].pk, "reason": "换人"}
    assert_error(
        api_for(world.users.grid1).post(f"/api/v1/events/{event.pk}/reassign/", body, format="json"),
        403,
        "action_not_allowed",
    )
    assert Event.objects.get(pk=event.pk).handler_unit_id == units["law"].pk
    e = services.event_reassign(
        event_id=event.pk, actor=world.users.community1, unit_id=units["market"].pk, reason="需市场监管处理"
    )
    assert e.handler_unit_id == units["market"].pk


def test_reassign_only_in_the_handle_stage(world: Any, units: Any) -> None:
    """A handled event waits for verification: it is no longer reassigned (the service used to accept it)."""
    event = make_event(world, start=timezone.now(), status="handled", handler_unit=units["law"])
    with pytest.raises(ServiceError) as exc:
        services.event_reassign(
            event_id=event.pk, actor=world.users.community1, unit_id=units["market"].pk, reason="换人"
        )
    assert exc.value.code == "illegal_transition"


def test_the_page_refuses_an_action_it_does_not_offer(world: Any, units: Any) -> None:
    """A grid worker posting 改派 by hand gets the Chinese reason and the handler stays."""
    event = make_event(world, start=timezone.now(), status="handling", handler_unit=units["law"])
    grid = Client()
    grid.force_login(world.users.grid1)
    body = {"version": event.version, "unit": units["market"].pk, "reason": "换人"}
    response = grid.post(f"/events/{event.pk}/act/reassign/", body)
    assert response.status_code == 403
    assert "您不能对该事件执行此操作" in response.content.decode()
    assert Event.objects.get(pk=event.pk).handler_unit_id == units["law"].pk


def test_a_stale_version_is_told_first(world: Any, units: Any) -> None:
    event = make_event(world, start=timezone.now(), status="handled", handler_unit=units["law"])
    with pytest.raises(ServiceError) as exc:
        services.event_reassign(
            event_id=event.pk,
            actor=world.users.grid1,
            unit_id=units["market"].pk,
            reason="换人",
            expected_version=event.version + 5,
        )
    assert exc.value.code == "version_conflict"


def test_the_system_still_escalates_and_the_reporter_still_verifies(world: Any, units: Any) -> None:
    event = make_event(world, start=timezone.now(), status="handling", handler_unit=units["law"])
    e = services.event_escalate(event_id=event.pk, actor=None, reason="超过红灯时限", check_scope=False)
    assert e.level == "community" and e.status.code == "accepted"
    handled = make_event(world, start=timezone.now(), status="handled", handler_unit=units["law"])
    from wangge.events.common import reporter_token

    e = services.event_verify_by_reporter(
        tracking_code=handled.tracking_code, passed=True, reporter_token=reporter_token(handled)
    )
    assert e.status.code == "closed"
