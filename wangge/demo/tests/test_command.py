"""`wangge demo`: determinism, --if-empty, refusal of a non-empty database, the login table."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from wangge.demo.generators import people
from wangge.demo.generators.base import DemoContext
from wangge.registry.models import Resident
from wangge.territory.models import Territory

from .helpers import data_digest

pytestmark = pytest.mark.django_db

ARGS = ["--residents", "250", "--today", "2025-06-15"]


def _run(*extra: str) -> str:
    out = StringIO()
    call_command("demo", *ARGS, *extra, stdout=out)
    return out.getvalue()


def _fresh_run(seed: str) -> str:
    """Generate into an empty database, take the digest, and roll everything back."""
    with transaction.atomic():
        _run("--seed", seed, "--quiet")
        digest = data_digest()
        transaction.set_rollback(True)
    assert not Territory.objects.exists()
    return digest


def test_same_seed_gives_identical_data():
    assert _fresh_run("7") == _fresh_run("7")


def test_another_seed_or_day_gives_other_people():
    def plan(seed: int, today: date) -> list[tuple]:
        ctx = DemoContext(seed=seed, residents=300, today=today, password="x")
        people.plan(ctx)
        return [(m.name, m.id_number, m.birth) for hh in ctx.households for m in hh.members]

    day = date(2025, 6, 15)
    assert plan(7, day) == plan(7, day)
    assert plan(7, day) != plan(8, day)
    # The same people, born one day earlier: ages stay right relative to the reference day.
    later = plan(7, day + timedelta(days=1))
    assert [(n, b + timedelta(days=1)) for n, _, b in plan(7, day)] == [(n, b) for n, _, b in later]


def test_if_empty_is_idempotent_and_still_prints_logins():
    out = _run("--seed", "3")
    assert "admin" in out and "grid2" in out and "demo12345" in out
    before = (Territory.objects.count(), Resident.objects.count(), data_digest())
    assert before[1] == 250

    again = _run("--seed", "3", "--if-empty")
    assert "跳过" in again
    assert "community1" in again and "六合社区" in again
    assert (Territory.objects.count(), Resident.objects.count(), data_digest()) == before

    quiet = _run("--seed", "3", "--if-empty", "--quiet")
    assert "跳过" not in quiet and "resident1" in quiet

    with pytest.raises(CommandError):
        _run("--seed", "3")
