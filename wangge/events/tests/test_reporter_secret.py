"""The public tracking code lets anyone look; only the reporter (their token, or their own account) may
confirm (核查) or rate (评价), within rate limits (wangge.events.common.reporter)."""

import html as htmllib
import json
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from wangge.audit.models import AuditEntry
from wangge.conftest import PASSWORD
from wangge.core.errors import Forbidden, NotFound
from wangge.events import services
from wangge.events.common.reporter import reporter_token
from wangge.events.models import Event, ReturnVisit, TimelineEntry
from wangge.events.services import EventInput
from wangge.events.tests.core_helpers import G111, report, staff

LAT, LNG = G111


def _handled(world: Any, **kw: Any) -> Event:
    e = report(**kw)
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    return services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")


def _closed(world: Any, **kw: Any) -> Event:
    e = _handled(world, **kw)
    return services.event_verify(event_id=e.pk, actor=world.users.community1, passed=True, note="核实")


def _snapshot(e: Event) -> tuple[Any, ...]:
    e = Event.objects.get(pk=e.pk)
    return (
        e.status.code,
        e.version,
        e.rating,
        TimelineEntry.objects.filter(event=e).count(),
        ReturnVisit.objects.count(),
        AuditEntry.objects.count(),
    )


def _page(r: Any) -> str:
    return htmllib.unescape(r.content.decode())


def _login(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.username, password=PASSWORD)
    return c


def _api(client: Any, code: str, what: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/track/{code}/{what}/", body, content_type="application/json")


# --- the code alone only looks ----------------------------------------------------------------------


def test_code_alone_cannot_confirm_or_rate_and_nothing_changes(world: Any) -> None:
    staff(world)
    e = _handled(world)
    before = _snapshot(e)
    anon = Client()
    r = anon.post(f"/track/{e.tracking_code}/verify/", {"passed": "1", "note": ""})
    assert r.status_code == 403 and "只有反映人本人可以确认或评价" in _page(r)
    r = _api(anon, e.tracking_code, "verify", {"passed": False, "note": "没修好"})
    assert r.status_code == 403 and r.json()["code"] == "reporter_token_required"
    assert "反映人" in r.json()["message"]
    assert _snapshot(e) == before

    e = services.event_verify(event_id=e.pk, actor=world.users.community1, passed=True, note="核实")
    before = _snapshot(e)
    r = anon.post(f"/track/{e.tracking_code}/rate/", {"rating": "unsatisfied", "comment": "差"})
    assert r.status_code == 403 and "只有反映人本人可以确认或评价" in _page(r)
    r = _api(anon, e.tracking_code, "rating", {"rating": "unsatisfied"})
    assert r.status_code == 403 and r.json()["code"] == "reporter_token_required"
    assert _snapshot(e) == before  # no rating, no return visit, no audit row


def test_services_refuse_the_code_alone(world: Any) -> None:
    staff(world)
    e = _closed(world)
    with pytest.raises(Forbidden) as exc:
        services.event_rate(tracking_code=e.tracking_code, rating="satisfied")
    assert exc.value.code == "reporter_token_required"
    with pytest.raises(Forbidden) as exc:
        services.event_rate(tracking_code=e.tracking_code, rating="satisfied", reporter_token="0" * 32)
    assert exc.value.code == "reporter_token_invalid"
    assert Event.objects.get(pk=e.pk).rating == ""


def test_viewing_by_code_alone_still_works_without_the_forms(world: Any) -> None:
    staff(world)
    e = _handled(world)
    r = Client().get(f"/track/{e.tracking_code}/")
    page = _page(r)
    assert r.status_code == 200 and "已处置" in page
    assert 'id="verify"' not in page and 'id="reporter-only"' in page and "专属链接" in page
    pub = APIClient().get(f"/api/v1/track/{e.tracking_code.lower()}/")
    assert pub.status_code == 200 and pub.json()["can_verify"] is True


# --- the reporter's token -----------------------------------------------------------------------------


def test_the_done_page_gives_the_reporter_link_and_it_works(world: Any) -> None:
    staff(world)
    c = Client()
    form = {"description": "楼下烧烤油烟太大", "lat": LAT, "lng": LNG, "name": "张三", "phone": "13812345678"}
    done = c.post("/report/", form)
    assert done.status_code == 201
    e = Event.objects.get()
    token = reporter_token(e)
    link = re.search(r'id="track-link" href="([^"]+)"', done.content.decode())
    assert link is not None
    url = htmllib.unescape(link.group(1))
    assert url.endswith(f"/track/{e.tracking_code}/?k={token}")
    assert "13812345678" not in _page(done)
    # The token leaves the page neither in a Referer nor in a cached copy.
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")
    anon = Client()
    page = anon.get(url)
    assert page.status_code == 200 and page["Referrer-Policy"] == "strict-origin"
    assert "no-store" in page["Cache-Control"]
    assert 'id="verify"' in _page(page) and f'name="k" value="{token}"' in _page(page)
    r = anon.post(f"/track/{e.tracking_code}/verify/", {"passed": "1", "note": "", "k": token})
    assert r.status_code == 302 and r["Location"] == f"/track/{e.tracking_code}/?k={token}"
    assert Event.objects.get(pk=e.pk).status.code == "closed"
    r = anon.post(f"/track/{e.tracking_code}/rate/", {"rating": "satisfied", "comment": "", "k": token})
    assert r.status_code == 302
    e = Event.objects.get(pk=e.pk)
    assert e.status.code == "rated" and e.rating == "satisfied"
    # Neither the audit rows nor the timeline keep the token.
    rows = json.dumps(list(AuditEntry.objects.values()), default=str)
    rows += json.dumps(list(TimelineEntry.objects.filter(event=e).values()), default=str)
    assert token not in rows


def test_api_with_the_token_acts(world: Any) -> None:
    staff(world)
    e = _handled(world)
    token = reporter_token(e)
    r = _api(
        APIClient(), e.tracking_code, "verify", {"passed": False, "note": "还在冒烟", "reporter_token": token}
    )
    assert r.status_code == 200 and r.json()["status"]["code"] == "handling"
    assert token not in json.dumps(r.json())


def test_wrong_token_is_refused_then_rate_limited_per_code(world: Any, settings: Any) -> None:
    staff(world)
    settings.WANGGE_REPORTER_CODE_FAIL_RATE = "3/h"
    e = _closed(world)
    before = _snapshot(e)
    wrong = "f" * 32 if reporter_token(e) != "f" * 32 else "e" * 32
    for i in range(3):
        # A different address each time: the per-code counter is what stops these.
        r = APIClient(REMOTE_ADDR=f"10.0.0.{i + 1}").post(
            f"/api/v1/track/{e.tracking_code}/rating/",
            {"rating": "satisfied", "reporter_token": wrong},
            format="json",
        )
        assert r.status_code == 403 and r.json()["code"] == "reporter_token_invalid", r.content
    r = Client(REMOTE_ADDR="10.0.0.9").post(
        f"/track/{e.tracking_code}/rate/", {"rating": "satisfied", "k": wrong}
    )
    assert r.status_code == 429 and "尝试次数过多" in _page(r)
    # Past the code's limit a wrong token is answered 429 from any address, and a wrong link on the page
    # says so too (it would otherwise tell a right guess)...
    r = _api(
        APIClient(REMOTE_ADDR="10.0.0.10"),
        e.tracking_code,
        "rating",
        {"rating": "satisfied", "reporter_token": wrong},
    )
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    r = Client(REMOTE_ADDR="10.0.0.11").get(f"/track/{e.tracking_code}/", {"k": wrong})
    assert r.status_code == 200 and "尝试次数过多" in _page(r) and 'id="rate"' not in _page(r)
    assert _snapshot(e) == before
    # ...but the reporter's own link still works: the code is public, and whoever read it must not be
    # able to keep the reporter from rating by sending wrong tokens.
    r = Client().get(f"/track/{e.tracking_code}/", {"k": reporter_token(e)})
    assert r.status_code == 200 and 'id="rate"' in _page(r)
    r = _api(
        APIClient(), e.tracking_code, "rating", {"rating": "satisfied", "reporter_token": reporter_token(e)}
    )
    assert r.status_code == 200, r.content
    # Another event is not affected.
    other = _closed(world, reporter_name="王五")
    r = _api(
        APIClient(),
        other.tracking_code,
        "rating",
        {"rating": "basically", "reporter_token": reporter_token(other)},
    )
    assert r.status_code == 200


def test_wrong_tokens_from_one_address_are_rate_limited(world: Any, settings: Any) -> None:
    staff(world)
    settings.WANGGE_REPORTER_FAIL_RATE = "2/h"
    events = [_closed(world, reporter_name=f"居民{i}") for i in range(3)]
    guesser = Client(REMOTE_ADDR="10.1.1.1")
    for e in events[:2]:
        r = guesser.get(f"/track/{e.tracking_code}/", {"k": "a" * 32})  # a wrong link counts too
        assert r.status_code == 200 and "专属链接无效" in _page(r)
    r = guesser.post(
        f"/track/{events[2].tracking_code}/rate/", {"rating": "satisfied", "k": reporter_token(events[2])}
    )
    assert r.status_code == 429
    assert Event.objects.get(pk=events[2].pk).rating == ""
    ok = Client(REMOTE_ADDR="10.1.1.2").post(
        f"/track/{events[2].tracking_code}/rate/", {"rating": "satisfied", "k": reporter_token(events[2])}
    )
    assert ok.status_code == 302


def test_every_action_counts_per_address(world: Any, settings: Any) -> None:
    staff(world)
    settings.WANGGE_REPORTER_ACTION_RATE = "2/h"
    e = _closed(world)
    c = Client(REMOTE_ADDR="10.2.2.2")
    for _ in range(2):
        assert c.post(f"/track/{e.tracking_code}/rate/", {"rating": "satisfied"}).status_code == 403
    r = c.post(f"/track/{e.tracking_code}/rate/", {"rating": "satisfied", "k": reporter_token(e)})
    assert r.status_code == 429 and Event.objects.get(pk=e.pk).rating == ""


def test_a_rotated_secret_key_keeps_old_links(world: Any, settings: Any) -> None:
    staff(world)
    e = _closed(world)
    old = reporter_token(e)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [settings.SECRET_KEY]
    assert reporter_token(e) != old
    r = _api(APIClient(), e.tracking_code, "rating", {"rating": "satisfied", "reporter_token": old})
    assert r.status_code == 200


# --- who gets the token, and the reporter's own account ----------------------------------------------


def test_token_goes_to_the_reporting_resident_only_never_to_staff(world: Any, api_for: Any) -> None:
    staff(world)
    body = {
        "description": "楼道灯坏了",
        "lat": LAT,
        "lng": LNG,
        "reporter_name": "张三",
        "reporter_phone": "13812345678",
    }
    mine = api_for(world.users.resident1).post("/api/v1/events/", body, format="json")
    assert mine.status_code == 201
    e = Event.objects.get(pk=mine.json()["id"])
    assert mine.json()["reporter_token"] == reporter_token(e)
    by_staff = api_for(world.users.grid1).post(
        "/api/v1/events/", {**body, "description": "路灯不亮"}, format="json"
    )
    assert by_staff.status_code == 201 and "reporter_token" not in by_staff.json()
    other = Event.objects.get(pk=by_staff.json()["id"])
    admin = api_for(world.users.admin)
    seen = admin.get("/api/v1/events/").content.decode()
    seen += admin.get(f"/api/v1/events/{e.pk}/").content.decode()
    seen += admin.get(f"/api/v1/events/{other.pk}/").content.decode()
    seen += _login(world.users.admin).get(f"/events/{e.pk}/").content.decode()
    seen += _login(world.users.admin).get(f"/events/{other.pk}/").content.decode()
    assert reporter_token(e) not in seen and reporter_token(other) not in seen


def test_the_reporters_own_account_acts_without_the_token(world: Any, api_for: Any) -> None:
    staff(world)
    e, _ = services.event_intake(
        data=EventInput(description="小区门口烧烤油烟很大，呛得受不了", lat=LAT, lng=LNG),
        actor=world.users.resident1,
    )
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已清运")
    resident = _login(world.users.resident1)
    page = resident.get(f"/track/{e.tracking_code}/")
    assert 'id="verify"' in _page(page)
    r = resident.post(f"/track/{e.tracking_code}/verify/", {"passed": "1", "note": ""})
    assert r.status_code == 302 and Event.objects.get(pk=e.pk).status.code == "closed"
    # another resident is not the reporter
    r = _api(api_for(world.users.member1), e.tracking_code, "rating", {"rating": "unsatisfied"})
    assert r.status_code == 403 and r.json()["code"] == "reporter_token_required"
    r = _api(api_for(world.users.resident1), e.tracking_code, "rating", {"rating": "satisfied"})
    assert r.status_code == 200 and r.json()["rating"] == "satisfied"


def test_a_staff_account_that_registered_the_report_is_not_the_reporter(world: Any, api_for: Any) -> None:
    staff(world)
    e, _ = services.event_intake(
        data=EventInput(
            description="市民来电：小区门口烧烤油烟很大，呛得受不了", lat=LAT, lng=LNG, channel="hotline"
        ),
        actor=world.users.grid1,
    )
    assert e.reporter_user_id == world.users.grid1.pk
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已修补")
    r = _api(api_for(world.users.grid1), e.tracking_code, "verify", {"passed": True})
    assert r.status_code == 403 and r.json()["code"] == "reporter_token_required"
    assert Event.objects.get(pk=e.pk).status.code == "handled"


@pytest.mark.parametrize("code", ["AB\x00CD", "X" * 200])
def test_a_code_no_event_can_have_is_not_found_without_a_query(
    world: Any, code: str, django_assert_num_queries: Any
) -> None:
    # NUL cannot even be compared on PostgreSQL (psycopg raises: a server error on /api/v1/track/…%00…/);
    # such a code is simply not found, as on the tracking page (selectors.event_by_tracking_code).
    with django_assert_num_queries(0), pytest.raises(NotFound):
        services.event_rate(tracking_code=code, rating="satisfied", reporter_token="a" * 32)
    with django_assert_num_queries(0), pytest.raises(NotFound):
        services.event_verify_by_reporter(tracking_code=code, passed=True, reporter_token="a" * 32)
