"""Counts of the hostile probes, printed at the end of the run (`hostile probes: …`).

The walkers and schemathesis discover what they call by themselves, so how much they probed is a
figure worth seeing in every CI log: a walker that silently shrank would show here. Every request the
Django test client or WSGI handler starts inside one of these modules is counted, per module.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_started

PROBES = {
    "test_api_contract": "scope lists",
    "test_scope_walker": "scope walker",
    "test_anonymous_walker": "anonymous walker",
    "test_schemathesis": "schemathesis",
}
TALLY: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _count_probes(request: pytest.FixtureRequest) -> Iterator[None]:
    name = PROBES.get(request.module.__name__.rsplit(".", 1)[-1])
    if name is None:
        yield
        return

    def count(**kwargs: Any) -> None:
        TALLY[name] += 1

    request_started.connect(count, weak=False)
    try:
        yield
    finally:
        request_started.disconnect(count)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        figures = ", ".join(f"{name} {TALLY[name]}" for name in PROBES.values() if name in TALLY)
        terminalreporter.write_line(f"hostile probes (requests): {figures}")
