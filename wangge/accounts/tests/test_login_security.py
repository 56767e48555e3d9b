"""Sign-in security (issue item 10): throttling by account and by address (django-axes), audited
failures, and the TOTP second factor (django-otp) with per-role enforcement."""

import json
import time
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from wangge.accounts.models import RolePolicy
from wangge.accounts.roles import Role
from wangge.audit.models import AuditEntry
from wangge.conftest import PASSWORD, assert_error

TOKEN_URL = "/api/v1/auth/token/"
LOCKED_TEXT = "登录失败次数过多"


@pytest.fixture
def axes_on(settings: Any) -> Any:
    """Throttling as deployed (the suite runs with it off: the test client's login() has no request)."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 10
    settings.AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
    return settings


def page_login(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def api_login(username: str, password: str, ip: str = "10.0.0.1", **extra: str) -> Any:
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password, **extra}, format="json", REMOTE_ADDR=ip
    )


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` 30-second steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# ---- throttling ----------------------------------------------------------------------------------------


def test_page_refuses_the_right_password_after_50_wrong_ones(world: Any, axes_on: Any) -> None:
    client = Client()
    for _ in range(50):
        page_login(client, "grid1", "wrong-password")
    resp = page_login(client, "grid1", PASSWORD)
    assert resp.status_code == 429
    html = resp.content.decode()
    assert LOCKED_TEXT in html and "分钟后再试" in html
    assert int(resp["Retry-After"]) > 0
    assert not signed_in(client)
    # Locked by account: another address does not help either.
    assert page_login(Client(), "grid1", PASSWORD, ip="10.9.9.9").status_code == 429


def test_token_endpoint_refuses_the_right_password_after_50_wrong_ones(world: Any, axes_on: Any) -> None:
    for _ in range(50):
        resp = api_login("grid1", "wrong-password")
    body = assert_error(resp, 429, "login_locked")
    assert LOCKED_TEXT in body["message"]
    resp = api_login("grid1", PASSWORD)
    assert_error(resp, 429, "login_locked")
    assert "token" not in resp.json()


def test_lockout_by_address_across_usernames(world: Any, axes_on: Any) -> None:
    names = ["street1", "community1", "nobody", "dept1", "member1", "grid1", "x1", "x2", "x3", "x4"]
    for name in names:  # one wrong password each: no single account reaches the limit
        page_login(Client(), name, "wrong-password", ip="10.0.0.66")
    # The address is locked for every account, even with the right password …
    assert page_login(Client(), "grid2", PASSWORD, ip="10.0.0.66").status_code == 429
    assert_error(api_login("grid2", PASSWORD, ip="10.0.0.66"), 429, "login_locked")
    # … and the accounts themselves are not: from another address they sign in.
    resp = page_login(Client(), "grid2", PASSWORD, ip="10.0.0.77")
    assert resp.status_code == 302 and resp.url == reverse("home")


def test_failures_and_the_lockout_are_audited_without_the_password(world: Any, axes_on: Any) -> None:
    axes_on.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        page_login(Client(), "grid1", "Secret-Typo-1")
    api_login("grid1", "Secret-Typo-2")  # refused while locked: audited as such
    page_login(Client(), "no-such-user", "Secret-Typo-3", ip="10.0.0.99")
    failed = list(AuditEntry.objects.filter(action="auth.login_failed").order_by("id"))
    assert [(e.after["channel"], e.after["reason"]) for e in failed] == [
        ("page", "password"),
        ("page", "password"),
        ("page", "password"),
        ("api", "locked_out"),
        ("page", "password"),
    ]
    lockouts = AuditEntry.objects.filter(action="auth.lockout")
    assert lockouts.count() == 1
    first = failed[0]
    assert first.actor_id is None and first.ip == "10.0.0.1"
    assert first.object_repr == "g***1" and first.after["username"] == "g***1"  # masked as typed
    assert first.object_id == str(world.users.grid1.pk) and first.path == world.g111.path
    assert failed[-1].object_id == "" and failed[-1].path == ""  # unknown name: superusers only
    dumped = json.dumps(
        [[e.after, e.object_repr, e.reason] for e in AuditEntry.objects.all()], ensure_ascii=False
    )
    assert "Secret-Typo" not in dumped and "no-such-user" not in dumped


# ---- second factor ---------------------------------------------------------------------------------------


def test_totp_enrolment_then_login_asks_for_the_code(world: Any, axes_on: Any) -> None:
    staff = Client()
    staff.force_login(world.users.grid1)
    resp = staff.get(reverse("otp-setup"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'src="data:image/svg+xml' in html  # QR code drawn by the server, no outside host
    device = TOTPDevice.objects.get(user=world.users.grid1, confirmed=False)
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    assert secret[:4] + " " + secret[4:8] in html
    assert staff.get(reverse("otp-setup")).status_code == 200  # reopening shows the same secret
    assert TOTPDevice.objects.filter(user=world.users.grid1).count() == 1
    resp = staff.post(
        reverse("otp-setup"), {"otp_token": "000000" if code_for(device) != "000000" else "111111"}
    )
    assert resp.status_code == 400 and "动态口令不正确" in resp.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp delays the next try after a wrong code
    resp = staff.post(reverse("otp-setup"), {"otp_token": code_for(device)})
    assert resp.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEntry.objects.filter(action="auth.otp_enrolled", actor=world.users.grid1).exists()

    # Next sign-in: the right password is not enough …
    client = Client()
    resp = page_login(client, "grid1", PASSWORD)
    assert resp.status_code == 302 and resp.url == reverse("login-otp")
    assert not signed_in(client)
    assert client.get(reverse("home")).status_code == 302 and not signed_in(client)
    # … the code of the authenticator (the next step: the enrolment used this one) signs in.
    resp = client.post(
        reverse("login-otp"), {"otp_token": code_for(device, steps_ahead=1)}, REMOTE_ADDR="10.0.0.1"
    )
    assert resp.status_code == 302 and resp.url == reverse("home")
    assert signed_in(client)
    assert client.get(reverse("home")).url == reverse("map")


def test_token_endpoint_requires_the_code_of_an_enrolled_account(world: Any, axes_on: Any) -> None:
    axes_on.OTP_TOTP_THROTTLE_FACTOR = 0  # no growing delay between the tries below
    device = TOTPDevice.objects.create(user=world.users.grid1, name="t", confirmed=True)
    assert_error(api_login("grid1", PASSWORD), 400, "otp_required")
    wrong = "000000" if code_for(device) != "000000" else "111111"
    assert_error(api_login("grid1", PASSWORD, otp=wrong), 400, "otp_invalid")
    resp = api_login("grid1", PASSWORD, otp=code_for(device))
    assert resp.status_code == 200 and resp.json()["token"]


def test_wrong_codes_are_refused_counted_and_lock_out(world: Any, axes_on: Any) -> None:
    axes_on.AXES_FAILURE_LIMIT = 3
    axes_on.OTP_TOTP_THROTTLE_FACTOR = 0
    device = TOTPDevice.objects.create(user=world.users.grid1, name="t", confirmed=True)
    wrong = "000000" if code_for(device) != "000000" else "111111"
    client = Client()
    assert page_login(client, "grid1", PASSWORD).url == reverse("login-otp")
    for n in (1, 2):
        resp = client.post(reverse("login-otp"), {"otp_token": wrong}, REMOTE_ADDR="10.0.0.1")
        assert resp.status_code == 200 and "动态口令不正确" in resp.content.decode()
        assert sum(a.failures_since_start for a in AccessAttempt.objects.filter(username="grid1")) == n
    assert AuditEntry.objects.filter(action="auth.login_failed", after__reason="otp").count() == 2
    resp = client.post(reverse("login-otp"), {"otp_token": wrong}, REMOTE_ADDR="10.0.0.1")
    assert resp.status_code == 429 and LOCKED_TEXT in resp.content.decode()
    assert AuditEntry.objects.filter(action="auth.lockout").count() == 1
    # Locked: even the right code is not looked at.
    resp = client.post(reverse("login-otp"), {"otp_token": code_for(device)}, REMOTE_ADDR="10.0.0.1")
    assert resp.status_code == 429 and not signed_in(client)
    assert_error(api_login("grid1", PASSWORD, otp=code_for(device)), 429, "login_locked")


def test_session_without_the_code_of_an_enrolled_account_is_signed_out(world: Any) -> None:
    # E.g. signed in through the admin's own login form, which knows nothing of the second factor.
    TOTPDevice.objects.create(user=world.users.grid1, name="t", confirmed=True)
    client = Client()
    client.force_login(world.users.grid1)
    resp = client.get(reverse("map"))
    assert resp.status_code == 302 and resp.url.startswith(reverse("login"))
    assert not signed_in(client)


def require_otp_for(role: Role) -> None:
    RolePolicy.objects.update_or_create(
        group=Group.objects.get(name=role.label), defaults={"otp_required": True}
    )


def test_second_factor_is_off_for_every_role_by_default(world: Any) -> None:
    names = {str(r.label) for r in Role}
    policies = RolePolicy.objects.filter(group__name__in=names)
    assert policies.count() == len(names)
    assert not policies.filter(otp_required=True).exists()


def test_required_role_without_device_is_sent_to_enrolment_first(world: Any) -> None:
    require_otp_for(Role.GRID_WORKER)
    client = Client()
    resp = page_login(client, "grid1", PASSWORD)
    assert resp.status_code == 302 and signed_in(client)
    for name in ("home", "map", "resident-list", "me"):
        resp = client.get(reverse(name))
        assert resp.status_code == 302 and resp.url == reverse("otp-setup"), name
    resp = client.get(reverse("otp-setup"))
    assert resp.status_code == 200 and "须使用动态口令" in resp.content.decode()
    # Session calls to the API get a clear code too.
    body = assert_error(client.get("/api/v1/territories/"), 403, "otp_enrolment_required")
    assert "动态口令" in body["message"]
    # Other roles are not affected.
    other = Client()
    page_login(other, "community1", PASSWORD)
    assert other.get(reverse("home")).url == reverse("map")


def test_token_endpoint_refuses_required_role_without_device(world: Any) -> None:
    require_otp_for(Role.GRID_WORKER)
    assert_error(api_login("grid1", PASSWORD), 403, "otp_enrolment_required")
    assert api_login("community1", PASSWORD).status_code == 200
    # Once enrolled, the code is what is asked for.
    device = TOTPDevice.objects.create(user=world.users.grid1, name="t", confirmed=True)
    resp = api_login("grid1", PASSWORD, otp=code_for(device))
    assert resp.status_code == 200 and resp.json()["token"]


def test_admin_edits_the_second_factor_of_a_role(world: Any) -> None:
    from wangge.accounts.models import User

    boss = User.objects.create_superuser("root", password=PASSWORD)
    # Tokens taken on the password alone before the role required the code: grid1 has no device and
    # loses its token; grid2 has one (its token was issued with the code) and keeps it.
    stale = api_login("grid1", PASSWORD).json()["token"]
    TOTPDevice.objects.create(user=world.users.grid2, name="t", confirmed=True)
    kept, _ = Token.objects.get_or_create(user=world.users.grid2)
    client = Client()
    client.force_login(boss)
    group = Group.objects.get(name=Role.GRID_WORKER.label)
    url = reverse("admin:auth_group_change", args=[group.pk])
    resp = client.get(url)
    assert resp.status_code == 200 and "登录须使用动态口令" in resp.content.decode()
    form = resp.context["adminform"].form
    data = {
        "name": group.name,
        "permissions": [p.pk for p in form.initial["permissions"]],
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "1",
        "policy-MIN_NUM_FORMS": "1",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-id": str(group.policy.pk),
        "policy-0-group": str(group.pk),
        "policy-0-otp_required": "on",
    }
    resp = client.post(url, data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    assert RolePolicy.objects.get(group=group).otp_required
    assert APIClient(HTTP_AUTHORIZATION=f"Token {stale}").get("/api/v1/territories/").status_code == 401
    assert Token.objects.filter(key=kept.key).exists()
    row = AuditEntry.objects.get(action="auth.role_policy")
    assert row.after == {"otp_required": True, "api_tokens_revoked": 1}


def test_enrolment_revokes_the_api_token_issued_on_the_password_alone(world: Any) -> None:
    # A token taken before the authenticator was bound must not keep working without the code: the API
    # checks the second factor only when a token is issued.
    resp = api_login("grid1", PASSWORD)
    old = resp.json()["token"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {old}").get("/api/v1/territories/").status_code == 200
    staff = Client()
    staff.force_login(world.users.grid1)
    staff.get(reverse("otp-setup"))
    device = TOTPDevice.objects.get(user=world.users.grid1, confirmed=False)
    assert staff.post(reverse("otp-setup"), {"otp_token": code_for(device)}).status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Token {old}").get("/api/v1/territories/").status_code == 401
    # A new token needs the code, and is a different one.
    resp = api_login("grid1", PASSWORD, otp=code_for(device, steps_ahead=1))
    assert resp.status_code == 200 and resp.json()["token"] != old


def test_the_admin_signs_in_through_the_sites_login_page(world: Any) -> None:
    # The admin's stock form knows nothing of the second factor and audits no failure: it is not served.
    anonymous = Client()
    resp = anonymous.get("/admin/")
    assert resp.status_code == 302
    resp = anonymous.get(resp["Location"])
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("login"))
    assert "next=/admin/" in resp["Location"]
    posted = anonymous.post("/admin/login/", {"username": "admin", "password": PASSWORD})
    assert posted.status_code == 302 and "_auth_user_id" not in anonymous.session
    # Signed in but not staff: refused, not sent round in a circle.
    resident = Client()
    resident.force_login(world.users.resident1)
    assert resident.get("/admin/login/", {"next": "/admin/"}).status_code == 403
