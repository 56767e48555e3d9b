"""`wangge check --deploy`: silent for a production environment, loud for the demo defaults (item 11)."""

from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from wangge.core.tests.settings_env import PRODUCTION_ENV, settings_under

HTTPS_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


@pytest.fixture(autouse=True)
def _no_async_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their process, which `check --deploy` reports
    # (async.E001); it is never set in a deployment.
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)


def deploy_warnings() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True) if not m.is_silenced()}


def test_production_environment_passes_check_deploy_without_a_warning() -> None:
    with override_settings(**settings_under(PRODUCTION_ENV)):
        assert deploy_warnings() == set()
        out = StringIO()
        # fail_level=WARNING: any warning at all raises SystemCheckError.
        call_command("check", deploy=True, fail_level="WARNING", stdout=out, stderr=out)
        assert "no issues" in out.getvalue()


def test_demo_defaults_warn() -> None:
    with override_settings(**settings_under({})):
        found = deploy_warnings()
        assert HTTPS_WARNINGS <= found
        assert {"wangge.W001", "wangge.W002", "wangge.W003", "wangge.W010"} <= found
        with pytest.raises(SystemCheckError):
            call_command("check", deploy=True, fail_level="WARNING", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(
    "change,warning",
    [
        ({"WANGGE_HTTPS": "false"}, "security.W012"),
        ({"WANGGE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"WANGGE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"WANGGE_HSTS_INCLUDE_SUBDOMAINS": "false"}, "security.W005"),
        ({"WANGGE_PUBLIC_API_DOCS": "true"}, "wangge.W010"),
    ],
)
def test_each_setting_brings_its_warning_back(change: dict[str, str], warning: str) -> None:
    with override_settings(**settings_under({**PRODUCTION_ENV, **change})):
        assert warning in deploy_warnings()


def test_https_switch_sets_the_secure_settings() -> None:
    prod = settings_under(PRODUCTION_ENV)
    assert prod["SESSION_COOKIE_SECURE"] is True and prod["CSRF_COOKIE_SECURE"] is True
    assert prod["SECURE_SSL_REDIRECT"] is True and prod["SECURE_HSTS_SECONDS"] == 31536000
    assert prod["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    demo = settings_under({})
    assert demo["SESSION_COOKIE_SECURE"] is False and demo["CSRF_COOKIE_SECURE"] is False
    assert demo["SECURE_SSL_REDIRECT"] is False and demo["SECURE_HSTS_SECONDS"] == 0
    assert "SECURE_PROXY_SSL_HEADER" not in demo
    assert settings_under({**PRODUCTION_ENV, "WANGGE_HSTS_SECONDS": "600"})["SECURE_HSTS_SECONDS"] == 600
    for spelling in ("X-Forwarded-Proto=https", "x_forwarded_proto", "HTTP_X_FORWARDED_PROTO"):
        header = settings_under({**PRODUCTION_ENV, "WANGGE_PROXY_SSL_HEADER": spelling})[
            "SECURE_PROXY_SSL_HEADER"
        ]
        assert header == ("HTTP_X_FORWARDED_PROTO", "https"), spelling


def test_hsts_preload_check_is_silenced_only_while_preload_is_off() -> None:
    # W021 asks for "preload", which only a public host can use; it is silenced through the setting.
    assert "security.W021" in settings_under(PRODUCTION_ENV)["SILENCED_SYSTEM_CHECKS"]
    on = settings_under({**PRODUCTION_ENV, "WANGGE_HSTS_PRELOAD": "true"})
    assert on["SECURE_HSTS_PRELOAD"] is True and "security.W021" not in on["SILENCED_SYSTEM_CHECKS"]
    with override_settings(**on):
        assert deploy_warnings() == set()


def test_page_sessions_end_by_themselves() -> None:
    # Django's default is two weeks; a signed-in page on a shared PC or a lost phone must not last that long.
    assert settings_under(PRODUCTION_ENV)["SESSION_COOKIE_AGE"] == 12 * 3600
    assert settings_under({**PRODUCTION_ENV, "WANGGE_SESSION_HOURS": "2"})["SESSION_COOKIE_AGE"] == 7200
