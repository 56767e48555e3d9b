"""Rules that differ between cities are data: urgency words and the whistle/supervisor roles are rows edited
in the admin and applied without a restart; the level code lengths are territory's, defined once."""

import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from wangge.audit.models import AuditEntry
from wangge.core.errors import Forbidden
from wangge.events import reference as reference_module
from wangge.events.common import LEVEL_CODE_LENGTH, supervisor_roles, whistle_roles
from wangge.events.models import EventRoleRule, HandlingUnit, SosStep, UrgencyWord
from wangge.events.selectors import dispatch_units
from wangge.events.sos.watch import sos_step_users
from wangge.events.workflow import whistle
from wangge.territory.models import CODE_LENGTH, Level

from .clock_helpers import at, make_event
from .core_helpers import report

pytestmark = pytest.mark.django_db

WALL = "小区围墙倒塌了，压住了路边的车"


@pytest.fixture
def boss(client: Any) -> Any:
    user = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-123456789")
    client.force_login(user)
    return client


def _admin_save(client: Any, model: str, data: dict[str, Any], pk: int | None = None) -> None:
    url = f"/admin/events/{model}/{pk}/change/" if pk else f"/admin/events/{model}/add/"
    r = client.post(url, data)
    assert r.status_code == 302, r.content.decode()[:2000]


def test_the_seeded_words_and_roles_are_today_s_rules(world):
    assert report("厨房着火了，快来人").urgency == "critical"
    assert report("楼上漏水到我家").urgency == "urgent"
    assert report("楼下火锅店油烟太大").urgency == "normal"
    assert UrgencyWord.objects.filter(level="ignore", word="灭火器").exists()
    staff = {"district_admin", "street_staff", "community_staff"}
    assert whistle_roles() == staff and supervisor_roles() == staff


def test_an_urgency_word_added_and_deactivated_in_the_admin_applies_without_a_restart(world, boss):
    assert report(WALL).urgency == "normal"  # the rules are loaded and kept by this process now
    _admin_save(boss, "urgencyword", {"word": "围墙倒塌", "level": "urgent", "active": "on", "note": ""})
    word = UrgencyWord.objects.get(word="围墙倒塌")
    assert AuditEntry.objects.filter(action="events.admin_create", object_id=str(word.pk)).exists()
    assert report(WALL).urgency == "urgent"
    # Raised to 特急 in the admin: the next report says so.
    _admin_save(boss, "urgencyword", {"word": "围墙倒塌", "level": "critical", "active": "on"}, word.pk)
    assert report(WALL).urgency == "critical"
    # Deactivated: no longer a reason.
    _admin_save(boss, "urgencyword", {"word": "围墙倒塌", "level": "critical"}, word.pk)
    assert report(WALL).urgency == "normal"


def test_an_ignore_word_and_a_deactivated_seed_word(world, boss):
    UrgencyWord.objects.create(word="塌方", level="critical")
    assert report("网上看到一段塌方视频，想问问小区后山安全吗").urgency == "critical"
    UrgencyWord.objects.create(word="塌方视频", level="ignore")
    assert report("网上看到一段塌方视频，想问问小区后山安全吗").urgency == "normal"
    UrgencyWord.objects.filter(word="漏水").get().delete()
    assert report("楼上漏水到我家").urgency == "normal"


def test_another_process_sees_a_change_within_the_recheck_window(world, monkeypatch):
    assert report(WALL).urgency == "normal"
    # A change saved by another process sends no signal here (update() sends none either).
    UrgencyWord.objects.create(word="围墙倒塌", level="urgent", active=False)
    reference_module.reference_forget()
    assert report(WALL).urgency == "normal"
    UrgencyWord.objects.filter(word="围墙倒塌").update(active=True)
    assert report(WALL).urgency == "normal"  # still this process's copy
    later = time.monotonic() + reference_module.RECHECK_SECONDS + 1
    monkeypatch.setattr(reference_module, "time", SimpleNamespace(monotonic=lambda: later))
    assert report(WALL).urgency == "urgent"


@pytest.fixture
def unit(world):
    law = HandlingUnit.objects.create(
        name="综合行政执法中队", kind="enforcement", territory=world.s1, path=world.s1.code, ack_limit_hours=2
    )
    law.members.add(world.users.dept1)
    return law


def _blow(world, unit, event, actor):
    return whistle.whistle_blow(event_id=event.pk, actor=actor, unit_ids=[unit.pk], now=at(2025, 9, 30, 16))


def test_a_role_made_whistler_may_blow_and_removed_may_not(world, unit, boss):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    with pytest.raises(Forbidden):
        _blow(world, unit, event, world.users.grid1)
    rule = EventRoleRule.objects.get(role="grid_worker")  # seeded by 0011 (核查), without the whistle
    data = {"role": "grid_worker", "may_whistle": "on", "may_verify": "on", "note": "试点：网格员吹哨"}
    _admin_save(boss, "eventrolerule", data, rule.pk)
    assert "grid_worker" in whistle_roles() and "grid_worker" not in supervisor_roles()
    assert _blow(world, unit, event, world.users.grid1).blown_by == world.users.grid1
    EventRoleRule.objects.filter(role="grid_worker").delete()
    other = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    with pytest.raises(Forbidden):
        _blow(world, unit, other, world.users.grid1)
    # Taking the whistle from community staff refuses them too; they still supervise.
    rule = EventRoleRule.objects.get(role="community_staff")
    _admin_save(boss, "eventrolerule", {"role": "community_staff", "supervises": "on"}, rule.pk)
    assert "community_staff" not in whistle_roles() and "community_staff" in supervisor_roles()
    with pytest.raises(Forbidden):
        _blow(world, unit, other, world.users.community1)
    assert _blow(world, unit, other, world.users.street1).blown_by == world.users.street1


def test_the_event_page_offers_the_whistle_to_the_whistle_roles(world, client):
    event = make_event(world, start=at(2025, 9, 29, 9), handler_user=world.users.grid1)
    client.force_login(world.users.community1)
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert 'id="whistle-' in page
    EventRoleRule.objects.filter(role="community_staff").update(may_whistle=False)  # no signal: forget
    reference_module.reference_forget()
    page = client.get(f"/events/{event.pk}/").content.decode()
    assert 'id="whistle-' not in page


def test_events_use_the_territory_level_code_lengths(world):
    assert LEVEL_CODE_LENGTH is CODE_LENGTH
    path = world.g111.code
    same_role_elsewhere = {
        Level.GRID: world.users.grid2,
        Level.COMMUNITY: world.users.community2,
        Level.STREET: world.users.street2,
    }
    roles = {
        Level.GRID: "grid_worker",
        Level.COMMUNITY: "community_staff",
        Level.STREET: "street_staff",
        Level.DISTRICT: "district_admin",
    }
    for order, level in enumerate(CODE_LENGTH, start=100):
        node_code = path[: CODE_LENGTH[level]]
        step = SosStep.objects.create(order=order, level=str(level), role=roles[level], minutes=5)
        users = list(sos_step_users(step=step, path=path))
        assert [u.territory.code for u in users] == [node_code], level
        if level in same_role_elsewhere:
            assert same_role_elsewhere[level] not in users
    # The units that may take an event: those on the event's node at every level, and inside its community
    # (a unit of the neighbouring grid); not those of the neighbouring community.
    nodes = {Level.DISTRICT: world.district, Level.STREET: world.s1, Level.COMMUNITY: world.c11}
    nodes[Level.GRID] = world.g111
    units = {
        HandlingUnit.objects.create(name=f"{level}单位", territory=node, path=path[: CODE_LENGTH[level]])
        for level, node in nodes.items()
    }
    units.add(HandlingUnit.objects.create(name="邻网格单位", territory=world.g112, path=world.g112.code))
    HandlingUnit.objects.create(name="邻社区单位", territory=world.c12, path=world.c12.code)
    event = make_event(world, start=at(2025, 9, 29, 9))
    assert set(dispatch_units(event=event)) == units
