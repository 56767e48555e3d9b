"""The events API: the whole life of an event, idempotency, bad input, scope, public tracking."""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from wangge.conftest import assert_error
from wangge.events.common.reporter import reporter_token
from wangge.events.models import Attachment, DispatchRule, Event, ReturnVisit, TimelineEntry
from wangge.events.tests.core_helpers import G111, G112, enforcement_unit, photo, staff

pytestmark = pytest.mark.django_db

NAME, PHONE = "张三丰", "13812345678"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def body(**kw: Any) -> dict[str, Any]:
    data = {
        "description": "小区门口烧烤油烟很大，呛得受不了",
        "lat": G111[0],
        "lng": G111[1],
        "reporter_name": NAME,
        "reporter_phone": PHONE,
    }
    data.update(kw)
    return data


def actions(event_id: int) -> list[str]:
    return list(
        TimelineEntry.objects.filter(event_id=event_id).order_by("at", "pk").values_list("action", flat=True)
    )


def test_full_life_of_an_event_through_the_api(world: Any, api_for: Any) -> None:
    staff(world)
    unit = enforcement_unit(world, world.users.dept1)
    # 油烟扰民 goes to the law-enforcement team; everything else to the grid's worker (default).
    DispatchRule.objects.create(order=10, category_id=_cat("0103"), unit=unit, level="grid")
    resident, grid1, dept1 = (
        api_for(world.users.resident1),
        api_for(world.users.grid1),
        api_for(world.users.dept1),
    )

    # 1. report (triaged on the way in: located to grid 1, classified with a confidence)
    r = resident.post("/api/v1/events/", body(), format="json")
    assert r.status_code == 201, r.content
    created = r.json()
    pk, code, token = created["id"], created["tracking_code"], created["reporter_token"]
    assert created["grid_code"] == world.g111.code and created["path"] == world.g111.code
    assert created["status"]["code"] == "pending"
    assert created["category"]["code"] == "0103" and created["suggested_category"]["code"] == "0103"
    assert 0.6 <= created["confidence"] <= 1
    assert created["reporter"] == {"anonymous": False, "name": "张*丰", "phone": "138****5678"}

    # 2. the grid worker sees it with its clock; accepts it
    detail = grid1.get(f"/api/v1/events/{pk}/").json()
    assert detail["current_stage"]["stage"] == "accept" and detail["current_stage"]["deadline"]
    assert detail["deadlines"][0]["stage"] == "accept"
    assert detail["warning"] == "none"
    assert "reporter_token" not in detail and token not in json.dumps(detail)
    assert PHONE not in json.dumps(detail, ensure_ascii=False) and NAME not in json.dumps(
        detail, ensure_ascii=False
    )
    r = grid1.post(f"/api/v1/events/{pk}/accept/", {"note": "属实"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"]["code"] == "accepted" and r.json()["current_stage"]["stage"] == "dispatch"

    # 3. who would get it? then dispatch by the rule
    preview = grid1.get(f"/api/v1/events/{pk}/dispatch-preview/").json()
    assert (
        preview["unit_id"] == unit.pk and preview["rule_id"] is not None and "规则" in preview["explanation"]
    )
    r = grid1.post(f"/api/v1/events/{pk}/dispatch/", {}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["handler"]["unit"]["id"] == unit.pk

    # 4. the enforcement team member (district-bound department account) sees it as its handler
    assert dept1.get(f"/api/v1/events/{pk}/").status_code == 200
    assert [e["id"] for e in dept1.get("/api/v1/events/").json()["results"]] == [pk]
    r = dept1.post(
        f"/api/v1/events/{pk}/feedback/", {"note": "已劝导商户安装油烟净化器", "photos": [photo()]}
    )
    assert r.status_code == 200, r.content
    event = Event.objects.get(pk=pk)
    assert event.status.code == "handled"
    att = Attachment.objects.get(event=event)
    assert att.content_type == "image/jpeg" and NAME not in att.file.name

    # the photo: to those who see the event only
    url = f"/api/v1/events/{pk}/attachments/{att.pk}/"
    got = grid1.get(url)
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
    assert b"".join(got.streaming_content)[:2] == b"\xff\xd8"
    assert_error(api_for(world.users.grid2).get(url), 404, "not_found")
    assert_error(APIClient().get(url), 401, "not_authenticated")

    # 5. verification fails → rework → feedback again → verification passes → closed
    assert_error(
        grid1.post(f"/api/v1/events/{pk}/verify/", {"passed": False}, format="json"), 400, "note_required"
    )
    r = grid1.post(f"/api/v1/events/{pk}/verify/", {"passed": False, "note": "仍有油烟"}, format="json")
    assert r.json()["status"]["code"] == "handling"
    r = dept1.post(f"/api/v1/events/{pk}/feedback/", {"note": "净化器已安装"}, format="json")
    assert r.status_code == 200, r.content
    r = grid1.post(f"/api/v1/events/{pk}/verify/", {"passed": True, "note": "现场核实无油烟"}, format="json")
    assert r.json()["status"]["code"] == "closed"

    # 6. the public tracking view: progress, no contact data, no photos
    pub = APIClient().get(f"/api/v1/track/{code}/")
    assert pub.status_code == 200
    text = json.dumps(pub.json(), ensure_ascii=False)
    for secret in (NAME, PHONE, "138****5678", "张*丰", "grid1", "dept1", "attachments", str(G111[0])):
        assert secret not in text, secret
    assert pub.json()["status"]["code"] == "closed" and pub.json()["can_rate"] is True

    # 7. unsatisfied rating → return visit for the community staff → reopen
    r = APIClient().post(
        f"/api/v1/track/{code}/rating/",
        {"rating": "unsatisfied", "comment": "还有味", "reporter_token": token},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["rating"] == "unsatisfied" and r.json()["can_rate"] is False
    visit = ReturnVisit.objects.get(event_id=pk)
    assert visit.assigned_to == world.users.community1
    assert_error(
        APIClient().post(
            f"/api/v1/track/{code}/rating/", {"rating": "satisfied", "reporter_token": token}, format="json"
        ),
        409,
        "already_rated",
    )
    community1 = api_for(world.users.community1)
    r = community1.post(
        f"/api/v1/events/{pk}/return-visit/",
        {"visit": visit.pk, "outcome": "电话回访，居民反映晚间仍有油烟", "reopen": True},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"]["code"] == "handling" and r.json()["rating"] == ""
    assert actions(pk) == [
        "report",
        "triage",
        "accept",
        "dispatch",
        "sign",
        "feedback",
        "rework",
        "feedback",
        "close",
        "rate",
        "return_visit",
        "return_visit_done",
        "reopen",
    ]
    final = grid1.get(f"/api/v1/events/{pk}/").json()
    assert [t["action"] for t in final["timeline"]][-1] == "reopen"
    assert final["timeline"][5]["attachments"][0]["id"] == att.pk
    # every stage clock it ran is on record
    assert {d["stage"] for d in final["deadlines"]} == {"accept", "dispatch", "handle", "verify"}


def _cat(code: str) -> int:
    from wangge.events.models import Category

    return Category.objects.get(code=code).pk


def test_idempotent_replay_and_work_order_number(world: Any, api_for: Any) -> None:
    client = api_for(world.users.grid1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-123"}
    first = client.post("/api/v1/events/", body(), format="json", **headers)
    again = client.post("/api/v1/events/", body(), format="json", **headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and Event.objects.count() == 1
    # the same key with another body is refused, not silently answered with the first event
    other = client.post("/api/v1/events/", body(description="另一件事：路灯不亮"), format="json", **headers)
    assert_error(other, 409, "idempotency_key_reused")
    # the same key from another account is not handed someone else's event
    assert_error(api_for(world.users.grid2).post("/api/v1/events/", body(), format="json", **headers), 409)
    # a work-order number (channel + external id) also deduplicates
    wo = body(channel="hotline", external_id="GD20261123001")
    a = client.post("/api/v1/events/", wo, format="json")
    b = client.post("/api/v1/events/", wo, format="json")
    assert (a.status_code, b.status_code) == (201, 200) and a.json()["id"] == b.json()["id"]
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"lat": 95.0}, "invalid_location"),
        ({"lat": "north"}, "invalid"),
        ({"lat": None, "lng": G111[1]}, "invalid_location"),
        ({"description": "   "}, "description_required"),
        ({"category": "nope"}, "invalid_category"),
        ({"urgency": "asap"}, "invalid_urgency"),
        ({"lat": None, "lng": None}, "location_required"),
    ],
)
def test_bad_input_is_400_with_the_shared_shape(world: Any, api_for: Any, payload: dict, code: str) -> None:
    resp = api_for(world.users.grid1).post("/api/v1/events/", body(**payload), format="json")
    assert_error(resp, 400, code)
    assert Event.objects.count() == 0


def test_photos_are_checked(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    e = report()
    grid1 = api_for(world.users.grid1)
    grid1.post(f"/api/v1/events/{e.pk}/accept/", {}, format="json")
    grid1.post(f"/api/v1/events/{e.pk}/dispatch/", {}, format="json")  # default: the grid worker
    url = f"/api/v1/events/{e.pk}/feedback/"
    not_image = SimpleUploadedFile("x.jpg", b"this is not a picture", content_type="image/jpeg")
    assert_error(grid1.post(url, {"note": "好了", "photos": [not_image]}), 400, "not_an_image")
    png_as_jpeg = photo("x.jpg", fmt="PNG", content_type="image/jpeg")
    assert_error(grid1.post(url, {"note": "好了", "photos": [png_as_jpeg]}), 400, "photo_type_mismatch")
    gif = photo("x.gif", fmt="GIF", content_type="image/gif")
    assert_error(grid1.post(url, {"note": "好了", "photos": [gif]}), 400, "photo_type")
    big = SimpleUploadedFile(
        "big.jpg", photo().read() + b"\0" * (10 * 1024 * 1024), content_type="image/jpeg"
    )
    assert_error(grid1.post(url, {"note": "好了", "photos": [big]}), 400, "photo_too_large")
    assert Attachment.objects.count() == 0 and Event.objects.get(pk=e.pk).status.code == "dispatched"
    ok = grid1.post(
        url,
        {
            "note": "好了",
            "photos": [photo("a.webp", "WEBP", "image/webp"), photo("b.png", "PNG", "image/png")],
        },
    )
    assert ok.status_code == 200, ok.content
    assert sorted(Attachment.objects.values_list("content_type", flat=True)) == ["image/png", "image/webp"]


def test_scope_per_role(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    e = report()
    for user, visible in [
        (world.users.grid1, True),
        (world.users.community1, True),
        (world.users.street1, True),
        (world.users.admin, True),
        (world.users.grid2, False),
        (world.users.community2, False),
        (world.users.street2, False),
        (world.users.dept1, False),  # a department sees what it handles only
        (world.users.resident1, False),
        (world.users.member1, False),
    ]:
        client = api_for(user)
        got = client.get(f"/api/v1/events/{e.pk}/")
        if visible:
            assert got.status_code == 200, user
            assert [r["id"] for r in client.get("/api/v1/events/").json()["results"]] == [e.pk]
        else:
            assert_error(got, 404, "not_found")
            assert client.get("/api/v1/events/").json()["results"] == [], user
            assert_error(client.post(f"/api/v1/events/{e.pk}/accept/", {}, format="json"), 404)
    # a handler outside the territory sees and acts on it once it is theirs
    grid1 = api_for(world.users.grid1)
    grid1.post(f"/api/v1/events/{e.pk}/accept/", {}, format="json")
    r = grid1.post(
        f"/api/v1/events/{e.pk}/dispatch/",
        {"user": world.users.grid2.pk, "reason": "熟悉情况"},
        format="json",
    )
    assert r.status_code == 200, r.content
    grid2 = api_for(world.users.grid2)
    assert grid2.get(f"/api/v1/events/{e.pk}/").status_code == 200
    r = grid2.post(f"/api/v1/events/{e.pk}/transitions/", {"target": "handling"}, format="json")
    assert r.status_code == 200 and r.json()["status"]["code"] == "handling"
    # an event not located yet: the district level only
    lost = report(at=(None, None), address="无名路口", text="这里垃圾满了没人管")
    assert lost.path == "" and lost.needs_triage
    assert api_for(world.users.admin).get(f"/api/v1/events/{lost.pk}/").status_code == 200
    assert_error(api_for(world.users.street1).get(f"/api/v1/events/{lost.pk}/"), 404)
    assert_error(api_for(world.users.grid1).get(f"/api/v1/events/{lost.pk}/"), 404)


def test_text_search_matches_title_and_description_newest_first(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    older = report(text="楼下Wi-Fi基站噪音很大，晚上睡不着")
    newer = report(text="路灯不亮，晚上很黑", at=G112)
    Event.objects.filter(pk=older.pk).update(title="噪音扰民")
    admin = api_for(world.users.admin)

    def ids(q: str) -> list[int]:
        return [r["id"] for r in admin.get("/api/v1/events/", {"q": q}).json()["results"]]

    assert ids("晚上") == [newer.pk, older.pk]  # in both descriptions, newest first
    assert ids("扰民") == [older.pk]  # in the title only
    assert ids("wi-fi") == ids("WI-FI") == [older.pk]  # letters: either case
    assert ids(f"  {newer.tracking_code.lower()} ") == [newer.pk]
    assert ids("垃圾站") == []


def test_list_filters(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    a = report()
    b = report(text="路灯不亮，晚上很黑", at=G112)
    admin = api_for(world.users.admin)

    def ids(**params: Any) -> list[int]:
        return sorted(r["id"] for r in admin.get("/api/v1/events/", params).json()["results"])

    assert ids() == sorted([a.pk, b.pk])
    assert ids(category="01") == [a.pk]  # a parent category includes its children
    assert ids(category="0702") == [b.pk]
    assert ids(grid=world.g112.code) == [b.pk] and ids(grid=str(world.g111.pk)) == [a.pk]
    assert ids(q="路灯") == [b.pk] and ids(q=a.tracking_code) == [a.pk]
    assert ids(status="pending") == sorted([a.pk, b.pk]) and ids(status="closed") == []
    assert ids(overdue="true") == [] and ids(channel="api") == sorted([a.pk, b.pk])
    Event.objects.filter(pk=a.pk).update(deadline="2020-01-01T00:00:00Z", warn_at="2019-12-31T00:00:00Z")
    assert ids(overdue="true") == [a.pk] and ids(warning="red") == [a.pk]
    assert ids(overdue="false") == [b.pk]
    row = next(r for r in admin.get("/api/v1/events/").json()["results"] if r["id"] == a.pk)
    assert row["warning"] == "red" and row["overdue"] is True


def test_transitions_endpoint_and_races_with_version(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    e = report()
    client = api_for(world.users.grid1)
    # illegal edge → 409 with a clear message
    body_ = assert_error(
        client.post(f"/api/v1/events/{e.pk}/transitions/", {"target": "closed"}, format="json"), 409
    )
    assert body_["code"] == "illegal_transition" and "待受理" in body_["message"]
    assert_error(
        client.post(f"/api/v1/events/{e.pk}/transitions/", {"target": "nowhere"}, format="json"), 400
    )
    # two clients with the same version: the first wins, the second gets 409
    v = client.get(f"/api/v1/events/{e.pk}/").json()["version"]
    first = client.post(
        f"/api/v1/events/{e.pk}/transitions/", {"target": "accepted", "version": v}, format="json"
    )
    second = api_for(world.users.community1).post(
        f"/api/v1/events/{e.pk}/transitions/",
        {"target": "rejected", "note": "重复", "version": v},
        format="json",
    )
    assert first.status_code == 200
    assert_error(second, 409, "version_conflict")
    assert Event.objects.get(pk=e.pk).status.code == "accepted"
    # rating only through the tracking link
    assert_error(client.post(f"/api/v1/events/{e.pk}/transitions/", {"target": "rated"}, format="json"), 409)


def test_anonymous_reporter_and_public_view(world: Any, api_for: Any) -> None:
    r = api_for(world.users.grid1).post(
        "/api/v1/events/",
        body(anonymous=True, reporter_name="李四", reporter_phone="13900001111"),
        format="json",
    )
    assert r.status_code == 201
    e = Event.objects.get(pk=r.json()["id"])
    assert (
        e.anonymous
        and e.reporter_name_enc == ""
        and e.reporter_phone_enc == ""
        and e.reporter_phone_hash is None
    )
    assert r.json()["reporter"] == {"anonymous": True, "name": "", "phone": ""}
    assert "reporter_token" not in r.json()  # staff registered it: the secret is not theirs
    token = reporter_token(e)
    pub = APIClient().get(f"/api/v1/track/{e.tracking_code.lower()}/")
    assert pub.status_code == 200 and pub.json()["can_rate"] is False
    assert_error(APIClient().get("/api/v1/track/NOSUCHCODE/"), 404)
    assert_error(
        APIClient().post(
            f"/api/v1/track/{e.tracking_code}/rating/",
            {"rating": "satisfied", "reporter_token": token},
            format="json",
        ),
        409,
        "not_closed",
    )
    assert_error(
        APIClient().post(f"/api/v1/track/{e.tracking_code}/rating/", {"rating": "meh"}, format="json"), 400
    )


# --- configuration through the API --------------------------------------------------------------------


def test_config_crud_is_for_district_admins(world: Any, api_for: Any) -> None:
    admin, grid1 = api_for(world.users.admin), api_for(world.users.grid1)
    # everyone signed in reads the category tree and the status graph; the rest is for admins
    assert grid1.get("/api/v1/event-categories/").status_code == 200
    assert grid1.get("/api/v1/transitions/").status_code == 200
    for url in (
        "/api/v1/dispatch-rules/",
        "/api/v1/time-limits/",
        "/api/v1/handling-units/",
        "/api/v1/calendar-days/",
    ):
        assert_error(grid1.get(url), 403)
        assert admin.get(url).status_code == 200
    assert_error(
        grid1.post("/api/v1/event-categories/", {"code": "0609", "name": "养犬"}, format="json"), 403
    )

    # a script sets an installation up: category, status, edge, limit, unit, rule, calendar day
    r = admin.post(
        "/api/v1/event-categories/",
        {"code": "0609", "name": "文明养犬", "parent": "06", "keywords": "狗,犬,遛狗"},
        format="json",
    )
    assert r.status_code == 201, r.content
    r = admin.post(
        "/api/v1/statuses/",
        {"code": "postponed", "name": "延期", "stage": "handle", "sort": 20},
        format="json",
    )
    assert r.status_code == 201, r.content
    r = admin.post(
        "/api/v1/transitions/",
        {
            "source": "handling",
            "target": "postponed",
            "name": "延期",
            "roles": ["community_staff"],
            "requires_note": True,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    dup = admin.post(
        "/api/v1/transitions/", {"source": "handling", "target": "postponed", "name": "x"}, format="json"
    )
    assert dup.status_code in (400, 409)
    assert_error(
        admin.post(
            "/api/v1/transitions/",
            {"source": "handling", "target": "closed", "name": "x", "roles": ["boss"]},
            format="json",
        ),
        400,
    )
    r = admin.post(
        "/api/v1/time-limits/",
        {"category": "0609", "stage": "handle", "amount": 3, "unit": "workday"},
        format="json",
    )
    assert r.status_code == 201, r.content
    assert_error(
        admin.post(
            "/api/v1/time-limits/", {"stage": "handle", "amount": 3, "unit": "fortnight"}, format="json"
        ),
        400,
    )
    r = admin.post(
        "/api/v1/handling-units/",
        {
            "name": "畜牧兽医站",
            "kind": "department",
            "territory": world.district.pk,
            "members": [world.users.dept1.pk],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    unit_id = r.json()["id"]
    assert r.json()["path"] == "420802"
    r = admin.post(
        "/api/v1/dispatch-rules/", {"order": 5, "category": "0609", "unit": unit_id}, format="json"
    )
    assert r.status_code == 201, r.content
    assert_error(admin.post("/api/v1/dispatch-rules/", {"order": 6, "category": "0609"}, format="json"), 400)
    r = admin.post(
        "/api/v1/calendar-days/",
        {"day": "2026-12-31", "is_workday": False, "note": "本地放假"},
        format="json",
    )
    assert r.status_code == 201, r.content
    r = admin.patch(f"/api/v1/event-categories/{_cat_id('0609')}/", {"name": "文明养犬管理"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "文明养犬管理"
    # deleting what is in use is refused
    assert_error(admin.delete(f"/api/v1/event-categories/{_cat_id('06')}/"), 409, "in_use")

    # the new rule is used: an event about dogs goes to the new unit
    staff(world)
    r = api_for(world.users.grid1).post(
        "/api/v1/events/", body(description="小区里有人遛狗不拴绳，犬只乱跑"), format="json"
    )
    pk = r.json()["id"]
    assert r.json()["category"]["code"] == "0609"
    grid1.post(f"/api/v1/events/{pk}/accept/", {}, format="json")
    assert grid1.get(f"/api/v1/events/{pk}/dispatch-preview/").json()["unit_id"] == unit_id
    from wangge.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action__startswith="events.config_").count() >= 7


def _cat_id(code: str) -> int:
    return _cat(code)


def test_admin_pages_for_the_configuration(world: Any, client: Any) -> None:
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-123456789")
    client.force_login(boss)
    for name in (
        "category",
        "status",
        "transition",
        "timelimit",
        "dispatchrule",
        "handlingunit",
        "calendarday",
    ):
        assert client.get(f"/admin/events/{name}/").status_code == 200, name
        assert client.get(f"/admin/events/{name}/add/").status_code == 200, name
    r = client.post(
        "/admin/events/calendarday/add/",
        {"day": "2027-01-04", "is_workday": "on", "note": "调休上班"},
        follow=True,
    )
    assert r.status_code == 200
    from wangge.audit.models import AuditEntry
    from wangge.events.models import CalendarDay

    assert CalendarDay.objects.filter(day="2027-01-04", is_workday=True).exists()
    assert AuditEntry.objects.filter(action="events.admin_create", object_type="events.calendarday").exists()


def test_one_event_visibility_agrees_with_the_list_filter(world: Any) -> None:
    """selectors.may_see (the detail's check in Python) and visible_q (the lists' SQL) never differ."""
    from django.utils import timezone

    from wangge.events import selectors
    from wangge.events.models import HandlingUnit, Whistle, WhistleSummon
    from wangge.events.tests.core_helpers import report

    staff(world)
    users = vars(world.users)
    unit = enforcement_unit(world, world.users.dept1)
    street_unit = HandlingUnit.objects.create(name="街道城管中队", territory=world.s2, path=world.s2.code)
    street_unit.members.set([world.users.street2])
    in_g111, in_g112 = report(), report(at=G112, text="楼道里堆满了杂物")
    lost = report(at=(None, None), address="无名路口", text="这里垃圾满了没人管")
    by_unit = report(text="占道经营的摊贩又来了")
    Event.objects.filter(pk=by_unit.pk).update(handler_unit=unit)
    by_user = report(text="噪音扰民，半夜装修")
    Event.objects.filter(pk=by_user.pk).update(handler_user=world.users.grid2)
    summoned = report(text="楼顶违建没人管")
    whistle = Whistle.objects.create(event=summoned, level="community")
    WhistleSummon.objects.create(whistle=whistle, unit=street_unit, deadline=timezone.now())
    events = [in_g111, in_g112, lost, by_unit, by_user, summoned]
    checked = 0
    for name, user in users.items():
        for e in Event.objects.filter(pk__in=[x.pk for x in events]):
            expected = Event.objects.filter(selectors.visible_q(user), pk=e.pk).exists()
            assert selectors.may_see(user, e) == expected, (name, e.description)
            checked += expected
    assert checked >= 10  # the table is not all-false


@pytest.mark.parametrize(
    ("extra", "actions"),
    [
        ({}, ["report", "triage"]),
        ({"anonymous": True, "category": "0103", "event_type": "report"}, ["report", "triage"]),
        ({"lat": None, "lng": None, "address": "无名路口"}, ["report", "triage"]),  # not located: district
        ({"description": "楼道里有老人晕倒了"}, ["report", "triage", "sos_start"]),  # 特急: SOS watch
    ],
)
def test_the_create_response_is_the_detail(world: Any, api_for: Any, extra: dict, actions: list) -> None:
    """The 201 body is built from what intake just wrote; a GET afterwards shows the same event."""
    from wangge.events.models import SosStep

    staff(world)
    SosStep.objects.get_or_create(order=1, defaults={"level": "grid", "role": "grid_worker", "minutes": 5})
    client = api_for(world.users.admin)
    r = client.post("/api/v1/events/", body(**extra), format="json", HTTP_IDEMPOTENCY_KEY="same-1")
    assert r.status_code == 201, r.content
    created = r.json()
    got = client.get(f"/api/v1/events/{created['id']}/").json()
    assert created == got
    assert [t["action"] for t in got["timeline"]] == actions
    assert [c["stage"] for c in got["deadlines"]] == ["accept"] and got["merged_count"] == 0
    replay = client.post("/api/v1/events/", body(**extra), format="json", HTTP_IDEMPOTENCY_KEY="same-1")
    assert replay.status_code == 200 and replay.json() == got


def test_feedback_with_a_json_array_body_is_400(world: Any, api_for: Any) -> None:
    from wangge.events.tests.core_helpers import report

    staff(world)
    e = report()
    grid1 = api_for(world.users.grid1)
    grid1.post(f"/api/v1/events/{e.pk}/accept/", {}, format="json")
    grid1.post(f"/api/v1/events/{e.pk}/dispatch/", {}, format="json")
    resp = grid1.post(f"/api/v1/events/{e.pk}/feedback/", ["已处置"], format="json")
    assert_error(resp, 400, "invalid")
    assert Event.objects.get(pk=e.pk).status.code == "dispatched"


def test_detail_names_a_status_this_process_has_not_cached_yet(world: Any, api_for: Any) -> None:
    """Status and categories on the detail come from the per-process reference copy; a status another
    process created a moment ago (no signal here) is read from the database instead of shown blank."""
    from wangge.events.models import Status
    from wangge.events.reference import reference

    staff(world)
    client = api_for(world.users.admin)
    created = client.post("/api/v1/events/", body(), format="json").json()
    reference()  # cached now
    Status.objects.bulk_create([Status(code="on_hold_x", name="临时挂起", sort=99)])  # bulk: no signal
    Event.objects.filter(pk=created["id"]).update(status=Status.objects.get(code="on_hold_x"))
    got = client.get(f"/api/v1/events/{created['id']}/").json()
    assert got["status"] == {"code": "on_hold_x", "name": "临时挂起"}
    assert got["category"]["code"] == created["category"]["code"]
