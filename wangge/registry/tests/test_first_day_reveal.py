"""Issue 18 A10c: the reveal reason's 500-character limit holds on the server, with a clear message."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from wangge.accounts.tests.pages_data import make_register
from wangge.audit.models import AuditEntry
from wangge.core.errors import InvalidInput
from wangge.registry.services import REVEAL_REASON_MAX, resident_reveal


@pytest.fixture
def reg(world: Any) -> Any:
    return make_register(world)


def test_a_long_reason_is_refused_and_nothing_is_revealed_or_audited(reg: Any, world: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        resident_reveal(actor=world.users.grid1, resident=reg.zhang, field="id_number", reason="核" * 10_000)
    assert exc.value.code == "reason_too_long"
    assert exc.value.message == "查看理由不能超过500字（现在10000字）"
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()
    # Exactly at the limit is accepted and audited whole.
    value = resident_reveal(
        actor=world.users.grid1, resident=reg.zhang, field="id_number", reason="核" * REVEAL_REASON_MAX
    )
    assert value == reg.zhang_id
    assert AuditEntry.objects.get(action="resident.reveal").reason == "核" * REVEAL_REASON_MAX


def test_the_page_shows_the_message_and_keeps_the_value_hidden(reg: Any, world: Any) -> None:
    c = Client()
    c.force_login(world.users.grid1)
    url = reverse("resident-reveal", args=[reg.zhang.pk])
    resp = c.post(url, {"field": "id_number", "reason": "入户" * 5000}, HTTP_HX_REQUEST="true")
    html = resp.content.decode()
    assert "查看理由不能超过500字（现在10000字）" in html and reg.zhang_id not in html
    # The input shows a counter instead of a maxlength that would cut pasted text silently.
    assert 'data-maxlength="500"' in html and ' maxlength="500"' not in html
    assert not AuditEntry.objects.filter(action="resident.reveal").exists()
