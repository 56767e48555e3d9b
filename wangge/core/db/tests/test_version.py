"""The fast paths of core.db were read against one Django release; another one must be checked again."""

from typing import Any

import django
import pytest
from django.core.checks import run_checks

from wangge.core.db import CHECKED_DJANGO, django_is_checked
from wangge.core.db.checks import django_version_checked


def test_the_installed_django_is_the_one_this_code_was_checked_against() -> None:
    assert tuple(django.VERSION[:3]) == CHECKED_DJANGO, (
        f"Django {django.get_version()} is installed; wangge/core/db was checked against "
        f"{'.'.join(map(str, CHECKED_DJANGO))}. Check each piece's internals (README.md) and bump CHECKED_DJANGO."
    )


def test_another_django_release_gets_a_warning_at_start(monkeypatch: Any) -> None:
    assert django_version_checked(None) == []
    assert "wangge.W030" not in [m.id for m in run_checks()]
    monkeypatch.setattr(django, "VERSION", (5, 2, CHECKED_DJANGO[2] + 1, "final", 0))
    assert not django_is_checked()
    assert [m.id for m in django_version_checked(None)] == ["wangge.W030"]
    assert "wangge.W030" in [m.id for m in run_checks()]


@pytest.mark.parametrize("piece", ["prepared", "plain_get"])
def test_every_piece_is_on_unless_a_bench_switches_it_off(piece: str) -> None:
    from wangge.core.db import enabled

    assert enabled(piece)
    with pytest.raises(ValueError):
        enabled("no-such-piece")
