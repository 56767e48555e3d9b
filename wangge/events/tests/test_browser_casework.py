"""Casework pages in a real browser (headless Debian Chromium through Playwright; never downloaded), phone
size: the htmx paths of the dispute section (search the register, add a party, a Chinese error swapped
into the form, a mediation session), a return visit, and a device bound through the search.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails).
"""

from datetime import date
from typing import Any

import pytest

from wangge.accounts.tests.test_browser import PHONE, _login, _page, _shot, browser  # noqa: F401
from wangge.events import services
from wangge.events.common.reporter import reporter_token
from wangge.events.models import Device, DisputeParty, MediationSession, ReturnVisit
from wangge.events.tests.core_helpers import report, staff
from wangge.events.tests.test_dedupe import make_event
from wangge.registry.services import building_create, resident_create
from wangge.registry.tests.factories import make_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_casework_in_the_browser(world: Any, live_server: Any, browser: Any) -> None:  # noqa: F811
    dispute = make_event(world, "邻里因为漏水吵架，需要调解", category="0601")
    here = resident_create(
        actor=world.users.community1,
        name="张三丰",
        id_number=make_id(date(1960, 5, 1), seq=11),
        grid=world.g111,
    )
    staff(world)
    e = report()
    e = services.event_accept(event_id=e.pk, actor=world.users.grid1)
    e = services.event_dispatch(event_id=e.pk, actor=world.users.grid1)
    e = services.event_feedback(event_id=e.pk, actor=world.users.grid1, note="已处理")
    e = services.event_verify(event_id=e.pk, actor=world.users.community1, passed=True)
    services.event_rate(
        tracking_code=e.tracking_code,
        reporter_token=reporter_token(e),
        rating="unsatisfied",
        comment="还是有油烟",
    )
    lat, lng = e.lat, e.lng
    building = building_create(
        actor=world.users.admin, code="B-9", name="9栋", lat=lat, lng=lng, address="六合路9号"
    )

    outside: list[str] = []
    page = _page(browser, live_server, PHONE, outside)
    _login(page, live_server, "community1")

    # --- dispute: search the register (htmx swaps the section), add the resident -----------------
    page.goto(f"{live_server.url}/events/{dispute.pk}/")
    box = page.locator("#dispute-party")
    box.locator("summary").click()
    box.locator("input[name=q]").fill("张三丰")
    box.locator("button[name=find]").click()
    page.wait_for_selector(f"#dispute-party input[name=resident][value='{here.pk}']")
    assert page.locator("#dispute-party details").get_attribute("open") is not None
    with page.expect_navigation():
        page.locator("#dispute-party button.primary").click()
    assert DisputeParty.objects.filter(event=dispute, resident=here).exists()
    assert "张三丰" in page.locator("#dispute .parties").inner_text()

    # --- a session without a summary: the Chinese error is swapped in; then saved -------------------
    box = page.locator("#dispute-session")
    box.locator("summary").click()
    box.locator("input[name=mediator]").fill("李调解员")
    box.locator("textarea[name=summary]").evaluate("el => el.removeAttribute('required')")
    box.locator("button.primary").click()
    page.wait_for_selector("#dispute-session .error")
    assert "请填写调解情况" in page.locator("#dispute-session").inner_text()
    assert not MediationSession.objects.exists()
    page.locator("#dispute-session textarea[name=summary]").fill("双方同意先修复漏水")
    with page.expect_navigation():
        page.locator("#dispute-session button.primary").click()
    assert MediationSession.objects.filter(event=dispute).count() == 1
    assert "双方同意先修复漏水" in page.locator("#dispute .sessions").inner_text()
    _shot(page, "casework-dispute")
    page.goto(f"{live_server.url}/events/disputes/")
    _shot(page, "casework-dispute-list")

    # --- 我的回访 from 我的任务 -------------------------------------------------------------------------
    page.goto(f"{live_server.url}/events/tasks/")
    with page.expect_navigation():  # the task list's link (on a phone the menu is folded)
        page.click("main a[href='/events/return-visits/']")
    visit = ReturnVisit.objects.get(event=e)
    item = page.locator(f"#rv-{visit.pk}")
    item.locator("summary").click()
    _shot(page, "casework-return-visits")
    item.locator("textarea[name=outcome]").fill("已电话解释，加装油烟净化器")
    with page.expect_navigation():
        item.locator("button.primary").click()
    visit.refresh_from_db()
    assert visit.done_at is not None and "回访已完成" in page.content()

    # --- a device bound to a building found through the search (htmx) -----------------------------
    page.goto(f"{live_server.url}/events/devices/new/")
    page.fill("input[name=device_id]", "SMK-9")
    page.select_option("select[name=kind]", "smoke")
    page.select_option("select[name=bind_kind]", "building")
    page.fill("input[name=bind_q]", "9栋")
    page.click("button[name=find]")
    page.locator(f"input[name=binding][value='building:{building.pk}']").check()
    _shot(page, "casework-device-form")
    assert page.input_value("input[name=device_id]") == "SMK-9"  # the rest of the form stayed
    with page.expect_navigation():
        page.click("button.primary.big")
    device = Device.objects.get(device_id="SMK-9")
    assert device.building_id == building.pk and device.path == building.path
    assert "SMK-9" in page.content()
    _shot(page, "casework-device-list")
    assert outside == [], outside
