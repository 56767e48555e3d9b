"""Issue 18 A4: Chinese whatever the browser says; English only after the user chose it with the switch."""

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

CHINESE_TITLE = "网格化基层治理平台"
ENGLISH_TITLE = "Wangge grid governance platform"


def test_an_english_browser_gets_chinese_pages() -> None:
    resp = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    page = resp.content.decode()
    assert 'lang="zh-Hans"' in page and CHINESE_TITLE in page and ENGLISH_TITLE not in page
    assert resp.headers["Content-Language"] == "zh-hans"
    assert "Accept-Language" not in resp.headers.get("Vary", "")


def test_english_after_choosing_it_with_the_switch_and_back() -> None:
    c = Client()
    page = c.get("/login/").content.decode()
    # The switch is on every page (footer), posting to Django's set_language view.
    assert 'action="/i18n/setlang/"' in page and 'value="en"' in page
    resp = c.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert resp.status_code == 302 and c.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = c.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert 'lang="en"' in page and ENGLISH_TITLE in page
    c.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert CHINESE_TITLE in c.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_an_unknown_language_cookie_falls_back_to_chinese() -> None:
    c = Client()
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert 'lang="zh-Hans"' in c.get("/login/", HTTP_ACCEPT_LANGUAGE="fr,en").content.decode()


def test_api_errors_are_chinese_by_default(world: Any, api_for: Any) -> None:
    api = api_for(world.users.grid1)
    resp = api.post("/api/v1/events/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 400
    body = resp.json()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    # DRF's own field messages follow the active language: Chinese, not the browser's English.
    details = str(body["details"])
    assert "该字段是必填项" in details and "This field is required" not in details, details
    # English when chosen with the switch (the cookie), for the API as for pages.
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    details = str(api.post("/api/v1/events/", {}, format="json").json()["details"])
    assert "This field is required" in details, details
