"""Deterministic demo data, one module per domain, run in order by `generate`.

Each step is `step(ctx)`; it draws from its own random stream (`ctx.rng("<domain>")`) and may read
what earlier steps left on the context. To add a domain (events, in a later issue), write
`generators/events.py` with `generate(ctx)` and append it to STEPS: the other domains stay identical.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from django.db import transaction

from wangge.audit.services import audit_record

from . import accounts, events, housing, organisations, party, people, places, territory
from .base import DemoContext

STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("territory", territory.generate),
    ("households", people.plan),
    ("housing", housing.generate),
    ("residents", people.generate),
    ("places", places.generate),
    ("organisations", organisations.generate),
    ("party", party.generate),
    ("accounts", accounts.generate),
    ("events", events.generate),
]


def generate(
    *,
    seed: int,
    residents: int,
    today: date,
    password: str,
    log: Callable[[str], None] | None = None,
    events: int | None = None,
) -> DemoContext:
    """Fill an empty database with the demo district; all or nothing (one transaction)."""
    ctx = DemoContext(
        seed=seed,
        residents=residents,
        today=today,
        password=password,
        log=log or (lambda s: None),
        events=events,
    )
    with transaction.atomic():
        for name, step in STEPS:
            started = time.perf_counter()
            step(ctx)
            ctx.log(f"  {name:<14} {time.perf_counter() - started:6.2f} s")
        audit_record(
            actor=None,
            action="demo.generate",
            path=ctx.district.code,
            after={
                "seed": seed,
                "residents": residents,
                "events": events,
                "today": today.isoformat(),
                "counts": ctx.counts,
            },
        )
    return ctx
