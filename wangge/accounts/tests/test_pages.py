"""Sign-in, landing page, language switch, error pages."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.conftest import PASSWORD


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.django_db
def test_login_page_is_chinese_and_loads_local_assets_only(client: Client) -> None:
    resp = client.get(reverse("login"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'lang="zh-Hans"' in html
    assert "登录" in html and "用户名" in html
    assert "/static/vendor/htmx/htmx.min.js" in html
    # Offline (SPEC I6): nothing is fetched from another host.
    assert "//cdn" not in html and "unpkg" not in html and "googleapis" not in html


def test_login_with_password_then_home_redirects_staff_to_map(world: Any, client: Client) -> None:
    resp = client.post(reverse("login"), {"username": "grid1", "password": PASSWORD})
    assert resp.status_code == 302 and resp.url == reverse("home")
    resp = client.get(reverse("home"))
    assert resp.status_code == 302 and resp.url == reverse("map")


def test_login_wrong_password_shows_chinese_error(world: Any, client: Client) -> None:
    resp = client.post(reverse("login"), {"username": "grid1", "password": "wrong-password"})
    assert resp.status_code == 200
    assert "用户名或密码错误" in resp.content.decode()


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client: Client) -> None:
    for name in ("home", "me", "map", "resident-list", "audit-list"):
        resp = client.get(reverse(name))
        assert resp.status_code == 302, name
        assert resp.url.startswith(reverse("login")), name


@pytest.mark.parametrize(("who", "home"), [("member1", "me"), ("resident1", "my-reports")])
def test_home_sends_members_and_residents_to_their_page(world: Any, who: str, home: str) -> None:
    c = client_for(getattr(world.users, who))
    resp = c.get(reverse("home"))
    assert resp.status_code == 302 and resp.url == reverse(home)  # a resident: 我的上报
    resp = c.get(reverse("me"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "我的" in html and world.c11.name in html
    # No register links for people without register access.
    assert reverse("resident-list") not in html
    assert reverse("audit-list") not in html


@pytest.mark.parametrize("who", ["admin", "street1", "community1", "grid1"])
def test_home_sends_staff_to_map(world: Any, who: str) -> None:
    resp = client_for(getattr(world.users, who)).get(reverse("home"))
    assert resp.status_code == 302 and resp.url == reverse("map")


def test_home_sends_a_department_handler_to_their_queue(world: Any) -> None:
    resp = client_for(world.users.dept1).get(reverse("home"))
    assert resp.status_code == 302 and resp.url == reverse("event-tasks")


def test_base_shows_user_role_territory_and_nav(world: Any) -> None:
    html = client_for(world.users.street1).get(reverse("map")).content.decode()
    assert "street1" in html and "街道工作人员" in html and world.s1.name in html
    for label in ("首页/地图", "居民查询", "审计", "退出"):
        assert label in html, label
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    # Grid workers have no audit permission: no audit link.
    html = client_for(world.users.grid1).get(reverse("map")).content.decode()
    assert reverse("audit-list") not in html


def test_logout_is_post_and_ends_the_session(world: Any) -> None:
    c = client_for(world.users.grid1)
    resp = c.post(reverse("logout"))
    assert resp.status_code == 302 and resp.url == reverse("login")
    assert c.get(reverse("map")).status_code == 302


def test_language_switch_to_english(world: Any) -> None:
    c = client_for(world.users.grid1)
    resp = c.post(reverse("set_language"), {"language": "en", "next": reverse("me")})
    assert resp.status_code == 302
    html = c.get(reverse("map")).content.decode()
    assert 'lang="en"' in html
    assert "Sign out" in html and "Residents" in html
    assert "退出" not in html


def test_friendly_404_in_chinese(world: Any, settings: Any) -> None:
    settings.DEBUG = False
    resp = client_for(world.users.grid1).get("/no-such-page/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "页面不存在" in html and "返回首页" in html


def test_friendly_403_in_chinese(world: Any) -> None:
    resp = client_for(world.users.resident1).get(reverse("map"))
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "没有权限" in html
