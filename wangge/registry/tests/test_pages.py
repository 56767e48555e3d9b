"""Resident search, resident card with reveal, building card (一幢一册): roles, scope, masking, audit."""

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from wangge.accounts.tests.pages_data import id_number, make_register
from wangge.audit.models import AuditEntry
from wangge.registry.services import resident_create

MASKED_ID = re.compile(r"\d{6}\*{8}[\dX]{4}")
FULL_ID = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def reg(world: Any) -> Any:
    return make_register(world)


def assert_nothing_personal(html: str, reg: Any) -> None:
    assert not FULL_ID.search(html), FULL_ID.search(html)
    assert reg.zhang_id not in html and reg.zhang_phone not in html and "13998765432" not in html
    assert "高血压" not in html


# --- search ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status",
    [
        ("admin", 200),
        ("street1", 200),
        ("community1", 200),
        ("grid1", 200),
        ("dept1", 403),
        ("member1", 403),
        ("resident1", 403),
    ],
)
def test_resident_search_status_per_role(reg: Any, world: Any, who: str, status: int) -> None:
    resp = client_for(getattr(world.users, who)).get(reverse("resident-list"), {"q": "张"})
    assert resp.status_code == status


def test_resident_search_by_name_is_masked_and_scoped(reg: Any, world: Any) -> None:
    resp = client_for(world.users.grid1).get(reverse("resident-list"), {"q": "张建国"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    assert "张建国" in html and reverse("resident-detail", args=[reg.zhang.pk]) in html
    assert MASKED_ID.search(html) and "138****5678" in html
    assert_nothing_personal(html, reg)
    # 王小明 lives in g112: not in grid1's results.
    html = client_for(world.users.grid1).get(reverse("resident-list"), {"q": "王小明"}).content.decode()
    assert reverse("resident-detail", args=[reg.wang.pk]) not in html and "没有找到" in html
    html = client_for(world.users.grid2).get(reverse("resident-list"), {"q": "王小明"}).content.decode()
    assert reverse("resident-detail", args=[reg.wang.pk]) in html


def test_resident_search_by_exact_id_and_phone_is_posted_and_not_echoed(reg: Any, world: Any) -> None:
    c = client_for(world.users.community1)
    for q in (reg.zhang_id, reg.zhang_phone, reg.zhang_id[:6] + " " + reg.zhang_id[6:]):
        resp = c.post(reverse("resident-list"), {"q": q})
        html = resp.content.decode()
        assert resp.status_code == 200  # answered in place: the number never goes into a URL
        assert reverse("resident-detail", args=[reg.zhang.pk]) in html
        assert "找到 1 位居民" in html
        assert_nothing_personal(html, reg)
        assert "no-store" in resp["Cache-Control"]
    # A part of an ID number does not match anything.
    html = c.post(reverse("resident-list"), {"q": reg.zhang_id[:10]}).content.decode()
    assert reverse("resident-detail", args=[reg.zhang.pk]) not in html


def test_resident_search_by_name_posted_redirects_to_a_get_address(reg: Any, world: Any) -> None:
    resp = client_for(world.users.community1).post(reverse("resident-list"), {"q": "张建国", "tag": ""})
    assert resp.status_code == 302
    assert resp.url == reverse("resident-list") + "?q=%E5%BC%A0%E5%BB%BA%E5%9B%BD&tag="


def test_resident_search_form_posts(reg: Any, world: Any) -> None:
    html = client_for(world.users.grid1).get(reverse("resident-list")).content.decode()
    assert f'<form method="post" action="{reverse("resident-list")}"' in html


def test_resident_search_pages(reg: Any, world: Any, monkeypatch: Any) -> None:
    resident_create(
        actor=world.users.admin,
        name="张小红",
        id_number=id_number("420802", "19900202", 222),
        dwelling=reg.d101,
    )
    monkeypatch.setattr("wangge.registry.views.PAGE_SIZE", 1)
    c = client_for(world.users.community1)
    html = c.get(reverse("resident-list"), {"q": "张", "tag": ""}).content.decode()
    assert "找到 2 位居民" in html and "第 1 / 2 页" in html
    assert html.count('class="title"') == 1
    assert "?q=%E5%BC%A0&amp;tag=&amp;page=2" in html
    html2 = c.get(reverse("resident-list"), {"q": "张", "tag": "", "page": 2}).content.decode()
    assert "第 2 / 2 页" in html2 and "上一页" in html2


def test_resident_search_by_tag(reg: Any, world: Any) -> None:
    c = client_for(world.users.community1)
    html = c.get(reverse("resident-list"), {"tag": "long_rent"}).content.decode()
    assert reverse("resident-detail", args=[reg.li.pk]) in html
    assert reverse("resident-detail", args=[reg.zhang.pk]) not in html
    assert "长租户" in html and "badge-green" in html
    assert_nothing_personal(html, reg)


def test_resident_list_without_query_lists_nobody(reg: Any, world: Any) -> None:
    html = client_for(world.users.admin).get(reverse("resident-list")).content.decode()
    assert reverse("resident-detail", args=[reg.zhang.pk]) not in html


# --- card and reveal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,target,status",
    [
        ("grid1", "zhang", 200),
        ("grid1", "wang", 404),
        ("grid2", "zhang", 404),
        ("grid2", "wang", 200),
        ("community1", "wang", 200),
        ("community2", "zhang", 404),
        ("street2", "zhang", 404),
        ("admin", "zhang", 200),
        ("dept1", "zhang", 403),
        ("resident1", "zhang", 403),
    ],
)
def test_resident_card_scope(reg: Any, world: Any, who: str, target: str, status: int) -> None:
    url = reverse("resident-detail", args=[getattr(reg, target).pk])
    assert client_for(getattr(world.users, who)).get(url).status_code == status


def test_resident_card_is_masked_with_reveal_buttons(reg: Any, world: Any) -> None:
    resp = client_for(world.users.grid1).get(reverse("resident-detail", args=[reg.zhang.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200 and "no-store" in resp["Cache-Control"]
    assert "张建国" in html and MASKED_ID.search(html) and "138****5678" in html
    assert_nothing_personal(html, reg)
    assert html.count("<summary>查看完整信息</summary>") == 3  # ID number, phone, health notes
    assert f'hx-post="{reverse("resident-reveal", args=[reg.zhang.pk])}"' in html
    assert "空巢老人" in html and "六合小区1栋" in html


def test_reveal_with_reason_shows_full_value_and_is_audited(reg: Any, world: Any) -> None:
    c = client_for(world.users.grid1)
    url = reverse("resident-reveal", args=[reg.zhang.pk])
    resp = c.post(url, {"field": "id_number", "reason": "入户核实身份"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert reg.zhang_id in html and 'id="reveal-id_number"' in html and "<html" not in html
    assert "no-store" in resp["Cache-Control"]
    entry = AuditEntry.objects.filter(action="resident.reveal").get()
    assert (
        entry.actor_name == "grid1"
        and entry.reason == "入户核实身份"
        and entry.object_id == str(reg.zhang.pk)
    )
    assert reg.zhang_id not in str(entry.after) and reg.zhang_id not in entry.reason
    resp = c.post(url, {"field": "phone", "reason": "电话回访居民"}, HTTP_HX_REQUEST="true")
    assert reg.zhang_phone in resp.content.decode()
    resp = c.post(url, {"field": "health_notes", "reason": "核实助老服务"}, HTTP_HX_REQUEST="true")
    assert "高血压" in resp.content.decode()
    assert AuditEntry.objects.filter(action="resident.reveal").count() == 3


def test_reveal_without_javascript_returns_the_card(reg: Any, world: Any) -> None:
    resp = client_for(world.users.grid1).post(
        reverse("resident-reveal", args=[reg.zhang.pk]), {"field": "phone", "reason": "电话回访居民"}
    )
    html = resp.content.decode()
    assert resp.status_code == 200 and "<html" in html
    assert reg.zhang_phone in html and MASKED_ID.search(html) and reg.zhang_id not in html


@pytest.mark.parametrize("reason", ["", "   ", "看看"])
def test_reveal_needs_a_reason(reg: Any, world: Any, reason: str) -> None:
    resp = client_for(world.users.grid1).post(
        reverse("resident-reveal", args=[reg.zhang.pk]),
        {"field": "id_number", "reason": reason},
        HTTP_HX_REQUEST="true",
    )
    html = resp.content.decode()
    assert resp.status_code == 400
    assert "请填写查看理由" in html and reg.zhang_id not in html
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()


def test_reveal_needs_permission(reg: Any, world: Any, django_user_model: Any) -> None:
    # A register viewer without accounts.reveal_personal.
    viewer = django_user_model.objects.create_user(
        username="viewer", password="x-12345678", role="community_staff", territory=world.c11
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_register"))
    c = client_for(viewer)
    html = c.get(reverse("resident-detail", args=[reg.zhang.pk])).content.decode()
    assert "<summary>查看完整信息</summary>" not in html
    resp = c.post(
        reverse("resident-reveal", args=[reg.zhang.pk]),
        {"field": "id_number", "reason": "入户核实身份"},
        HTTP_HX_REQUEST="true",
    )
    assert resp.status_code == 403
    assert "没有查看完整个人信息的权限" in resp.content.decode()
    assert reg.zhang_id not in resp.content.decode()
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()


def test_reveal_is_post_only_scoped_and_checks_the_field(reg: Any, world: Any) -> None:
    c = client_for(world.users.grid1)
    assert c.get(reverse("resident-reveal", args=[reg.zhang.pk]), {"field": "id_number"}).status_code == 405
    resp = c.post(
        reverse("resident-reveal", args=[reg.wang.pk]), {"field": "id_number", "reason": "入户核实身份"}
    )
    assert resp.status_code == 404
    resp = c.post(
        reverse("resident-reveal", args=[reg.zhang.pk]),
        {"field": "name", "reason": "入户核实身份"},
        HTTP_HX_REQUEST="true",
    )
    assert resp.status_code == 400 and "不支持查看该字段" in resp.content.decode()
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()
    assert (
        client_for(world.users.dept1)
        .post(
            reverse("resident-reveal", args=[reg.zhang.pk]), {"field": "id_number", "reason": "入户核实身份"}
        )
        .status_code
        == 403
    )


def test_reveal_needs_csrf(reg: Any, world: Any) -> None:
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.users.grid1)
    resp = c.post(
        reverse("resident-reveal", args=[reg.zhang.pk]), {"field": "id_number", "reason": "入户核实身份"}
    )
    assert resp.status_code == 403


# --- building card -----------------------------------------------------------------------------------


def test_building_card(reg: Any, world: Any) -> None:
    resp = client_for(world.users.grid1).get(reverse("building-detail", args=[reg.b1.pk]))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "一幢一册" in html and "六合小区1栋" in html and "B001" in html
    # Units and floors, top floor first; uses; occupants masked, linked to their cards.
    assert "1 单元" in html and html.index("第 6 层") < html.index("第 1 层")
    assert "出租" in html and "自住" in html
    assert "张*国" in html and "李*英" in html and "张建国" not in html
    assert reverse("resident-detail", args=[reg.zhang.pk]) in html
    # Seven-colour plate badges.
    assert 'class="badge badge-yellow">空巢老人' in html and 'class="badge badge-green">长租户' in html
    assert_nothing_personal(html, reg)


@pytest.mark.parametrize(
    "who,building,status",
    [
        ("grid1", "b1", 200),
        ("grid1", "b2", 404),
        ("grid2", "b1", 404),
        ("community1", "b2", 200),
        ("community2", "b1", 404),
        ("street2", "b1", 404),
        ("dept1", "b1", 403),
        ("member1", "b1", 403),
    ],
)
def test_building_card_scope(reg: Any, world: Any, who: str, building: str, status: int) -> None:
    url = reverse("building-detail", args=[getattr(reg, building).pk])
    assert client_for(getattr(world.users, who)).get(url).status_code == status
