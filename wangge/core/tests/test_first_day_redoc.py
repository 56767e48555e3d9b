"""Issue 18 A5: /api/redoc/ loads nothing from the internet (no fonts, no scripts, no logo)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

# What a script or page would fetch by itself: an element's src, a stylesheet import or CSS url() (not
# JavaScript's `new URL(`), web fonts and the usual CDNs.
FETCHED_FROM_OUTSIDE = re.compile(
    r"""\bsrc\s*[:=]\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//|(?<![\w.])url\(\s*["']?(?:https?:)?//"""
    r"|fonts\.googleapis|fonts\.gstatic|cdn\.redoc\.ly|cdn\.jsdelivr|unpkg\.com"
)


def test_redoc_page_and_its_script_name_no_other_host() -> None:
    resp = Client().get("/api/redoc/")
    assert resp.status_code == 200
    html = resp.content.decode()
    urls = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)""", html)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    scripts = re.findall(r"""<script[^>]*\bsrc=["']([^"']+)""", html)
    assert scripts == ["/static/vendor/redoc/redoc.standalone.js"], scripts
    path = finders.find("vendor/redoc/redoc.standalone.js")
    assert path, "the vendored ReDoc bundle is missing"
    with open(path, encoding="utf-8") as f:
        bundle = f.read()
    assert len(bundle) > 500_000 and "Redoc" in bundle  # the real bundle, not a stub
    assert [m.group(0) for m in FETCHED_FROM_OUTSIDE.finditer(bundle)] == []


def test_the_check_would_catch_the_unpatched_bundle() -> None:
    """The sidecar's original file loads the Redocly logo from its CDN: the pattern above finds it."""
    path = finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
    assert path
    with open(path, encoding="utf-8") as f:
        assert FETCHED_FROM_OUTSIDE.search(f.read())


def test_redoc_keeps_its_narrow_content_security_policy() -> None:
    csp = Client().get("/api/redoc/").headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["img-src"][:2] == ["'self'", "data:"] and "https:" not in directives["img-src"]
    assert directives.get("font-src", directives["default-src"]) == ["'self'"]
