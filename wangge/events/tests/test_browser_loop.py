"""The event loop in a real browser (headless Debian Chromium through Playwright; never downloaded).

A resident reports through 我要说 (pin on the map, a photo) and gets a tracking code; community1 accepts
the event and dispatches it (after asking "who would get this?") to grid1; grid1 signs for it and gives
feedback with a photo; community1 verifies and closes it; the resident opens the tracking page, rates
满意 and sees every step. Nothing is fetched from another host.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails).
Set WANGGE_SCREENSHOT_DIR to keep phone-size screenshots of the report, event and tracking pages.
"""

import os
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from wangge.accounts.tests.test_browser import PHONE, _login, _page, _shot, browser  # noqa: F401
from wangge.conftest import centre
from wangge.events import services
from wangge.events.models import Event, TimelineEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LAT, LNG = centre(0, 0)  # inside grid g111


def _photo(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    Image.new("RGB", (64, 48), (40, 120, 200)).save(path, format="JPEG")
    return str(path)


def _act(page: Any, key: str, fill: Any = None) -> None:
    """Open an action box on the event page, fill it, submit (htmx), wait for the reload."""
    box = page.locator(f"#act-{key}")
    box.locator("summary").click()
    if fill:
        fill(box)
    with page.expect_navigation():
        box.locator("button[type=submit]").last.click()


def _status(page: Any) -> str:
    return page.locator(".head-badges .badge").first.inner_text().strip()


def test_resident_report_to_rating(world: Any, live_server: Any, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    outside: list[str] = []
    resident = _page(browser, live_server, PHONE, outside)

    # --- the resident reports through 我要说: text, a photo, a pin on the map -------------------------
    resident.goto(f"{live_server.url}/report/")
    resident.wait_for_selector("#pin-map.leaflet-container")
    resident.fill("textarea[name=description]", "小区北门垃圾桶满溢，三天没人清运，气味很大")
    resident.set_input_files("input[name=photos]", _photo(tmp_path, "report.jpg"))
    x, y = resident.evaluate(
        "([lat, lng]) => { const p = document.getElementById('pin-map')._map.latLngToContainerPoint([lat, lng]);"
        " return [p.x, p.y]; }",
        [LAT, LNG],
    )
    resident.locator("#pin-map").click(position={"x": x, "y": y})
    assert resident.input_value("input[name=lat]") and resident.input_value("input[name=lng]")
    assert abs(float(resident.input_value("input[name=lat]")) - LAT) < 0.001
    _shot(resident, "report-phone")
    resident.click("form button[type=submit]")
    resident.wait_for_selector("#tracking-code")
    code = resident.locator("#tracking-code").inner_text().strip()
    # The reporter's own link (with the token that lets them confirm and rate), shown once here.
    reporter_link = resident.locator("#track-link").get_attribute("href")
    assert reporter_link and f"/track/{code}/?k=" in reporter_link
    event = Event.objects.get(tracking_code=code)
    assert event.channel == "resident" and event.grid_id == world.g111.pk
    assert event.attachments.count() == 1

    # --- community1 accepts and dispatches (with the "who would get this?" dry run) ------------------
    staff = _page(browser, live_server, PHONE, outside)
    _login(staff, live_server, "community1")
    staff.goto(f"{live_server.url}/events/?q={code}")
    staff.click(f"a.title:has-text('{event.title[:10]}')")
    staff.wait_for_url(re.compile(rf"/events/{event.pk}/$"))
    assert _status(staff) == "待受理"
    _act(staff, "accept", lambda box: box.locator("select[name=category]").select_option("0101"))
    assert _status(staff) == "已受理"

    def dispatch(box: Any) -> None:
        box.locator("button:has-text('谁会收到')").click()
        box.locator(".preview-result").wait_for()
        assert "grid1" in box.locator(".preview-result").inner_text()

    _act(staff, "dispatch", dispatch)
    assert _status(staff) == "已派遣"
    _shot(staff, "event-detail-phone")

    # --- grid1 signs for it and reports back with a photo ------------------------------------------
    worker = _page(browser, live_server, PHONE, outside)
    _login(worker, live_server, "grid1")
    worker.goto(f"{live_server.url}/events/tasks/")
    worker.click(f"a.title:has-text('{event.title[:10]}')")
    worker.wait_for_url(re.compile(rf"/events/{event.pk}/$"))
    _act(worker, "transitionhandling")  # 签收 (dispatched → handling, from the status graph)
    assert _status(worker) == "处置中"

    def feedback(box: Any) -> None:
        box.locator("textarea[name=note]").fill("已联系环卫清运，垃圾桶已清空并消毒")
        box.locator("input[name=photos]").set_input_files(_photo(tmp_path, "after.jpg"))

    _act(worker, "feedback", feedback)
    assert _status(worker) == "已处置"
    assert worker.locator(".timeline img").count() >= 1  # the feedback photo, served to staff only

    # --- community1 verifies: passed, closed -------------------------------------------------------
    staff.reload()

    def verify(box: Any) -> None:
        box.locator("input[name=passed][value='1']").check()
        box.locator("textarea[name=note]").fill("现场核实已清理")

    _act(staff, "verify", verify)
    assert _status(staff) == "已结案"

    # --- the resident follows the code and rates 满意 ----------------------------------------------
    resident.goto(f"{live_server.url}/track/{code}/")  # the code alone: progress, but no rating form
    assert resident.locator("#track-status").inner_text().strip() == "已结案"
    assert resident.locator("#rate").count() == 0 and resident.locator("#reporter-only").count() == 1
    resident.goto(reporter_link)
    assert resident.locator("#track-status").inner_text().strip() == "已结案"
    _shot(resident, "track-rate-phone")
    resident.locator("label.pill:has-text('满意')").first.click()
    resident.fill("textarea[name=comment]", "处理很及时")
    resident.click("#rate button[type=submit]")
    resident.wait_for_selector("#track-rating")
    assert resident.locator("#track-rating").inner_text().strip() == "满意"
    assert resident.locator("#track-status").inner_text().strip() == "已评价"
    steps = resident.locator("#track-timeline .tl-head b").all_inner_texts()
    for step in ("上报", "受理", "派遣", "签收", "处置反馈", "结案", "评价"):
        assert step in steps, (step, steps)
    page_text = resident.content()
    assert "grid1" not in page_text and "community1" not in page_text  # staff names stay internal
    _shot(resident, "track-phone")

    # The staff timeline has every step too, with actors.
    staff.reload()
    staff_steps = staff.locator(".timeline .tl-head b").all_inner_texts()
    for step in ("上报", "受理", "派遣", "签收", "处置反馈", "结案", "评价"):
        assert step in staff_steps, (step, staff_steps)
    event.refresh_from_db()
    assert event.status.code == "rated" and event.rating == "satisfied"
    assert TimelineEntry.objects.filter(event=event, action="feedback").exists()
    if os.environ.get("WANGGE_SCREENSHOT_DIR"):
        _shot(staff, "event-detail-closed-phone")
        services.event_intake(data=services.EventInput(description="有人反映情况", address="六合路8号"))
        admin = _page(browser, live_server, PHONE, outside)
        _login(admin, live_server, "admin")
        for name in ("triage", "overdue", "whistles", "hotline/new", "patrol/new", ""):
            admin.goto(f"{live_server.url}/events/{name}{'/' if name else ''}")
            _shot(admin, "staff-" + (name.replace("/", "-") or "list") + "-phone")
    assert outside == [], f"requests to other hosts: {outside}"
