"""Accessibility and elderly-friendly (适老化) pages in a real browser (headless Debian Chromium through
Playwright; never downloaded).

- axe-core (vendored, test-only: tests/vendor/axe/README.md) finds no serious or critical WCAG 2.1 A/AA
  failure on the main pages of each kind of user, at phone and desktop width;
- text follows the browser's font-size setting (no fixed px root), resident pages start at 18 px, the
  大字版 switch (a cookie set by the server, works without script) enlarges the text, and at 200 % text
  nothing is wider than a phone;
- on a phone the navigation is a menu that fits the screen (退出 included) and the event page shows what
  may happen next before the timeline.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails).
"""

import functools
import re
from pathlib import Path
from typing import Any

import pytest

from wangge.accounts.tests.pages_data import make_register
from wangge.accounts.tests.test_browser import DESKTOP, PHONE, _page, _shot, browser  # noqa: F401
from wangge.conftest import PASSWORD
from wangge.events.tests.core_helpers import report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AXE = Path(__file__).parent / "vendor" / "axe" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
}"""


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8") + "\n;void 0"


def axe_violations(page: Any) -> list[str]:
    """Serious and critical WCAG 2.1 A/AA violations of the page now shown: rule id, element, summary."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Through DevTools, not a <script> tag: the page's CSP (script-src 'self') rightly refuses that.
        page.evaluate(_axe_source())
    found = page.evaluate(RUN_AXE, AXE_TAGS)
    return [
        f"{page.url} [{v['impact']}] {v['id']} {n['target']}: {' '.join(n['summary'].split())}"
        for v in found
        for n in v["nodes"]
    ]


def _login(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "/login/" not in page.url, f"{username} could not sign in"


def _visit(page: Any, live_server: Any, path: str, wait_for: str = "") -> None:
    resp = page.goto(f"{live_server.url}{path}")
    assert resp is not None and resp.status < 400, (path, resp and resp.status)
    if wait_for:
        page.wait_for_selector(wait_for)
    page.wait_for_load_state("networkidle")


def _overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_axe_finds_no_serious_failure_on_the_main_pages(world: Any, live_server: Any, browser: Any) -> None:  # noqa: F811
    reg = make_register(world)
    event = report()
    problems: list[str] = []
    outside: list[str] = []
    for viewport in (PHONE, DESKTOP):
        anon = _page(browser, live_server, viewport, outside)
        for path, wait in [
            ("/login/", ""),
            ("/report/", "#pin-map.leaflet-container"),
            ("/track/", ""),
            (f"/track/{event.tracking_code}/", ""),
        ]:
            _visit(anon, live_server, path, wait)
            problems += axe_violations(anon)

        resident = _page(browser, live_server, viewport, outside)
        _login(resident, live_server, "resident1")
        _visit(resident, live_server, "/my/reports/")
        problems += axe_violations(resident)

        staff = _page(browser, live_server, viewport, outside)
        _login(staff, live_server, "community1")
        for path, wait in [
            ("/map/", "#map path.leaflet-interactive"),
            ("/events/", ""),
            (f"/events/{event.pk}/", ".point-map.leaflet-container"),
            ("/events/triage/", ""),
            ("/residents/?q=张建国", ""),
        ]:
            _visit(staff, live_server, path, wait)
            problems += axe_violations(staff)
        # The resident card with a reveal box opened (its reason field must have a visible label).
        _visit(staff, live_server, f"/residents/{reg.zhang.pk}/")
        staff.locator("#reveal-id_number summary").click()
        problems += axe_violations(staff)
        if viewport is PHONE:
            staff.locator(".nav-toggle").click()
            problems += axe_violations(staff)

        admin = _page(browser, live_server, viewport, outside)
        _login(admin, live_server, "admin")
        _visit(admin, live_server, "/audit/")
        problems += axe_violations(admin)
    assert problems == [], "\n".join(problems)
    assert outside == []


def test_the_axe_check_is_not_blind(live_server: Any, browser: Any) -> None:  # noqa: F811
    """The failures of the first-day report, put back into a page, are all reported: a badge in the old
    grey (3.68:1), a map marked as an image holding a button, a sideways-scrolling box no key reaches,
    a field without a label."""
    page = _page(browser, live_server, PHONE, [])
    _visit(page, live_server, "/login/")
    page.evaluate(
        """() => {
      const main = document.querySelector('main');
      main.insertAdjacentHTML('beforeend', '<span class="badge" id="old-grey">已驳回</span>'
        + '<div class="map" id="old-map" role="img" aria-label="地图"><button type="button">+</button></div>'
        + '<div class="table-wrap" id="old-wrap"><table><tr><td>' + 'x'.repeat(400) + '</td></tr></table></div>'
        + '<input type="text" id="old-field">');
      // Through the CSSOM (the page's CSP refuses style attributes).
      const b = main.querySelector('#old-grey');
      b.style.background = '#80868b'; b.style.color = '#fff';
      main.querySelector('#old-wrap td').style.whiteSpace = 'nowrap';
    }"""
    )
    found = "\n".join(axe_violations(page))
    assert re.search(r"color-contrast #old-grey", found), found
    assert re.search(r"nested-interactive #old-map", found), found
    assert re.search(r"scrollable-region-focusable #old-wrap", found), found
    assert re.search(r"\] label #old-field", found), found


def _font_px(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)"))


SMALL_TEXT_SHARE = """() => {
  // Share of the visible characters of <main> set smaller than 18 px.
  let small = 0, all = 0;
  const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, t = n.textContent.replace(/\\s+/g, '');
    const el = n.parentElement;
    if (!t || !el || !el.offsetParent || el.closest('.leaflet-container')) continue;
    all += t.length;
    if (parseFloat(getComputedStyle(el).fontSize) < 17.95) small += t.length;
  }
  return all ? small / all : 0;
}"""


def test_text_follows_the_font_setting_and_the_large_text_switch(
    world: Any,
    live_server: Any,
    browser: Any,  # noqa: F811
) -> None:
    event = report()
    page = _page(browser, live_server, PHONE, [])
    resident_pages = ["/report/", "/track/", f"/track/{event.tracking_code}/"]

    # Resident pages start at 18 px and most of their text is at least that.
    for path in resident_pages:
        _visit(page, live_server, path)
        assert _font_px(page, "body") >= 18, path
        assert page.evaluate(SMALL_TEXT_SHARE) < 0.2, path

    # The browser's own setting (a phone set to large text): 32 px instead of 16 px doubles the text,
    # and the pages still fit a phone's width.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32}})
    for path in [*resident_pages, "/login/"]:
        _visit(page, live_server, path)
        assert _font_px(page, "html") >= 32, path
        assert _overflow(page) <= 0, f"{path} scrolls sideways at 200% text"
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 16}})

    # 大字版: one press (a form, no script needed) enlarges the text, on every page, until switched off.
    _visit(page, live_server, "/report/")
    before = _font_px(page, "body")
    with page.expect_navigation():
        page.get_by_role("button", name="大字版").first.click()
    assert re.search(r"/report/$", page.url)
    assert _font_px(page, "body") >= before * 1.2
    _visit(page, live_server, f"/track/{event.tracking_code}/")
    assert _font_px(page, "body") >= before * 1.2
    assert _overflow(page) <= 0
    _shot(page, "a11y-track-large-phone")
    with page.expect_navigation():
        page.get_by_role("button", name="标准字").first.click()
    assert _font_px(page, "body") == before


def test_large_text_for_staff_at_200_percent_does_not_break(
    world: Any,
    live_server: Any,
    browser: Any,  # noqa: F811
) -> None:
    event = report()
    page = _page(browser, live_server, PHONE, [])
    _login(page, live_server, "admin")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32}})
    for path in ["/map/", "/events/", f"/events/{event.pk}/", "/events/triage/", "/residents/", "/audit/"]:
        _visit(page, live_server, path)
        assert _overflow(page) <= 0, f"{path} scrolls sideways at 200% text"


def test_phone_menu_fits_and_actions_come_before_the_timeline(
    world: Any,
    live_server: Any,
    browser: Any,  # noqa: F811
) -> None:
    event = report()
    page = _page(browser, live_server, PHONE, [])
    _login(page, live_server, "community1")
    _visit(page, live_server, f"/events/{event.pk}/")

    # The navigation is folded behind a menu button; opened, every item (退出 too) is on screen.
    logout = page.locator("nav.nav").get_by_role("button", name="退出")
    assert not logout.is_visible()
    page.locator(".nav-toggle").click()
    items = page.locator("nav.nav a, nav.nav button")
    assert items.count() >= 10
    for i in range(items.count()):
        box = items.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], i
    assert logout.is_visible()
    assert _overflow(page) <= 0
    _shot(page, "a11y-menu-phone")

    # What may happen next comes before the timeline.
    actions = page.locator(".detail-actions").bounding_box()
    timeline = page.locator(".timeline").bounding_box()
    assert actions is not None and timeline is not None
    assert actions["y"] < timeline["y"]

    # On a desk the menu is simply open and the actions sit beside the event.
    page.set_viewport_size(DESKTOP)
    assert not page.locator(".nav-toggle").is_visible()
    assert logout.is_visible()
    actions = page.locator(".detail-actions").bounding_box()
    timeline = page.locator(".timeline").bounding_box()
    assert actions is not None and timeline is not None
    assert actions["x"] > timeline["x"] + timeline["width"] - 1

    # A resident's few items stay in view on a phone, without a menu button.
    res = _page(browser, live_server, PHONE, [])
    _login(res, live_server, "resident1")
    assert res.locator("nav.nav").get_by_role("link", name="我要说").is_visible()
    assert res.locator("nav.nav").get_by_role("button", name="退出").is_visible()
    assert _overflow(res) <= 0
