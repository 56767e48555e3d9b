"""Casework pages (views_casework): disputes on the event page and their list, 我的回访, devices; roles and
territory (out of scope → 404), Chinese errors beside the form with nothing written, and English labels."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone, translation

from wangge.accounts.roles import Role
from wangge.audit.models import AuditEntry
from wangge.conftest import PASSWORD
from wangge.events import forms as event_forms
from wangge.events import services
from wangge.events.common.reporter import reporter_token
from wangge.events.models import (
    Channel,
    Device,
    DisputeOutcome,
    DisputeParty,
    Event,
    EventType,
    MediationSession,
    ReturnVisit,
    TimeLimit,
    TimelineEntry,
    Urgency,
)
from wangge.events.tests.core_helpers import report, staff
from wangge.events.tests.test_dedupe import make_event
from wangge.events.tests.test_devices import make_devworld
from wangge.registry.tests.factories import make_id

pytestmark = pytest.mark.django_db


def client_for(user: Any, language: str = "") -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    if language:
        c.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return c


def html(resp: Any) -> str:
    return resp.content.decode()


def local(dt: Any) -> str:
    """As an <input type="datetime-local"> sends it."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


# --- disputes: the section on the event page ----------------------------------------------------


def test_dispute_section_shows_on_dispute_events_only(world: Any, dispute: Event) -> None:
    c1 = client_for(world.users.community1)
    page = html(c1.get(f"/events/{dispute.pk}/"))
    assert 'id="dispute"' in page and "矛盾纠纷调解" in page
    for part in ("party", "session", "outcome"):
        assert f"/events/{dispute.pk}/dispute/{part}/" in page
    other = make_event(world, "路灯不亮", category="0101")
    assert 'id="dispute"' not in html(c1.get(f"/events/{other.pk}/"))
    # the forms of a non-dispute event do not exist
    assert (
        c1.post(f"/events/{other.pk}/dispute/party/", {"side": "applicant", "name": "某人"}).status_code
        == 404
    )
    assert not DisputeParty.objects.exists()


def test_party_from_the_register_search_and_by_name(world: Any, dispute: Event, residents: Any) -> None:
    here, elsewhere = residents
    c1 = client_for(world.users.community1)
    url = f"/events/{dispute.pk}/dispute/party/"
    # search the register (POST: an ID number never lands in a URL); only residents in scope come back
    found = c1.post(url, {"find": "1", "q": "张三丰", "side": "applicant"})
    assert found.status_code == 200
    page = html(found)
    assert f'name="resident" value="{here.pk}"' in page and "420802" in page and "*" in page
    by_id = html(c1.post(url, {"find": "1", "q": make_id(date(1960, 5, 1), seq=11)}))
    assert f'value="{here.pk}"' in by_id and make_id(date(1960, 5, 1), seq=11) not in by_id
    assert f'value="{elsewhere.pk}"' not in html(c1.post(url, {"find": "1", "q": "王五"}))
    assert not DisputeParty.objects.exists()  # a search writes nothing
    # add the resident, then a respondent who is not on the register
    r = c1.post(url, {"side": "applicant", "resident": here.pk, "note": "楼下住户"})
    assert r.status_code == 302 and r["Location"] == f"/events/{dispute.pk}/#dispute"
    r = c1.post(url, {"side": "respondent", "name": "楼上租户赵六"})
    assert r.status_code == 302
    parties = list(DisputeParty.objects.filter(event=dispute).order_by("pk"))
    assert [(p.side, p.resident_id, p.name) for p in parties] == [
        ("applicant", here.pk, ""),
        ("respondent", None, "楼上租户赵六"),
    ]
    assert TimelineEntry.objects.filter(event=dispute, action="dispute_party").count() == 2
    page = html(c1.get(f"/events/{dispute.pk}/"))
    assert "张三丰" in page and "楼下住户" in page and "登记当事人" in page  # timeline label
    # without register access the names are masked
    group = Group.objects.get(name=Role.COMMUNITY_STAFF.label)
    group.permissions.remove(Permission.objects.get(codename="view_register"))
    page = html(client_for(world.users.community1).get(f"/events/{dispute.pk}/"))
    assert "张*丰" in page and "张三丰" not in page and "楼**赵六" not in page and "楼****六" in page


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"side": "applicant"}, 400, "请选择登记的居民或填写当事人姓名"),
        ({"side": "judge", "name": "某人"}, 400, "请选择当事人身份"),
        ({"side": "applicant", "resident": "abc"}, 400, "请选择有效的居民"),
        ({"side": "applicant", "name": "长" * 51}, 400, "「当事人姓名」不能超过50字（现在51字）"),
        ({"find": "1", "q": ""}, 400, "请输入居民姓名"),
    ],
)
def test_party_bad_input_is_a_chinese_error(
    world: Any, dispute: Event, form: dict[str, Any], status: int, message: str
) -> None:
    r = client_for(world.users.community1).post(f"/events/{dispute.pk}/dispute/party/", form)
    assert r.status_code == status and message in html(r)
    assert not DisputeParty.objects.exists()
    assert not TimelineEntry.objects.filter(event=dispute, action="dispute_party").exists()


def test_party_errors_from_the_service(world: Any, dispute: Event, residents: Any) -> None:
    here, elsewhere = residents
    c1 = client_for(world.users.community1)
    url = f"/events/{dispute.pk}/dispute/party/"
    # a resident outside the user's territory (a tampered id) is "not found", and nothing is written
    r = c1.post(url, {"side": "other", "resident": elsewhere.pk})
    assert r.status_code == 404 and "未找到该居民" in html(r)
    assert c1.post(url, {"side": "applicant", "resident": here.pk}).status_code == 302
    r = c1.post(url, {"side": "other", "resident": here.pk})
    assert r.status_code == 409 and "该居民已是本事件的当事人" in html(r)
    # htmx: only the dispute section comes back, with a status htmx swaps
    r = c1.post(url, {"side": "other", "resident": here.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400 and 'id="dispute"' in html(r) and "<html" not in html(r)
    assert "该居民已是本事件的当事人" in html(r)
    assert DisputeParty.objects.filter(event=dispute).count() == 1


def test_mediation_session(world: Any, dispute: Event) -> None:
    c1 = client_for(world.users.community1)
    url = f"/events/{dispute.pk}/dispute/session/"
    held = timezone.now() - timedelta(hours=2)
    form = {
        "held_at": local(held),
        "mediator": "李调解员",
        "place": "社区调解室",
        "summary": "双方同意修复漏水",
    }
    r = c1.post(url, form, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["HX-Refresh"] == "true"
    session = MediationSession.objects.get(event=dispute)
    assert session.mediator == "李调解员" and session.created_by == world.users.community1
    entry = TimelineEntry.objects.get(event=dispute, action="mediation")
    assert not entry.public and entry.note == "第1次调解"
    page = html(c1.get(f"/events/{dispute.pk}/"))
    assert "双方同意修复漏水" in page and "第 1 次调解" in page and "社区调解室" in page


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"held_at": "+1d"}, 400, "调解时间不能晚于当前时间"),
        ({"held_at": "昨天下午"}, 400, "时间格式不正确"),
        ({"held_at": ""}, 400, "请填写调解时间"),
        ({"summary": ""}, 400, "请填写调解情况"),
        ({"mediator": " "}, 400, "请填写调解员"),
    ],
)
def test_mediation_session_bad_input(
    world: Any, dispute: Event, change: dict[str, str], status: int, message: str
) -> None:
    form = {"held_at": local(timezone.now()), "mediator": "李调解员", "summary": "双方各执一词"}
    form.update(change)
    if form["held_at"] == "+1d":
        form["held_at"] = local(timezone.now() + timedelta(days=1))
    r = client_for(world.users.community1).post(f"/events/{dispute.pk}/dispute/session/", form)
    assert r.status_code == status and message in html(r)
    assert 'id="dispute-session"' in html(r) and "<html" in html(r)
    assert not MediationSession.objects.exists()


def test_outcome_and_agreement(world: Any, dispute: Event) -> None:
    c1 = client_for(world.users.community1)
    url = f"/events/{dispute.pk}/dispute/outcome/"
    when = local(timezone.now() - timedelta(minutes=30))
    r = c1.post(url, {"result": "agreed", "agreement_text": "", "decided_at": when})
    assert r.status_code == 400 and "请填写协议内容" in html(r)
    r = c1.post(url, {"result": "maybe", "decided_at": when})
    assert r.status_code == 400 and "请选择调解结果" in html(r)
    assert not DisputeOutcome.objects.exists()
    r = c1.post(
        url, {"result": "agreed", "agreement_text": "楼上住户负责维修，三日内完成。", "decided_at": when}
    )
    assert r.status_code == 302
    outcome = DisputeOutcome.objects.get(event=dispute)
    assert outcome.result == "agreed" and "三日内完成" in outcome.agreement_text
    assert TimelineEntry.objects.get(event=dispute, action="dispute_outcome").public
    page = html(c1.get(f"/events/{dispute.pk}/"))
    assert "调解成功" in page and "楼上住户负责维修" in page and "更正调解结果" in page
    # correct it
    r = c1.post(url, {"result": "referred", "decided_at": when})
    assert r.status_code == 302
    outcome.refresh_from_db()
    assert outcome.result == "referred"
    assert AuditEntry.objects.filter(action="dispute.outcome_set").count() == 2


def test_dispute_forms_by_role_and_territory(world: Any, dispute: Event) -> None:
    u = world.users
    url = f"/events/{dispute.pk}/dispute/party/"
    form = {"side": "applicant", "name": "某人"}
    anon = Client().post(url, form)
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    assert client_for(u.resident1).post(url, form).status_code == 403
    assert client_for(u.member1).post(url, form).status_code == 403
    assert client_for(u.dept1).post(url, form).status_code == 403
    for user in (u.community2, u.street2, u.grid2):  # other community / street / grid
        assert client_for(user).post(url, form).status_code == 404, user
        assert client_for(user).get(f"/events/{dispute.pk}/").status_code == 404, user
    assert client_for(u.grid1).get(url).status_code == 405  # POST only
    assert not DisputeParty.objects.exists()
    for user in (u.grid1, u.street1, u.admin):
        assert client_for(user).post(url, form).status_code == 302, user
    assert DisputeParty.objects.filter(event=dispute).count() == 3


def test_merged_dispute_is_read_only(world: Any, dispute: Event) -> None:
    master = make_event(world, "邻里漏水纠纷", category="0601")
    Event.objects.filter(pk=dispute.pk).update(master=master)
    c1 = client_for(world.users.community1)
    page = html(c1.get(f"/events/{dispute.pk}/"))
    assert "请在主事件上登记" in page and f"/events/{dispute.pk}/dispute/party/" not in page
    r = c1.post(f"/events/{dispute.pk}/dispute/party/", {"side": "applicant", "name": "某人"})
    assert r.status_code == 409 and "该事件已合并到其他事件" in html(r)
    assert not DisputeParty.objects.exists()


# --- disputes: the list ---------------------------------------------------------------------------


def test_dispute_list_scope_and_filters(world: Any, dispute: Event) -> None:
    other = make_event(world, "路灯不亮", category="0101")
    far = make_event(world, "西山邻里纠纷", category="0601", grid=world.g211, col=3)
    c1 = client_for(world.users.community1)
    r = c1.get("/events/disputes/")
    assert r.status_code == 200
    page = html(r)
    assert dispute.tracking_code in page and other.tracking_code not in page and far.tracking_code not in page
    assert "尚无结果" in page and f"/events/{dispute.pk}/#dispute" in page
    assert far.tracking_code in html(client_for(world.users.admin).get("/events/disputes/"))
    assert dispute.tracking_code not in html(client_for(world.users.community2).get("/events/disputes/"))
    services_outcome = {"result": "failed", "agreement_text": "", "decided_at": timezone.now()}
    from wangge.events.disputes import dispute_outcome_set

    dispute_outcome_set(actor=world.users.community1, event_id=dispute.pk, **services_outcome)
    assert dispute.tracking_code in html(c1.get("/events/disputes/", {"result": "failed"}))
    assert dispute.tracking_code not in html(c1.get("/events/disputes/", {"result": "none"}))
    assert dispute.tracking_code in html(c1.get("/events/disputes/", {"state": "open", "q": "漏水"}))
    assert dispute.tracking_code not in html(c1.get("/events/disputes/", {"state": "closed"}))
    bad = c1.get("/events/disputes/", {"result": "nonsense"})
    assert bad.status_code == 200 and "选择一个有效的选项" in html(bad)


def test_dispute_list_by_role(world: Any) -> None:
    anon = Client().get("/events/disputes/")
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    for user in (world.users.resident1, world.users.member1, world.users.dept1):
        assert client_for(user).get("/events/disputes/").status_code == 403, user
    for user in (world.users.grid1, world.users.street1, world.users.admin):
        assert client_for(user).get("/events/disputes/").status_code == 200, user


# --- return visits --------------------------------------------------------------------------------


@pytest.fixture
def visit(world: Any) -> ReturnVisit:
    """An event closed and rated 不满意: a return visit for community1 (the event's community)."""
    staff(world)
    e = report()
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")
    e = services.event_verify(event_id=e.pk, actor=world.users.community1, passed=True, note="核实")
    services.event_rate(
        tracking_code=e.tracking_code,
        reporter_token=reporter_token(e),
        rating="unsatisfied",
        comment="油烟还是很大",
    )
    v = ReturnVisit.objects.get(event=e)
    assert v.assigned_to == world.users.community1
    return v


def test_my_return_visits_page(world: Any, visit: ReturnVisit) -> None:
    c1 = client_for(world.users.community1)
    r = c1.get("/events/return-visits/")
    assert r.status_code == 200
    page = html(r)
    assert visit.event.tracking_code in page and "油烟还是很大" in page and "分配给我" in page
    assert f"/events/return-visits/{visit.pk}/complete/" in page
    assert "张*丰" in page and "138****5678" in page and "13812345678" not in page
    assert visit.event.tracking_code in html(c1.get("/events/return-visits/", {"mine": "1"}))
    # the admin sees it in the district, not as "mine"
    admin = client_for(world.users.admin)
    assert visit.event.tracking_code in html(admin.get("/events/return-visits/"))
    assert visit.event.tracking_code not in html(admin.get("/events/return-visits/", {"mine": "1"}))
    assert visit.event.tracking_code not in html(
        client_for(world.users.community2).get("/events/return-visits/")
    )
    # linked from 我的任务 and the navigation
    tasks = html(c1.get("/events/tasks/"))
    assert "/events/return-visits/" in tasks and "我的回访" in tasks


def test_return_visit_pages_by_role(world: Any, visit: ReturnVisit) -> None:
    url = f"/events/return-visits/{visit.pk}/complete/"
    anon = Client().get("/events/return-visits/")
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    assert Client().post(url, {"outcome": "x"}).status_code == 302
    for user in (world.users.resident1, world.users.member1, world.users.dept1):
        assert client_for(user).get("/events/return-visits/").status_code == 403, user
        assert client_for(user).post(url, {"outcome": "已解释"}).status_code == 403, user
    for user in (world.users.community2, world.users.street2, world.users.grid2):
        assert client_for(user).post(url, {"outcome": "已解释"}).status_code == 404, user
    assert (
        client_for(world.users.community1).post("/events/return-visits/999999/complete/").status_code == 404
    )
    visit.refresh_from_db()
    assert visit.done_at is None and visit.outcome == ""


def test_complete_a_return_visit(world: Any, visit: ReturnVisit) -> None:
    c1 = client_for(world.users.community1)
    url = f"/events/return-visits/{visit.pk}/complete/"
    r = c1.post(url, {"outcome": "   "})
    assert r.status_code == 400 and "请填写回访情况" in html(r) and f'id="rv-{visit.pk}"' in html(r)
    r = c1.post(url, {"outcome": ""}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400 and "请填写回访情况" in html(r) and "<html" not in html(r)
    visit.refresh_from_db()
    assert visit.done_at is None
    r = c1.post(url, {"outcome": "已电话解释，油烟净化器已加装"})
    assert r.status_code == 302 and r["Location"] == "/events/return-visits/"
    visit.refresh_from_db()
    assert visit.done_at and visit.outcome == "已电话解释，油烟净化器已加装"
    assert TimelineEntry.objects.filter(event=visit.event, action="return_visit_done").exists()
    assert visit.event.tracking_code not in html(c1.get("/events/return-visits/"))
    again = c1.post(url, {"outcome": "再次回访"})
    assert again.status_code == 409 and "该回访已完成" in html(again)


def test_return_visit_reopens_the_event(world: Any, visit: ReturnVisit) -> None:
    c1 = client_for(world.users.community1)
    r = c1.post(f"/events/return-visits/{visit.pk}/complete/", {"outcome": "居民说仍有油烟", "reopen": "on"})
    assert r.status_code == 302
    visit.refresh_from_db()
    event = Event.objects.get(pk=visit.event_id)
    assert visit.done_at and event.status.code == "handling"


def test_return_visit_reopen_refused_writes_nothing(world: Any, visit: ReturnVisit) -> None:
    Event.objects.filter(pk=visit.event_id).update(closed_at=timezone.now() - timedelta(days=60))
    c1 = client_for(world.users.community1)
    r = c1.post(f"/events/return-visits/{visit.pk}/complete/", {"outcome": "仍不满意", "reopen": "on"})
    assert r.status_code == 409 and "重新打开期限" in html(r)
    visit.refresh_from_db()
    assert visit.done_at is None and visit.outcome == ""  # one transaction: the visit is not marked done
    assert not TimelineEntry.objects.filter(event=visit.event, action="return_visit_done").exists()


# --- devices --------------------------------------------------------------------------------------


@pytest.fixture
def devworld(world: Any) -> Any:
    return make_devworld(world)


def test_device_list_scope_and_masking(devworld: Any) -> None:
    w = devworld.world
    r = client_for(w.users.admin).get("/events/devices/")
    assert r.status_code == 200
    page = html(r)
    for code in ("W-0001", "SMK-0001", "H2O-0001"):
        assert code in page
    assert "王*奶" in page and "王奶奶" not in page  # the wearer's name masked
    assert "六合小吃店" in page and "尚未收到消息" in page and "/events/devices/new/" in page
    Device.objects.filter(pk=devworld.watch.pk).update(last_seen=timezone.now())
    page = html(client_for(w.users.grid1).get("/events/devices/", {"kind": "wearable"}))
    assert "W-0001" in page and "尚未收到消息" not in page and "H2O-0001" not in page
    # grid1 (g111): the wearable and the water sensor of building b1, not the shop in g112
    page = html(client_for(w.users.grid1).get("/events/devices/"))
    assert "W-0001" in page and "H2O-0001" in page and "SMK-0001" not in page
    assert "SMK-0001" not in html(client_for(w.users.community2).get("/events/devices/"))
    page = html(client_for(w.users.admin).get("/events/devices/", {"kind": "smoke"}))
    assert "SMK-0001" in page and "W-0001" not in page


def test_device_pages_by_role(devworld: Any) -> None:
    w = devworld.world
    for url in ("/events/devices/", "/events/devices/new/", f"/events/devices/{devworld.watch.pk}/"):
        anon = Client().get(url)
        assert anon.status_code == 302 and "/login/" in anon["Location"], url
        for user in (w.users.resident1, w.users.member1, w.users.dept1):
            assert client_for(user).get(url).status_code == 403, (user, url)
    # out of scope: 404 for the page and for a save
    c2 = client_for(w.users.community2)
    assert c2.get(f"/events/devices/{devworld.watch.pk}/").status_code == 404
    assert c2.post(f"/events/devices/{devworld.watch.pk}/", {"kind": "other"}).status_code == 404
    assert client_for(w.users.admin).get("/events/devices/999999/").status_code == 404
    # view but not edit: the list without the register button; the forms refused
    group = Group.objects.get(name=Role.GRID_WORKER.label)
    group.permissions.remove(Permission.objects.get(codename="edit_register"))
    g1 = client_for(w.users.grid1)
    r = g1.get("/events/devices/")
    assert r.status_code == 200 and "/events/devices/new/" not in html(r)
    assert g1.get("/events/devices/new/").status_code == 403
    assert g1.post("/events/devices/new/", {"device_id": "X-9", "kind": "smoke"}).status_code == 403
    assert not Device.objects.filter(device_id="X-9").exists()


def test_register_a_device(devworld: Any) -> None:
    w = devworld.world
    c1 = client_for(w.users.community1)
    assert c1.get("/events/devices/new/").status_code == 200
    # look up the building to bind to: no device is written by a search
    found = c1.post("/events/devices/new/", {"find": "1", "bind_kind": "building", "bind_q": "1栋"})
    assert found.status_code == 200 and f'value="building:{devworld.b1.pk}"' in html(found)
    found = c1.post("/events/devices/new/", {"find": "1", "bind_kind": "resident", "bind_q": "王奶奶"})
    assert f'value="resident:{devworld.r1.pk}"' in html(found) and "王*奶" in html(found)
    assert Device.objects.count() == 3
    form = {
        "device_id": "SMK-0100",
        "kind": "smoke",
        "name": "楼道烟感",
        "binding": f"building:{devworld.b1.pk}",
    }
    r = c1.post("/events/devices/new/", form)
    assert r.status_code == 302 and r["Location"] == "/events/devices/"
    d = Device.objects.get(device_id="SMK-0100")
    assert d.building_id == devworld.b1.pk and d.path == devworld.b1.path and d.life_safety and d.active
    assert AuditEntry.objects.filter(action="device_register", object_id=str(d.pk)).exists()
    # by coordinates only
    lat, lng = 31.0325, 112.2025  # inside g111
    r = c1.post("/events/devices/new/", {"device_id": "DOOR-1", "kind": "door", "lat": lat, "lng": lng})
    assert r.status_code == 302
    assert Device.objects.get(device_id="DOOR-1").path == w.g111.path


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"device_id": "bad id/#", "kind": "smoke", "binding": "B"}, 400, "绑定对象无效"),
        ({"device_id": "bad id/#", "kind": "smoke", "binding": "building:{b1}"}, 400, "设备编号须为"),
        ({"device_id": "", "kind": "smoke"}, 400, "请填写设备编号"),
        ({"device_id": "K-1", "kind": "toaster"}, 400, "请选择设备类型"),
        ({"device_id": "K-1", "kind": "smoke"}, 400, "请绑定居民、场所、楼栋或填写设备位置"),
        ({"device_id": "K-1", "kind": "smoke", "lat": "31.0"}, 400, "经纬度须同时提供"),
        ({"device_id": "K-1", "kind": "smoke", "lat": "abc", "lng": "1"}, 400, "纬度须为数字"),
        ({"device_id": "SMK-0001", "kind": "smoke", "binding": "building:{b1}"}, 409, "该设备编号已登记"),
        ({"device_id": "K-1", "kind": "smoke", "binding": "building:999999"}, 404, "未找到该楼栋"),
        ({"find": "1", "bind_kind": "building", "bind_q": ""}, 400, "请选择类型并输入"),
    ],
)
def test_register_bad_input(devworld: Any, form: dict[str, str], status: int, message: str) -> None:
    form = {k: v.replace("{b1}", str(devworld.b1.pk)) for k, v in form.items()}
    r = client_for(devworld.world.users.community1).post("/events/devices/new/", form)
    assert r.status_code == status and message in html(r)
    assert Device.objects.count() == 3


def test_register_refuses_a_binding_outside_the_territory(devworld: Any) -> None:
    c2 = client_for(devworld.world.users.community2)
    r = c2.post(
        "/events/devices/new/", {"device_id": "X-1", "kind": "smoke", "binding": f"building:{devworld.b1.pk}"}
    )
    assert r.status_code == 404 and "未找到该楼栋" in html(r)
    found = c2.post("/events/devices/new/", {"find": "1", "bind_kind": "building", "bind_q": "1栋"})
    assert f"building:{devworld.b1.pk}" not in html(found) and "没有找到" in html(found)
    assert not Device.objects.filter(device_id="X-1").exists()


def test_edit_a_device(devworld: Any) -> None:
    w = devworld.world
    c1 = client_for(w.users.community1)
    url = f"/events/devices/{devworld.smoke.pk}/"
    page = html(c1.get(url))
    assert "SMK-0001" in page and f'value="place:{devworld.p1.pk}" checked' in page and "六合小吃店" in page
    # rebind to the building, rename, take out of service; the device id cannot change
    form = {
        "device_id": "HACKED",
        "kind": "smoke",
        "name": "1栋烟感",
        "life_safety": "1",
        "binding": f"building:{devworld.b1.pk}",
    }
    r = c1.post(url, form)
    assert r.status_code == 302
    d = Device.objects.get(pk=devworld.smoke.pk)
    assert d.device_id == "SMK-0001" and d.name == "1栋烟感" and not d.active
    assert d.building_id == devworld.b1.pk and d.place_id is None and d.path == devworld.b1.path
    entry = AuditEntry.objects.get(action="device_update", object_id=str(d.pk))
    assert (
        entry.after["active"] is False
        and entry.after.get("name_changed")
        and "1栋烟感" not in str(entry.after)
    )
    assert "停用" in html(c1.get("/events/devices/"))
    # bad input leaves the device as it was
    r = c1.post(url, {**form, "kind": "", "active": "on"})
    assert r.status_code == 400 and "请选择设备类型" in html(r)
    r = c1.post(url, {**form, "binding": "", "active": "on"})
    assert r.status_code == 400 and "请绑定居民、场所、楼栋或填写设备位置" in html(r)
    assert not Device.objects.get(pk=d.pk).active


# --- English --------------------------------------------------------------------------------------


def test_report_form_in_english(world: Any) -> None:
    c = Client()
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = html(c.get("/report/"))
    assert 'lang="en"' in page
    for label in ("What is the problem?", "Category (optional)", "Photos (optional)", "Name (optional)"):
        assert label in page, label
    assert "Report anonymously (no name or phone)" in page and "Not sure, let the staff decide" in page
    for chinese in ("遇到了什么问题", "问题类别（可不选）", "姓名（可选）", "匿名反映"):
        assert chinese not in page, chinese
    # Chinese stays the default
    assert "遇到了什么问题？" in html(Client().get("/report/"))
    # errors too
    r = c.post("/report/", {"description": "", "address": "六合路"})
    assert r.status_code == 400 and "Please describe the problem" in html(r)


def test_staff_event_pages_in_english(world: Any, dispute: Event) -> None:
    c = client_for(world.users.community1, language="en")
    page = html(c.get("/events/hotline/new/"))
    assert "Work-order number" in page and "Type of request" in page and "Complaint" in page
    assert "工单编号" not in page and "诉求类型" not in page
    page = html(c.get(f"/events/{dispute.pk}/"))
    assert "Dispute mediation" in page and "Register a party" in page and "Applicant" in page
    assert 'id="act-accept"' in page and ">Accept<" in page  # the action titles (status-graph edges)
    page = html(c.get("/events/disputes/"))
    assert "Dispute mediation" in page and "No outcome yet" in page
    assert "My return visits" in html(c.get("/events/return-visits/"))
    assert "Register a device" in html(c.get("/events/devices/new/"))


def test_every_choice_label_has_an_english_translation() -> None:
    from wangge.events.models import DisputeOutcome as Outcome

    labels = set(event_forms.CHOICE_LABELS)
    for choices in (
        EventType,
        Urgency,
        Channel,
        TimeLimit.Unit,
        Device.Kind,
        DisputeParty.Side,
        Outcome.Result,
    ):
        for _value, label in choices.choices:
            assert label in labels or str(label).isascii(), label
    with translation.override("en"):
        for label in labels:
            assert translation.gettext(label) != label, label


def test_labels_shown_through_the_tr_filter_have_english_translations() -> None:
    """Stage, level, warning, unit kind, whistle and extension states, roles, the default status graph and
    the timeline's step names: pages show them through the `tr` filter (a name an installation typed
    itself stays as typed)."""
    from wangge.events.display import ACTION_LABELS
    from wangge.events.models import ExtensionRequest, HandlingUnit, Level, Stage, Warning, WhistleSummon
    from wangge.events.seed import STATUSES

    labels = {
        str(label)
        for c in (Stage, Level, Warning, HandlingUnit.Kind, WhistleSummon.State, ExtensionRequest.State, Role)
        for _v, label in c.choices
    }
    labels |= {name for _code, name, *_rest in STATUSES} | set(ACTION_LABELS.values())
    with translation.override("en"):
        missing = sorted(label for label in labels if translation.gettext(label) == label)
    assert not missing


def test_event_page_labels_in_english(world: Any) -> None:
    event = report()
    page = html(client_for(world.users.community1, language="en").get(f"/events/{event.pk}/"))
    for label in ("Awaiting acceptance", "Automatic triage", "Community staff", "Grid"):
        assert label in page, label
    for chinese in ("待受理", "智能分拣", "社区工作人员"):
        assert chinese not in page, chinese


def test_a_visit_whose_assignee_moved_away_is_listed_for_who_can_complete_it(
    world: Any, visit: ReturnVisit
) -> None:
    """The list shows only visits the user can complete: community1 moved to another community no
    longer sees (or can complete) it; the staff who now hold the event's territory do."""
    c1 = world.users.community1
    c1.territory = world.users.community2.territory
    c1.save()
    code = visit.event.tracking_code
    assert code not in html(client_for(c1).get("/events/return-visits/"))
    assert (
        client_for(c1).post(f"/events/return-visits/{visit.pk}/complete/", {"outcome": "x"}).status_code
        == 404
    )
    assert code in html(client_for(world.users.street1).get("/events/return-visits/"))
