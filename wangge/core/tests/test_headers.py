"""Security headers, HTTPS settings and who may read the API description (item 11)."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

import wangge
from wangge.conftest import PASSWORD
from wangge.core.security import tile_origin
from wangge.core.tests.settings_env import PRODUCTION_ENV, settings_under

DOCS = ["/api/schema/", "/api/docs/", "/api/redoc/"]


def policy(response: Any) -> dict[str, list[str]]:
    out = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


# --- Content-Security-Policy and the other headers ----------------------------------------------


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy() -> None:
    csp = policy(Client().get(reverse("login")))
    assert csp == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
    }


@pytest.mark.django_db
def test_other_security_headers() -> None:
    resp = Client().get(reverse("login"))
    assert resp["Referrer-Policy"] == "same-origin"
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["Cross-Origin-Opener-Policy"] == "same-origin"
    assert resp["X-Frame-Options"] == "DENY"
    features = dict(item.split("=", 1) for item in resp["Permissions-Policy"].split(", "))
    # The report and patrol pages locate the user and may open the camera for a photo.
    assert features["geolocation"] == "(self)" and features["camera"] == "(self)"
    assert features["microphone"] == "()" and features["payment"] == "()" and features["usb"] == "()"
    assert "Strict-Transport-Security" not in resp  # the demo serves plain http


def test_tile_server_origin_is_allowed_for_images() -> None:
    csp = settings_under({"WANGGE_TILE_URL": "https://{s}.tiles.intranet:8443/osm/{z}/{x}/{y}.png"})
    assert csp["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"] == [
        "'self'",
        "data:",
        "https://*.tiles.intranet:8443",
    ]
    assert settings_under({})["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"] == ["'self'", "data:"]


@pytest.mark.parametrize(
    "url,origin",
    [
        ("http://tiles.intranet/{z}/{x}/{y}.png", "http://tiles.intranet"),
        ("https://{s}.tiles.intranet/{z}/{x}/{y}.png", "https://*.tiles.intranet"),
        ("https://tile-{s}.intranet/{z}/{x}/{y}.png", "https:"),
        ("https://a.{s}.intranet/{z}/{x}/{y}.png", "https:"),
        ("/tiles/{z}/{x}/{y}.png", ""),
        ("", ""),
    ],
)
def test_tile_origin(url: str, origin: str) -> None:
    assert tile_origin(url) == origin


TEMPLATE_DIRS = [p for p in Path(wangge.__file__).parent.rglob("templates") if p.is_dir()]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on… event handler attribute"),
    (re.compile(r"\bhx-on", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_no_inline_script_or_style() -> None:
    """CSP (script-src/style-src 'self') would block these; the browser test checks the live pages."""
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for pattern, what in INLINE:
                found += [
                    f"{path.relative_to(folder)}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)
                ]
    assert found == []


def test_htmx_does_not_inject_its_indicator_styles() -> None:
    base = (Path(wangge.__file__).parent / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"includeIndicatorStyles":false' in base
    css = (Path(wangge.__file__).parent / "static" / "wangge" / "wangge.css").read_text(encoding="utf-8")
    assert ".htmx-request .htmx-indicator" in css


# --- HTTPS --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_https_settings_in_action(world: Any) -> None:
    prod = settings_under(PRODUCTION_ENV)
    prod["ALLOWED_HOSTS"] = ["testserver"]
    with override_settings(**prod):
        c = Client()
        # Plain http is redirected to https.
        resp = c.get("/login/")
        assert resp.status_code == 301 and resp["Location"] == "https://testserver/login/"
        # The TLS-terminating proxy's header marks the request as https: no redirect, HSTS sent.
        resp = c.get("/login/", headers={"X-Forwarded-Proto": "https"})
        assert resp.status_code == 200
        assert resp["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        # Session and CSRF cookies are Secure.
        assert resp.cookies["csrftoken"]["secure"] is True
        resp = c.post(
            "/login/",
            {"username": "community1", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert resp.status_code == 302
        assert resp.cookies["sessionid"]["secure"] is True


# --- API description ----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(WANGGE_PUBLIC_API_DOCS=True)
def test_api_docs_are_public_when_the_setting_is_on() -> None:
    for url in DOCS:
        assert Client().get(url).status_code == 200, url


@pytest.mark.django_db
@override_settings(WANGGE_PUBLIC_API_DOCS=False)
def test_api_docs_need_a_staff_account_when_the_setting_is_off(world: Any) -> None:
    for url in DOCS:
        assert Client().get(url).status_code in (401, 403), url
        assert client_for(world.users.grid1).get(url).status_code == 403, url
    # Token clients are refused the same way.
    api = Client(headers={"Accept": "application/json"})
    assert api.get("/api/schema/").status_code in (401, 403)
    assert world.users.admin.is_staff
    admin = client_for(world.users.admin)
    for url in DOCS:
        assert admin.get(url).status_code == 200, url
    assert admin.get("/api/docs/?script=").status_code == 200


@pytest.mark.django_db
def test_docs_pages_relax_styles_only_and_load_nothing_from_outside() -> None:
    for url in ("/api/docs/", "/api/redoc/"):
        resp = Client().get(url)
        csp = policy(resp)
        assert csp["script-src"] == ["'self'"]
        assert "'unsafe-inline'" in csp["style-src"]
        html = resp.content.decode()
        assert "googleapis" not in html and "https://" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
    assert "'unsafe-inline'" not in policy(Client().get(reverse("login")))["style-src"]
