"""The code built on Django internals for speed, in one place (README.md beside this file).

Each piece reaches below Django's public API (compilers, `InsertQuery`, `from_db`, the backend's health
check, DRF's view attributes); it was checked against the Django version below, and a test
(`tests/test_version.py`) and a system check (wangge.W030) fail or warn when another one is installed.
"""

import os

import django

# The Django release these pieces were read against and tested with. Upgrading Django: read the
# internals each piece names in README.md against the new release, run the tests here, then bump this.
CHECKED_DJANGO = (5, 2, 20)

# The pieces one can switch off, for paired benches only (bench/intake/fastpath.py): each is
# answered by the ordinary Django path when off. Read once at start-up.
PIECES = frozenset({"prepared", "insert_family", "related_json", "plain_get"})
_OFF = frozenset(p.strip() for p in os.environ.get("WANGGE_FAST_PATH_OFF", "").split(",") if p.strip())


def enabled(piece: str) -> bool:
    """False when the bench switched `piece` off (WANGGE_FAST_PATH_OFF=piece,…); True otherwise."""
    if piece not in PIECES:
        raise ValueError(f"unknown fast-path piece {piece!r}")
    return piece not in _OFF


def django_is_checked() -> bool:
    return tuple(django.VERSION[:3]) == CHECKED_DJANGO
