"""The resident search page takes an ID number or phone only by POST, as the API does (item 11).

A number in the address ends up in browser history, proxy and access logs and the Referer of the next
request: a GET with ?q=<ID number> is not searched; the page sends the caller to the bare search page
with a Chinese message.
"""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.accounts.tests.pages_data import make_register
from wangge.registry.selectors import is_personal_number_query


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def reg(world: Any) -> Any:
    return make_register(world)


def numbers(reg: Any) -> list[str]:
    zid = reg.zhang_id
    return [zid, zid.lower(), f"{zid[:6]} {zid[6:14]} {zid[14:]}", reg.zhang_phone, zid[:10]]


def test_page_refuses_an_id_number_or_phone_in_the_url(reg: Any, world: Any) -> None:
    c = client_for(world.users.community1)
    detail = reverse("resident-detail", args=[reg.zhang.pk])
    for q in numbers(reg):
        resp = c.get(reverse("resident-list"), {"q": q, "tag": ""})
        # Nothing searched: sent to the bare page (no number in its address, so none in a Referer).
        assert resp.status_code == 302 and resp["Location"] == reverse("resident-list"), q
        html = c.get(resp["Location"]).content.decode()
        assert "号码不能放在网址中" in html
        assert detail not in html and "找到" not in html
        assert reg.zhang_id not in html and reg.zhang_phone not in html


def test_page_and_api_apply_the_same_rule(reg: Any, world: Any) -> None:
    page = client_for(world.users.community1)
    api = client_for(world.users.community1)
    for q in [*numbers(reg), "张建国", "张", "12ab"]:
        page_refused = page.get(reverse("resident-list"), {"q": q}).status_code == 302
        api_resp = api.get("/api/v1/residents/", {"q": q})
        api_refused = api_resp.status_code == 400 and api_resp.json()["code"] == "use_post_search"
        assert page_refused == api_refused == is_personal_number_query(q), q


def test_id_number_search_by_post_still_finds_the_resident(reg: Any, world: Any) -> None:
    c = client_for(world.users.community1)
    resp = c.post(reverse("resident-list"), {"q": reg.zhang_id})
    html = resp.content.decode()
    assert resp.status_code == 200
    assert reverse("resident-detail", args=[reg.zhang.pk]) in html and "找到 1 位居民" in html
    assert reg.zhang_id not in html


def test_name_search_by_get_still_works(reg: Any, world: Any) -> None:
    resp = client_for(world.users.community1).get(reverse("resident-list"), {"q": "张建国"})
    assert resp.status_code == 200
    assert reverse("resident-detail", args=[reg.zhang.pk]) in resp.content.decode()
