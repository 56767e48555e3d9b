from typing import Any

import pytest

from wangge.core import crypto
from wangge.core.masking import mask_id_number, mask_name, mask_phone
from wangge.core.scope import path_in_scope, user_scope_path


def test_masking():
    assert mask_id_number("420105199001011234") == "420105********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张*丰"
    assert mask_id_number("") == ""


def test_encrypt_roundtrip_and_key_rotation(settings):
    token = crypto.encrypt("420105199001011234")
    assert "420105199001011234" not in token and token.startswith("demo:")
    assert crypto.decrypt(token) == "420105199001011234"
    new = crypto.new_key()
    settings.WANGGE_ENCRYPTION_KEYS = [f"k2:{new}", settings.WANGGE_ENCRYPTION_KEYS[0]]
    assert crypto.decrypt(token) == "420105199001011234"  # old key still decrypts
    assert crypto.encrypt("x").startswith("k2:")
    assert crypto.digest("a") == crypto.digest("a") != crypto.digest("b")
    assert crypto.digest("") is None


@pytest.mark.django_db
def test_scope_paths(world):
    u = world.users
    assert user_scope_path(u.community1) == "420802001001"
    assert path_in_scope(u.grid1, "420802001001001")
    assert not path_in_scope(u.grid1, "420802001001002")
    assert user_scope_path(None) != ""


@pytest.mark.django_db
def test_audit_is_append_only(world):
    from django.db import connection

    from wangge.audit.models import AuditEntry

    entry = AuditEntry.objects.first()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    if connection.vendor == "postgresql":  # the database itself refuses too (trigger)
        from django.db import DatabaseError, transaction

        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE audit_auditentry SET action='x'")
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditentry")


def test_client_ip_trusts_forwarded_for_only_from_our_own_proxies(settings: Any) -> None:
    """A client-written X-Forwarded-For must not choose the address throttles and audit rows see."""
    from django.test import RequestFactory

    from wangge.core.middleware import client_ip

    forged = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    settings.WANGGE_PROXY_HOPS = 0
    assert client_ip(forged) == "10.0.0.9"
    # Behind one proxy that appends the address it saw: the right-most entry, not the forged first one.
    settings.WANGGE_PROXY_HOPS = 1
    chained = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert client_ip(chained) == "203.0.113.7"
    settings.WANGGE_PROXY_HOPS = 2
    assert client_ip(chained) == "1.2.3.4"
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"
