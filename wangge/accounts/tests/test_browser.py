"""End-to-end check in a real browser (headless Debian Chromium through Playwright; never downloaded).

A community worker signs in, sees the map of her grids, searches a resident by name, opens the card
(ID number masked), reveals it with a reason and sees the full value; nothing is fetched from outside.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails).
Set WANGGE_SCREENSHOT_DIR to keep screenshots of the pages (phone and desktop sizes).
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from wangge.accounts.tests.pages_data import make_register
from wangge.audit.models import AuditEntry
from wangge.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls there without this.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MASKED_ID = re.compile(r"^\d{6}\*{8}[\dX]{4}$")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} not found (apt-get install chromium); the browser test needs Debian's Chromium"
    if os.environ.get("WANGGE_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " and WANGGE_REQUIRE_BROWSER=1 is set")
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            # Inside sync_playwright() the test runs in another contextvars context, so Django opened
            # a separate connection there; close it here or it outlives the test and blocks dropping
            # the PostgreSQL test database.
            connections.close_all()
            b.close()


def _page(browser: Any, live_server: Any, viewport: dict[str, int], outside: list[str]) -> Any:
    """A page that refuses (and records) every request to another host: the app must work offline."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")

    def only_local(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    context.set_default_timeout(15_000)
    return context.new_page()


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("WANGGE_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _login(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/map/$"))


def test_community_worker_searches_and_reveals(world: Any, live_server: Any, browser: Any) -> None:
    reg = make_register(world)
    outside: list[str] = []
    page = _page(browser, live_server, PHONE, outside)
    _login(page, live_server, "community1")

    # The map draws community1's two grids (Leaflet, local files) and nothing else.
    page.wait_for_selector("#map path.leaflet-interactive")
    assert page.locator("#map path.leaflet-interactive").count() == 2
    assert page.locator(".tree").get_by_text("六合第一网格").count() == 1
    _shot(page, "map-phone")

    # Search by name.
    page.click(".nav-toggle")  # on a phone staff's navigation is folded behind the menu button
    page.click("nav.nav >> text=居民查询")
    page.fill("input[name=q]", "张建国")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url(re.compile(r"/residents/\?"))
    assert reg.zhang_id not in page.content()
    page.click("a.title:has-text('张建国')")
    page.wait_for_url(re.compile(rf"/residents/{reg.zhang.pk}/$"))

    # The card shows the ID number masked, and the full value nowhere.
    masked = page.locator("#reveal-id_number .mono").first.inner_text().strip()
    assert MASKED_ID.match(masked), masked
    assert reg.zhang_id not in page.content()
    _shot(page, "card-phone")

    # A too-short reason is refused with a Chinese message, and nothing is revealed or audited.
    box = page.locator("#reveal-id_number")
    box.locator("summary").click()
    box.locator("input[name=reason]").fill("看看")
    box.locator("button[type=submit]").click()
    page.wait_for_selector("#reveal-id_number .error")
    assert "请填写查看理由" in page.locator("#reveal-id_number .error").inner_text()
    assert reg.zhang_id not in page.content()
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()

    # With a reason: the full value is swapped in (POST, never in the URL) and the view is audited.
    box = page.locator("#reveal-id_number")
    box.locator("input[name=reason]").fill("入户核实身份")
    box.locator("button[type=submit]").click()
    page.wait_for_selector("#reveal-id_number .full")
    assert page.locator("#reveal-id_number .full").inner_text().strip() == reg.zhang_id
    assert reg.zhang_id not in page.url
    _shot(page, "card-revealed-phone")
    entry = AuditEntry.objects.get(action="resident.reveal")
    assert entry.actor_name == "community1" and entry.reason == "入户核实身份"

    # The same pages at desktop size, for the screenshots.
    if os.environ.get("WANGGE_SCREENSHOT_DIR"):
        desk = _page(browser, live_server, DESKTOP, outside)
        _login(desk, live_server, "community1")
        desk.wait_for_selector("#map path.leaflet-interactive")
        _shot(desk, "map-desktop")
        desk.goto(f"{live_server.url}/residents/{reg.zhang.pk}/")
        _shot(desk, "card-desktop")
        desk.goto(f"{live_server.url}/buildings/{reg.b1.pk}/")
        _shot(desk, "building-desktop")
        page.goto(f"{live_server.url}/buildings/{reg.b1.pk}/")
        _shot(page, "building-phone")
        page.goto(f"{live_server.url}/grids/{world.g111.pk}/")
        page.wait_for_selector(".map path.leaflet-interactive")
        _shot(page, "grid-phone")
        page.click("footer button[value=en]")
        page.wait_for_selector("html[lang=en]")
        _shot(page, "grid-phone-en")

    assert outside == [], f"requests to other hosts: {outside}"
