"""Audit search page and GET /api/v1/audit/: permission, scope, filters, read-only."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.audit.services import audit_record
from wangge.conftest import assert_error


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def entries(world: Any) -> Any:
    u = world.users
    audit_record(
        actor=u.grid1,
        action="resident.reveal",
        path=world.g111.path,
        object_type="registry.resident",
        object_id="11",
        object_repr="居民#11",
        reason="入户走访核对",
    )
    audit_record(
        actor=u.street2,
        action="resident.update",
        path=world.g211.path,
        object_type="registry.resident",
        object_id="22",
        object_repr="居民#22",
        reason="西山更正",
    )
    return world


@pytest.mark.parametrize(
    "who,status",
    [
        ("admin", 200),
        ("street1", 200),
        ("community1", 403),
        ("grid1", 403),
        ("dept1", 403),
        ("member1", 403),
        ("resident1", 403),
    ],
)
def test_audit_page_needs_view_audit(entries: Any, who: str, status: int) -> None:
    assert client_for(getattr(entries.users, who)).get(reverse("audit-list")).status_code == status


def test_audit_page_is_scoped(entries: Any) -> None:
    html = client_for(entries.users.street1).get(reverse("audit-list")).content.decode()
    assert "入户走访核对" in html
    assert "西山更正" not in html  # street 2's entry
    html = client_for(entries.users.admin).get(reverse("audit-list")).content.decode()
    assert "入户走访核对" in html and "西山更正" in html


def test_audit_page_filters(entries: Any) -> None:
    c = client_for(entries.users.admin)
    html = c.get(reverse("audit-list"), {"action": "resident.reveal"}).content.decode()
    assert "入户走访核对" in html and "西山更正" not in html
    html = c.get(reverse("audit-list"), {"actor": "street2"}).content.decode()
    assert "西山更正" in html and "入户走访核对" not in html
    html = c.get(
        reverse("audit-list"), {"object_type": "registry.resident", "object_id": "22"}
    ).content.decode()
    assert "西山更正" in html and "入户走访核对" not in html
    html = c.get(reverse("audit-list"), {"date_from": "2000-01-01", "date_to": "2000-12-31"}).content.decode()
    assert "西山更正" not in html and "入户走访核对" not in html and "没有符合条件的记录" in html
    # A malformed date is ignored rather than a server error.
    assert c.get(reverse("audit-list"), {"date_from": "not-a-date"}).status_code == 200


def test_audit_page_paginates(entries: Any) -> None:
    for i in range(55):
        audit_record(
            actor=entries.users.admin, action="test.bulk", path=entries.g111.path, object_repr=f"bulk{i}"
        )
    c = client_for(entries.users.admin)
    html = c.get(reverse("audit-list"), {"action": "test.bulk"}).content.decode()
    assert "第 1 / 2 页" in html and "下一页" in html
    html2 = c.get(reverse("audit-list"), {"action": "test.bulk", "page": 2}).content.decode()
    rows = re.compile(r">bulk\d+<")
    assert len(rows.findall(html)) == 50 and len(rows.findall(html2)) == 5


def test_audit_api(entries: Any, api_for: Any) -> None:
    resp = api_for(entries.users.street1).get("/api/v1/audit/")
    assert resp.status_code == 200
    reasons = [r["reason"] for r in resp.json()["results"]]
    assert "入户走访核对" in reasons and "西山更正" not in reasons
    resp = api_for(entries.users.admin).get("/api/v1/audit/", {"actor": "street2"})
    assert [r["reason"] for r in resp.json()["results"]] == ["西山更正"]
    assert_error(api_for(entries.users.grid1).get("/api/v1/audit/"), 403, "permission_denied")
    # Read-only.
    assert api_for(entries.users.admin).post("/api/v1/audit/", {}).status_code == 405
