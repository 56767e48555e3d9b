"""The Content-Security-Policy in a real browser (headless Debian Chromium through Playwright; never
downloaded): the main pages of every role, the public pages and the API docs load without a single CSP
violation, and without asking any other host for anything.

Violations are caught twice: Chromium's console message ("Refused to … Content Security Policy") and the
page's own `securitypolicyviolation` events, collected by a script Playwright adds before the page's own.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails).
"""

import re
from typing import Any

import pytest

from wangge.accounts.tests.pages_data import make_register
from wangge.accounts.tests.test_browser import DESKTOP, PHONE, _page, browser  # noqa: F401
from wangge.conftest import PASSWORD
from wangge.events.tests.core_helpers import report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " @" + e.sourceFile + ":" + e.lineNumber);
});
"""
ROLES = ["admin", "street1", "community1", "grid1", "dept1", "member1", "resident1"]


class Watch:
    """Collects CSP violations and script errors of one browser context."""

    def __init__(self, chromium: Any, live_server: Any, viewport: dict[str, int]) -> None:
        self.outside: list[str] = []
        self.problems: list[str] = []
        self.live_server = live_server
        self.page = _page(chromium, live_server, viewport, self.outside)
        self.page.add_init_script(LISTEN)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"{self.page.url}: script error {exc}"))

    def _console(self, msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Permissions-Policy" in text or "Permissions policy" in text:
            self.problems.append(f"{self.page.url}: {text}")

    def visit(self, path: str, wait_for: str = "") -> None:
        url = path if path.startswith("http") else f"{self.live_server.url}{path}"
        resp = self.page.goto(url)
        assert resp is not None and resp.status < 400, (url, resp and resp.status)
        if wait_for:
            self.page.wait_for_selector(wait_for)
        self.page.wait_for_load_state("networkidle")
        self.collect()

    def collect(self) -> None:
        seen = self.page.evaluate("window.__csp || []")
        self.problems += [f"{self.page.url}: {v}" for v in seen]
        self.page.evaluate("window.__csp = []")

    def login(self, username: str) -> None:
        self.page.goto(f"{self.live_server.url}/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        assert "/login/" not in self.page.url, f"{username} could not sign in"
        self.page.wait_for_load_state("networkidle")
        self.collect()

    def nav_links(self) -> list[str]:
        hrefs = self.page.eval_on_selector_all(
            "nav.nav a[href]", "els => els.map(e => e.getAttribute('href'))"
        )
        return [h for h in hrefs if h.startswith("/")]


def test_main_pages_of_every_role_have_no_csp_violation(world: Any, live_server: Any, browser: Any) -> None:  # noqa: F811
    reg = make_register(world)
    event = report()

    # Anonymous: sign-in, the public report form (map, geolocation button), progress lookup.
    anon = Watch(browser, live_server, PHONE)
    anon.visit("/login/")
    anon.visit("/report/", wait_for="#pin-map.leaflet-container")
    anon.visit("/track/")
    anon.visit(f"/track/{event.tracking_code}/")
    problems, outside = list(anon.problems), list(anon.outside)

    for username in ROLES:
        w = Watch(browser, live_server, DESKTOP)
        w.login(username)
        pages = [w.page.url, *w.nav_links(), "/me/"]
        for path in dict.fromkeys(pages):
            w.visit(path)
        if username in ("admin", "community1", "grid1"):
            # Pages with a map (Leaflet sets styles through the CSSOM, which CSP allows).
            w.visit("/map/", wait_for="#map path.leaflet-interactive")
            w.visit(f"/grids/{world.g111.pk}/", wait_for=".map path.leaflet-interactive")
            w.visit(f"/events/{event.pk}/", wait_for=".point-map.leaflet-container")
            w.visit("/events/patrol/new/", wait_for="#pin-map.leaflet-container")
            w.visit("/events/hotline/new/")
            # The reveal form: htmx swaps the fragment in (no injected <style>, no eval).
            w.visit(f"/residents/{reg.zhang.pk}/")
            box = w.page.locator("#reveal-id_number")
            box.locator("summary").click()
            box.locator("input[name=reason]").fill("入户核实身份")
            box.locator("button[type=submit]").click()
            w.page.wait_for_selector("#reveal-id_number .full")
            w.collect()
            w.visit(f"/buildings/{reg.b1.pk}/")
        if username == "admin":
            # Swagger UI and ReDoc run under their own, wider policy: nothing may be refused there either.
            w.visit("/api/docs/", wait_for=".swagger-ui .info")
            # Our ReDoc copy no longer asks the Redocly CDN for its logo (static/vendor/README.md).
            w.visit("/api/redoc/", wait_for="redoc h1")
        problems += w.problems
        outside += w.outside

    assert problems == []
    assert outside == [], f"requests to other hosts: {outside}"


def test_a_violation_would_be_caught(live_server: Any, browser: Any) -> None:  # noqa: F811
    """The watch above is not blind: an inline style swapped into a page is reported."""
    w = Watch(browser, live_server, PHONE)
    w.visit("/login/")
    w.page.evaluate("document.body.insertAdjacentHTML('beforeend', '<div style=\"color:red\">x</div>')")
    w.page.wait_for_timeout(200)
    w.collect()
    assert any(re.search(r"style-src", p) for p in w.problems), w.problems
