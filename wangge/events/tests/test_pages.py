"""Event pages: status per role, scope 404, Chinese errors next to forms, idempotent intake forms, and
the whole loop driven through the staff pages."""

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from wangge.conftest import PASSWORD, centre
from wangge.events import services
from wangge.events.common.reporter import reporter_token
from wangge.events.models import Attachment, Event, HandlingUnit, TimelineEntry
from wangge.events.services import EventInput

pytestmark = pytest.mark.django_db

LAT, LNG = centre(0, 0)  # inside grid g111 (community c11, grid worker grid1)
STAFF_PAGES = [
    "/events/",
    "/events/tasks/",
    "/events/triage/",
    "/events/overdue/",
    "/events/whistles/",
    "/events/hotline/new/",
    "/events/patrol/new/",
]


def client_for(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c


def png(name: str = "p.png") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def make_event(world: Any, text: str = "小区北门垃圾桶满溢，三天没人清运", **kw: Any) -> Event:
    data = EventInput(
        description=text, lat=LAT, lng=LNG, channel="resident", reporter_phone="13812345678", **kw
    )
    event, _ = services.event_intake(data=data)
    return event


def html(resp: Any) -> str:
    return resp.content.decode()


def idem_of(page: str) -> str:
    m = re.search(r'name="idem" value="([0-9a-f]+)"', page)
    assert m, "hidden Idempotency-Key missing"
    return m.group(1)


# --- 我要说 -------------------------------------------------------------------------------------


def test_report_form_renders_for_anyone_with_a_fresh_key(world: Any) -> None:
    c = Client()
    r1, r2 = c.get("/report/"), c.get("/report/")
    assert r1.status_code == 200
    page = html(r1)
    assert "我要说" in page and 'id="pin-map"' in page and "使用我的位置" in page
    assert 'capture="environment"' in page and 'accept="image/' in page
    assert idem_of(page) != idem_of(html(r2))


def test_report_is_idempotent_and_shows_the_tracking_code(world: Any) -> None:
    c = Client()
    key = idem_of(html(c.get("/report/")))
    form = {
        "description": "楼下烧烤油烟太大",
        "lat": LAT,
        "lng": LNG,
        "idem": key,
        "name": "张三",
        "phone": "13812345678",
    }
    first = c.post("/report/", form)
    assert first.status_code == 201, html(first)[:2000]
    event = Event.objects.get()
    assert event.channel == "resident" and not event.anonymous
    assert event.tracking_code in html(first) and f"/track/{event.tracking_code}/" in html(first)
    # The phone never travels back in the page.
    assert "13812345678" not in html(first)
    again = c.post("/report/", form)  # double tap / back button + resubmit
    assert again.status_code == 200 and event.tracking_code in html(again) and "未重复提交" in html(again)
    assert Event.objects.count() == 1


def test_report_anonymous_stores_no_contact(world: Any) -> None:
    r = Client().post(
        "/report/",
        {
            "description": "路灯不亮",
            "address": "六合路12号",
            "anonymous": "on",
            "name": "李四",
            "phone": "13900001111",
        },
    )
    assert r.status_code == 201
    e = Event.objects.get()
    assert e.anonymous and e.reporter_phone_enc == "" and e.reporter_name_enc == ""


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"description": "", "lat": LAT, "lng": LNG}, "请填写问题描述"),
        ({"description": "有问题"}, "请在地图上选点，或填写地址"),
        ({"description": "有问题", "lat": LAT}, "地图位置不完整"),
        ({"description": "有问题", "address": "x", "phone": "123"}, "手机号应为11位数字"),
        ({"description": "有问题", "address": "x", "category": "nope"}, "选择一个有效的选项"),
    ],
)
def test_report_bad_input_gives_chinese_error(world: Any, form: dict[str, Any], message: str) -> None:
    r = Client().post("/report/", form)
    assert r.status_code == 400
    assert message in html(r)
    assert not Event.objects.exists()


def test_report_refuses_a_file_that_is_not_an_image(world: Any) -> None:
    fake = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    r = Client().post("/report/", {"description": "垃圾", "address": "六合路", "photos": [fake]})
    assert r.status_code == 400
    assert "不是有效的图片" in html(r)
    assert not Event.objects.exists()


def test_report_with_photo_stores_it(world: Any) -> None:
    r = Client().post("/report/", {"description": "垃圾堆放", "lat": LAT, "lng": LNG, "photos": [png()]})
    assert r.status_code == 201
    assert Attachment.objects.filter(event=Event.objects.get()).count() == 1


# --- tracking -----------------------------------------------------------------------------------


def test_track_page_is_public_and_anonymised(world: Any) -> None:
    e = make_event(world)
    r = Client().get(f"/track/{e.tracking_code}/")
    assert r.status_code == 200
    page = html(r)
    assert e.tracking_code in page and e.status.name in page
    assert "13812345678" not in page and "138****5678" not in page
    assert Client().get("/track/ZZZZZZZZZZ/").status_code == 404
    # Codes no event can have are not found either, on both databases (NUL is refused by PostgreSQL).
    for bad in ("AB%00C", "A" * 40, "AB%01C"):
        assert Client().get(f"/track/{bad}/").status_code == 404, bad
        assert Client().get(f"/api/v1/track/{bad}/").status_code == 404, bad
    # lower case works too
    assert Client().get(f"/track/{e.tracking_code.lower()}/").status_code == 200


def test_track_lookup(world: Any) -> None:
    e = make_event(world)
    c = Client()
    assert c.get("/track/").status_code == 200
    r = c.get("/track/", {"code": e.tracking_code.lower()})
    assert r.status_code == 302 and r["Location"] == f"/track/{e.tracking_code}/"
    bad = c.get("/track/", {"code": "!!"})
    assert bad.status_code == 400 and "查询码格式不正确" in html(bad)


def test_rating_only_when_closed_and_in_chinese(world: Any) -> None:
    e = make_event(world)
    c = Client()
    r = c.post(f"/track/{e.tracking_code}/rate/", {"rating": "satisfied", "k": reporter_token(e)})
    assert r.status_code == 409 and "尚未办结" in html(r)
    r = c.post(f"/track/{e.tracking_code}/rate/", {"rating": "great", "k": reporter_token(e)})
    assert r.status_code == 400 and "请选择满意程度" in html(r)


# --- staff pages: roles and scope ----------------------------------------------------------------


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_by_role(world: Any, url: str) -> None:
    anon = Client().get(url)
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    assert client_for(world.users.resident1).get(url).status_code == 403
    assert client_for(world.users.member1).get(url).status_code == 403
    for u in (world.users.admin, world.users.community1, world.users.grid1):
        assert client_for(u).get(url).status_code == 200, (u, url)


def test_detail_scope_is_404_outside(world: Any) -> None:
    e = make_event(world)
    assert client_for(world.users.community2).get(f"/events/{e.pk}/").status_code == 404
    assert client_for(world.users.street2).get(f"/events/{e.pk}/").status_code == 404
    assert client_for(world.users.grid2).get(f"/events/{e.pk}/").status_code == 404
    assert client_for(world.users.resident1).get(f"/events/{e.pk}/").status_code == 403
    assert client_for(world.users.community2).post(f"/events/{e.pk}/act/accept/", {}).status_code == 404
    assert client_for(world.users.community2).get(f"/events/{e.pk}/merge/").status_code == 404
    assert client_for(world.users.community1).get("/events/999999/").status_code == 404
    r = client_for(world.users.community1).get(f"/events/{e.pk}/")
    assert r.status_code == 200
    page = html(r)
    assert e.tracking_code in page and "138****5678" in page and "13812345678" not in page


def test_list_filters_and_scope(world: Any) -> None:
    e = make_event(world)
    c1 = client_for(world.users.community1)
    assert e.tracking_code in html(c1.get("/events/"))
    assert e.tracking_code in html(c1.get("/events/", {"q": e.tracking_code}))
    assert e.tracking_code not in html(c1.get("/events/", {"status": "closed"}))
    assert e.tracking_code not in html(client_for(world.users.community2).get("/events/"))


def test_detail_actions_follow_the_status_graph(world: Any) -> None:
    e = make_event(world)
    page = html(client_for(world.users.community1).get(f"/events/{e.pk}/"))
    # pending: the two edges leaving 待受理 (受理, 不予受理), not those of later statuses.
    assert f"/events/{e.pk}/act/accept/" in page and f"/events/{e.pk}/act/reject/" in page
    assert f"/events/{e.pk}/act/feedback/" not in page and f"/events/{e.pk}/act/verify/" not in page


def test_action_errors_are_chinese_and_next_to_the_form(world: Any) -> None:
    e = make_event(world)
    c = client_for(world.users.community1)
    r = c.post(f"/events/{e.pk}/act/reject/", {"reason": "", "version": e.version})
    assert r.status_code == 400 and "请填写理由" in html(r)
    # htmx: only the action's fragment comes back
    r = c.post(f"/events/{e.pk}/act/reject/", {"reason": "", "version": e.version}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400 and 'id="act-reject"' in html(r) and "<html" not in html(r)
    # Not allowed from this status: the service's message is shown.
    r = c.post(f"/events/{e.pk}/act/verify/", {"passed": "1", "version": e.version})
    assert r.status_code == 409 and "不能核查" in html(r)
    assert c.post(f"/events/{e.pk}/act/nonsense/", {}).status_code == 404


def test_stale_page_says_someone_else_updated(world: Any) -> None:
    e = make_event(world)
    stale = e.version
    c = client_for(world.users.community1)
    category = (e.category or e.suggested_category).code if (e.category or e.suggested_category) else "0101"
    ok = c.post(f"/events/{e.pk}/act/accept/", {"version": stale, "category": category})
    assert ok.status_code == 302
    r = c.post(f"/events/{e.pk}/act/reject/", {"reason": "重复", "version": stale})
    assert r.status_code == 409 and "事件已被他人更新，请刷新" in html(r)


def test_whole_loop_through_the_pages(world: Any) -> None:
    c1 = client_for(world.users.community1)
    key = idem_of(html(Client().get("/report/")))
    r = Client().post(
        "/report/", {"description": "小区北门垃圾桶满溢没人清运", "lat": LAT, "lng": LNG, "idem": key}
    )
    assert r.status_code == 201
    e = Event.objects.get()
    # triage queue or pending list
    assert c1.get("/events/triage/").status_code == 200
    e.refresh_from_db()
    r = c1.post(
        f"/events/{e.pk}/act/accept/", {"version": e.version, "category": "0101", "urgency": "normal"}
    )
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    assert e.status.code == "accepted"
    # who would get it?
    preview = c1.get(f"/events/{e.pk}/dispatch-preview/", HTTP_HX_REQUEST="true")
    assert preview.status_code == 200 and "grid1" in html(preview)
    r = c1.post(f"/events/{e.pk}/act/dispatch/", {"version": e.version, "user": world.users.grid1.pk})
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    assert e.status.code == "dispatched" and e.handler_user == world.users.grid1
    g1 = client_for(world.users.grid1)
    assert e.tracking_code in html(g1.get("/events/tasks/"))
    page = html(g1.get(f"/events/{e.pk}/"))
    assert "/act/transition:handling/" in page  # 签收
    r = g1.post(f"/events/{e.pk}/act/transition:handling/", {"version": e.version})
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    r = g1.post(f"/events/{e.pk}/act/feedback/", {"version": e.version, "note": "已清运", "photos": [png()]})
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    assert e.status.code == "handled" and e.attachments.count() == 1
    # the photo is served to staff who see the event, and to no one else
    att = e.attachments.get()
    assert g1.get(f"/events/{e.pk}/photos/{att.pk}/").status_code == 200
    assert client_for(world.users.community2).get(f"/events/{e.pk}/photos/{att.pk}/").status_code == 404
    r = c1.post(f"/events/{e.pk}/act/verify/", {"version": e.version, "passed": "1", "note": "现场已清理"})
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    assert e.status.code == "closed"
    # the reporter rates on the tracking page
    key = reporter_token(e)
    page = html(Client().get(f"/track/{e.tracking_code}/", {"k": key}))
    assert "请评价处理结果" in page and "grid1" not in page
    r = Client().post(f"/track/{e.tracking_code}/rate/", {"rating": "satisfied", "comment": "很快", "k": key})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.rating == "satisfied" and e.status.code == "rated"
    page = html(Client().get(f"/track/{e.tracking_code}/"))
    assert "满意" in page and "请评价处理结果" not in page
    actions = list(TimelineEntry.objects.filter(event=e).values_list("action", flat=True))
    for step in ("report", "accept", "dispatch", "sign", "feedback", "close", "rate"):
        assert step in actions, (step, actions)


def test_hotline_work_order_number_is_idempotent(world: Any) -> None:
    c = client_for(world.users.community1)
    form = {
        "work_order": "GD20250101-0001",
        "caller": "王五",
        "phone": "13700001111",
        "event_type": "complaint",
        "urgency": "normal",
        "description": "楼上装修噪音扰民",
        "address": "六合路1号",
    }
    r1 = c.post("/events/hotline/new/", {**form, "idem": "a1"})
    r2 = c.post("/events/hotline/new/", {**form, "idem": "a2"})  # another screen, same work order
    assert r1.status_code == r2.status_code == 302
    e = Event.objects.get()
    assert e.channel == "hotline" and e.external_id == "GD20250101-0001"
    assert r1["Location"] == r2["Location"] == f"/events/{e.pk}/"
    bad = c.post("/events/hotline/new/", {**form, "description": "", "idem": "a3"})
    assert bad.status_code == 400 and "请填写来电内容" in html(bad)


def test_patrol_with_gps_and_photo(world: Any) -> None:
    g1 = client_for(world.users.grid1)
    page = html(g1.get("/events/patrol/new/"))
    # The location is asked only when the worker presses the button (issue 18 A8), never on load.
    assert 'capture="environment"' in page and 'data-locate="pin-map"' in page
    assert "data-auto-locate" not in page
    r = g1.post(
        "/events/patrol/new/",
        {"description": "占道经营", "lat": LAT, "lng": LNG, "urgency": "normal", "idem": idem_of(page)},
    )
    assert r.status_code == 302
    e = Event.objects.get()
    assert e.channel == "patrol" and e.grid_id == world.g111.pk and e.reporter_user == world.users.grid1


def test_boards_show_whistles_and_overdue(world: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    e = make_event(world)
    Event.objects.filter(pk=e.pk).update(
        deadline=timezone.now() - timedelta(hours=1), warn_at=timezone.now() - timedelta(hours=2)
    )
    page = html(client_for(world.users.community1).get("/events/overdue/"))
    assert e.tracking_code in page and "红色" in page
    assert e.tracking_code not in html(client_for(world.users.community2).get("/events/overdue/"))
    unit = HandlingUnit.objects.create(
        name="城管执法中队", kind="enforcement", territory=world.s1, path=world.s1.path
    )
    unit.members.add(world.users.dept1)
    c1 = client_for(world.users.community1)
    e.refresh_from_db()
    c1.post(f"/events/{e.pk}/act/accept/", {"version": e.version, "category": "0101"})
    r = c1.post(f"/events/{e.pk}/act/whistle/", {"units": [unit.pk], "note": "需执法协同"})
    assert r.status_code == 302, html(r)[:3000]
    board = html(c1.get("/events/whistles/"))
    assert "城管执法中队" in board and "待报到" in board
    detail = html(client_for(world.users.dept1).get(f"/events/{e.pk}/"))
    assert "报到" in detail
    summon = e.whistles.get().summons.get()
    r = client_for(world.users.dept1).post(f"/events/{e.pk}/act/summon_ack:{summon.pk}/")
    assert r.status_code == 302
    summon.refresh_from_db()
    assert summon.state == "acknowledged"


def test_merge_screen(world: Any) -> None:
    a = make_event(world, "北门垃圾桶满溢没人清运")
    b = make_event(world, "北门垃圾桶满溢好几天没人清运")
    c1 = client_for(world.users.community1)
    r = c1.get(f"/events/{a.pk}/merge/")
    assert r.status_code == 200
    assert c1.post(f"/events/{a.pk}/merge/", {}).status_code == 400
    if b.tracking_code in html(r):
        r = c1.post(f"/events/{a.pk}/merge/", {"duplicates": [b.pk], "note": "同一问题"})
        assert r.status_code == 302, html(r)[:3000]
        b.refresh_from_db()
        assert b.master_id == a.pk


def test_sos_acknowledge_button(world: Any) -> None:
    from wangge.events import sos

    e = make_event(world, "老人摔倒呼救", urgency="critical")
    sos.sos_watch_start(event=e)
    c1 = client_for(world.users.grid1)
    page = html(c1.get(f"/events/{e.pk}/"))
    assert "一键呼叫待确认" in page and f"/events/{e.pk}/act/sos_ack/" in page
    r = c1.post(f"/events/{e.pk}/act/sos_ack/", {"note": "已到现场"})
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    assert e.sos_watch.acknowledged_by == world.users.grid1
    page = html(c1.get(f"/events/{e.pk}/"))
    assert "一键呼叫待确认" not in page
    again = c1.post(f"/events/{e.pk}/act/sos_ack/", {"note": ""})
    assert again.status_code == 409 and "已有人确认" in html(again)


def test_extension_request_and_decision(world: Any) -> None:
    e = make_event(world)
    c1 = client_for(world.users.community1)
    c1.post(f"/events/{e.pk}/act/accept/", {"version": e.version, "category": "0101"})
    e.refresh_from_db()
    c1.post(f"/events/{e.pk}/act/dispatch/", {"version": e.version, "user": world.users.grid1.pk})
    e.refresh_from_db()
    g1 = client_for(world.users.grid1)
    g1.post(f"/events/{e.pk}/act/transition:handling/", {"version": e.version})
    e.refresh_from_db()
    old = e.deadline
    bad = g1.post(f"/events/{e.pk}/act/extension/", {"amount": "", "unit": "workday", "reason": ""})
    assert bad.status_code == 400 and "请填写延期时长" in html(bad)
    r = g1.post(f"/events/{e.pk}/act/extension/", {"amount": 2, "unit": "workday", "reason": "等待配件"})
    assert r.status_code == 302, html(r)[:3000]
    ext = e.extensions.get()
    page = html(c1.get(f"/events/{e.pk}/"))
    assert "等待配件" in page and "批准" in page
    r = c1.post(
        f"/events/{e.pk}/act/extension_decide/", {"extension": ext.pk, "approve": "1", "note": "同意"}
    )
    assert r.status_code == 302, html(r)[:3000]
    e.refresh_from_db()
    ext.refresh_from_db()
    assert ext.state == "approved" and e.deadline > old


def test_triage_queue_accept_returns_to_the_queue(world: Any) -> None:
    e, _ = services.event_intake(
        data=EventInput(description="有人反映情况", address="六合路8号", channel="resident")
    )
    assert e.needs_triage and not e.path
    admin = client_for(world.users.admin)
    page = html(admin.get("/events/triage/"))
    assert e.tracking_code in page and "未定位到网格" in page
    # unlocated events belong to the district: community staff do not see them
    assert e.tracking_code not in html(client_for(world.users.community1).get("/events/triage/"))
    r = admin.post(
        f"/events/{e.pk}/act/accept/", {"version": e.version, "category": "0101", "next": "/events/triage/"}
    )
    assert r.status_code == 302 and r["Location"] == "/events/triage/"
    e.refresh_from_db()
    assert e.status.code == "accepted" and not e.needs_triage
    # an outside "next" is ignored
    e2, _ = services.event_intake(
        data=EventInput(description="又一个情况", address="六合路9号", channel="resident")
    )
    r = admin.post(
        f"/events/{e2.pk}/act/reject/",
        {"version": e2.version, "reason": "不属于受理范围", "next": "https://evil.example/"},
    )
    assert r.status_code == 302 and r["Location"] == f"/events/{e2.pk}/"
    assert "不属于受理范围" in html(Client().get(f"/track/{e2.tracking_code}/"))


def test_triage_queue_shows_a_likely_duplicate_with_merge(world: Any) -> None:
    lat, lng = centre(0, 0)
    text = "小区门口烧烤油烟很大，呛得受不了"
    first, _ = services.event_intake(data=EventInput(description=text, lat=lat, lng=lng))
    second, _ = services.event_intake(data=EventInput(description=text + "，天天如此", lat=lat, lng=lng))
    assert second.needs_triage
    page = html(client_for(world.users.admin).get("/events/triage/"))
    block = page[page.index(f'id="triage-{second.pk}"') :]
    block = block[: block.index("</section>")]
    assert "疑似重复" in block and first.tracking_code in block
    assert f"/events/{second.pk}/merge/" in block


def test_reporter_verifies_on_the_tracking_page_and_through_the_api(world: Any) -> None:
    from wangge.events.tests.core_helpers import report, staff

    staff(world)
    e = report()
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")
    anon = Client()
    key = reporter_token(e)
    page = html(anon.get(f"/track/{e.tracking_code}/", {"k": key}))
    assert "请确认问题是否解决" in page
    r = anon.post(f"/track/{e.tracking_code}/verify/", {"passed": "0", "note": "", "k": key})
    assert r.status_code == 400 and "请说明哪里还没有解决" in html(r)
    r = anon.post(f"/track/{e.tracking_code}/verify/", {"passed": "0", "note": "还在冒烟", "k": key})
    assert r.status_code == 302
    e.refresh_from_db()
    assert e.status.code == "handling"
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已彻底清理")
    body = {"passed": True, "reporter_token": key}
    r = anon.post(f"/api/v1/track/{e.tracking_code}/verify/", body, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"]["code"] == "closed" and r.json()["can_rate"]
    r = anon.post(f"/api/v1/track/{e.tracking_code}/verify/", body, content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = anon.post(f"/api/v1/track/{e.tracking_code}/verify/", {}, content_type="application/json")
    assert r.status_code == 400


def test_my_tasks_page_is_paged_most_urgent_first(world: Any) -> None:
    """A busy handler's task list comes 30 at a time, the nearest deadline first (over a long history
    the unpaged list took seconds to render)."""
    from datetime import timedelta

    from wangge.events.tests.clock_helpers import at, make_event

    events = [
        make_event(world, start=at(2025, 9, 1, 9) + timedelta(days=i), handler_user=world.users.grid1)
        for i in range(33)
    ]
    g1 = client_for(world.users.grid1)
    first, second = html(g1.get("/events/tasks/")), html(g1.get("/events/tasks/?page=2"))
    on_first = [e for e in events if e.tracking_code in first]
    on_second = [e for e in events if e.tracking_code in second]
    assert on_first == events[:30] and on_second == events[30:]
    assert "共 33 件" in first and "第 1 / 2 页" in first
