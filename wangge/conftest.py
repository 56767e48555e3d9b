"""Shared fixtures: a small territory with one account per role, and API clients for them."""

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIClient

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.territory.models import Level
from wangge.territory.services import grid_create, territory_create

PASSWORD = "test-pass-123"
LNG0, LAT0, STEP = 112.20, 31.03, 0.005


def square(col: int, row: int, step: float = STEP) -> dict[str, Any]:
    """A square grid cell (GeoJSON Polygon) at column/row of a regular lattice."""
    x0, y0 = LNG0 + col * step, LAT0 + row * step
    ring = [[x0, y0], [x0 + step, y0], [x0 + step, y0 + step], [x0, y0 + step], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def centre(col: int, row: int, step: float = STEP) -> tuple[float, float]:
    """(lat, lng) of the middle of a lattice cell."""
    return LAT0 + (row + 0.5) * step, LNG0 + (col + 0.5) * step


@pytest.fixture
def world(db: Any) -> SimpleNamespace:
    """District 420802 with two streets, three communities, four grids (unit squares), users per role.

    Layout (columns →): c11 has grids g111 (col 0) and g112 (col 1); c12 has g121 (col 2);
    street 2's community c21 has g211 (col 3). All on row 0.
    """
    d = territory_create(level=Level.DISTRICT, code="420802", name="测试区")
    s1 = territory_create(level=Level.STREET, code="420802001", name="第一街道", parent=d)
    s2 = territory_create(level=Level.STREET, code="420802002", name="第二街道", parent=d)
    c11 = territory_create(level=Level.COMMUNITY, code="420802001001", name="六合社区", parent=s1)
    c12 = territory_create(level=Level.COMMUNITY, code="420802001002", name="东湖社区", parent=s1)
    c21 = territory_create(level=Level.COMMUNITY, code="420802002001", name="西山社区", parent=s2)
    since = date(2025, 1, 1)
    g111 = grid_create(
        community=c11, code="420802001001001", name="六合第一网格", geojson=square(0, 0), valid_from=since
    )
    g112 = grid_create(
        community=c11, code="420802001001002", name="六合第二网格", geojson=square(1, 0), valid_from=since
    )
    g121 = grid_create(
        community=c12, code="420802001002001", name="东湖第一网格", geojson=square(2, 0), valid_from=since
    )
    g211 = grid_create(
        community=c21, code="420802002001001", name="西山第一网格", geojson=square(3, 0), valid_from=since
    )

    def mk(username: str, role: Role, node: Any) -> Any:
        return user_create(
            username=username,
            password=PASSWORD,
            role=role,
            territory_id=node.pk if node else None,
            display_name=username,
        )

    users = SimpleNamespace(
        admin=mk("admin", Role.DISTRICT_ADMIN, d),
        street1=mk("street1", Role.STREET_STAFF, s1),
        street2=mk("street2", Role.STREET_STAFF, s2),
        community1=mk("community1", Role.COMMUNITY_STAFF, c11),
        community2=mk("community2", Role.COMMUNITY_STAFF, c12),
        grid1=mk("grid1", Role.GRID_WORKER, g111),
        grid2=mk("grid2", Role.GRID_WORKER, g112),
        dept1=mk("dept1", Role.DEPT_HANDLER, d),
        member1=mk("member1", Role.PARTY_MEMBER, c11),
        resident1=mk("resident1", Role.RESIDENT, c11),
    )
    return SimpleNamespace(
        district=d,
        s1=s1,
        s2=s2,
        c11=c11,
        c12=c12,
        c21=c21,
        g111=g111,
        g112=g112,
        g121=g121,
        g211=g211,
        users=users,
    )


@pytest.fixture(autouse=True)
def _no_login_lockout(settings: Any) -> None:
    """django-axes off by default in tests: the test client's login() calls authenticate() without a
    request, which axes refuses. The sign-in security tests turn it back on."""
    settings.AXES_ENABLED = False


@pytest.fixture
def api_for() -> Callable[[Any], APIClient]:
    """An APIClient authenticated (token) as the given user."""

    def make(user: Any) -> APIClient:
        from rest_framework.authtoken.models import Token

        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Every API error has the one shape {code, message[, details]} with a Chinese message."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = response.json()
    assert set(body) <= {"code", "message", "details"} and "code" in body and "message" in body, body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    # Argon2 is deliberately slow; tests create many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_reference_data() -> Any:
    # Per-process caches of configuration rows: a test's rolled-back rows must not reach the next test.
    from wangge.events.reference import reference_forget

    reference_forget()
    yield
    reference_forget()


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    # The cache holds rate-limit counters (in this process's memory): one test's attempts must not
    # count against the next.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
