"""Issue 18 A13: the 大字版 switch is a plain form the server answers with a cookie (no script needed)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_large_text_is_set_shown_and_cleared() -> None:
    c = Client()
    page = c.get("/report/").content.decode()
    # Resident pages start at 18 px and offer the switch; no large text before it is pressed.
    assert 'class="resident-page"' in page and 'action="/text-size/"' in page and "大字版" in page
    resp = c.post("/text-size/", {"size": "large", "next": "/report/"})
    assert resp.status_code == 302 and resp["Location"] == "/report/"
    assert c.cookies["wangge_text"].value == "large" and c.cookies["wangge_text"]["httponly"]
    page = c.get("/track/").content.decode()
    assert 'class="resident-page text-large"' in page and "标准字" in page
    resp = c.post("/text-size/", {"size": "normal", "next": "/track/"})
    assert resp.status_code == 302 and c.cookies["wangge_text"].value == ""
    assert "text-large" not in c.get("/track/").content.decode()


def test_bad_input_gets_a_chinese_error_and_no_cookie() -> None:
    c = Client()
    resp = c.post("/text-size/", {"size": "huge", "next": "/report/"})
    assert resp.status_code == 400 and "字号参数无效" in resp.content.decode()
    assert "wangge_text" not in c.cookies
    assert c.get("/text-size/").status_code == 405


def test_never_sends_the_visitor_to_another_host() -> None:
    resp = Client().post("/text-size/", {"size": "large", "next": "https://evil.example/x"})
    assert resp.status_code == 302 and resp["Location"] == "/"
