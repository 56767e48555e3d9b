"""我的上报 in a real browser at phone width (headless Debian Chromium through Playwright; never downloaded):
a resident signs in, lands on their own reports, finds 我的上报 and 我要说 in the navigation, reports
through 我要说 while signed in, and opens the report from 我的上报 to its tracking page.
Skipped when /usr/bin/chromium is absent, unless WANGGE_REQUIRE_BROWSER=1 (then it fails)."""

import re
from typing import Any

import pytest

from wangge.accounts.tests.test_browser import PHONE, _page, _shot, browser  # noqa: F401
from wangge.conftest import PASSWORD, centre
from wangge.events.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LAT, LNG = centre(0, 0)  # inside grid g111


def test_resident_finds_and_opens_own_report(world: Any, live_server: Any, browser: Any) -> None:  # noqa: F811
    outside: list[str] = []
    page = _page(browser, live_server, PHONE, outside)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "resident1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/my/reports/$"))  # the resident's home
    nav = page.locator("nav.nav")
    assert nav.get_by_role("link", name="我的上报").is_visible()
    assert nav.get_by_role("link", name="我要说").is_visible()
    assert nav.get_by_role("link", name="进度查询").is_visible()

    # Report through 我要说 while signed in (the point typed in, as a phone without GPS would not).
    nav.get_by_role("link", name="我要说").click()
    page.wait_for_url(re.compile(r"/report/$"))
    page.fill("textarea[name=description]", "楼道灯坏了一个星期，晚上看不见台阶")
    page.evaluate(
        "([lat, lng]) => { document.querySelector('input[name=lat]').value = lat;"
        " document.querySelector('input[name=lng]').value = lng; }",
        [str(LAT), str(LNG)],
    )
    page.click("main form button[type=submit]")  # not the sign-out button in the navigation
    page.wait_for_selector("#tracking-code")
    code = page.locator("#tracking-code").inner_text().strip()
    assert Event.objects.get(tracking_code=code).reporter_user_id == world.users.resident1.pk

    # Back to 我的上报 from the navigation, which stays after signing in; open the report.
    page.locator("nav.nav").get_by_role("link", name="我的上报").click()
    page.wait_for_url(re.compile(r"/my/reports/$"))
    item = page.locator("#my-reports li", has_text=code)
    assert item.is_visible() and "上报" in item.inner_text()
    _shot(page, "my-reports-phone")
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    item.locator("a.title").click()
    page.wait_for_url(re.compile(rf"/track/{code}/$"))
    assert page.locator("#tracking-code").inner_text().strip() == code
    assert outside == []
