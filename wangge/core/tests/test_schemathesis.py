"""Schema-driven fuzzing of the whole API (schemathesis): no server errors, and answers as documented.

The schema is loaded from the app in-process (/api/schema/), every operation is called through the
WSGI app with generated parameters and bodies, as a district admin and as a grid worker (token auth),
and each answer is checked: not a 5xx, a documented status code, a body that matches the documented
schema. Requests run in this test's database transaction (same thread, same connection), so whatever
they write is rolled back with the test.

Bounded for CI (`make test` runs it on SQLite and on PostgreSQL on a 2-core machine): a fixed number of
examples per operation, derandomized, no shrinking, no example database (nothing written to the repo).
Path ids are drawn partly from objects that exist, so detail endpoints are exercised beyond 404.
"""

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from wangge.core.tests.inprocess import keep_test_connection
from wangge.events.tests.test_dedupe import make_event
from wangge.registry.services import resident_create, resident_move_in
from wangge.registry.tests.factories import make_building, make_dwelling, make_id

MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
PATH_ID = re.compile(r"^(/api/v1/[^{}]+?/)\{(\w+)\}/")
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_home_outside_the_repo(tmp_path_factory: Any) -> Iterator[None]:
    # Even without an example database Hypothesis caches data in ./.hypothesis: keep it in a tmp dir.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture
def small_world(world: Any) -> Any:
    """`world` plus a few objects for the detail endpoints: buildings, dwellings, residents, events."""
    b1 = make_building(world.g111, "B1", lat=31.0325, lng=112.2025)
    make_building(world.g121, "C1")
    dwellings = [make_dwelling(b1, room) for room in ("101", "102", "201", "商铺A")]
    for n, d in enumerate(dwellings[:2]):
        r = resident_create(
            actor=world.users.admin,
            name=f"居民{n}",
            id_number=make_id(date(1970, 1, 1 + n), seq=11 + 2 * n),
            grid=world.g111,
        )
        resident_move_in(actor=world.users.admin, resident=r, dwelling=d, on=date(2025, 1, 1))
    make_event(world, "楼道灯坏了需要维修")
    make_event(world, "邻里因为漏水吵架，需要调解", category="0601")
    make_event(world, "小区门口垃圾满了", col=2, grid=world.g121)
    return world


def _existing_ids(client: Any, list_url: str) -> list[int]:
    response = client.get(list_url, {"page_size": 20})
    if response.status_code != 200:
        return []
    body = response.json()
    rows = body.get("results", []) if isinstance(body, dict) else body
    return [row["id"] for row in rows if isinstance(row, dict) and isinstance(row.get("id"), int)][:20]


def _strategy(operation: Any, ids_for: dict[str, list[int]]) -> Any:
    """Generated cases; for a `/<resource>/{id}/...` path, half of them with an id that exists."""
    generated = operation.as_strategy()
    match = PATH_ID.match(operation.path)
    ids = ids_for.get(match.group(1), []) if match else []
    if not ids:
        return generated
    name = match.group(2)  # type: ignore[union-attr]
    existing = st.sampled_from(ids).flatmap(lambda i: operation.as_strategy(path_parameters={name: i}))
    return st.one_of(existing, generated)


def _failures(schema: Any, headers: dict[str, str], ids_for: dict[str, list[int]]) -> Iterator[str]:
    for result in schema.get_all_operations():
        operation = result.ok()

        @HYPOTHESIS
        @given(case=_strategy(operation, ids_for))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis FailureGroup is a BaseExceptionGroup
            yield f"{operation.label}: {exc}"


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "grid1"])
def test_api_answers_as_documented(small_world: Any, api_for: Any, settings: Any, who: str) -> None:
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI transport sends Host: localhost
    user = getattr(small_world.users, who)
    client = api_for(user)
    with keep_test_connection():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    prefixes = {m.group(1) for path in schema.raw_schema["paths"] if (m := PATH_ID.match(path))}
    ids_for = {prefix: _existing_ids(client, prefix) for prefix in prefixes}
    token = Token.objects.get(user=user).key
    try:
        with keep_test_connection():
            failures = list(_failures(schema, {"Authorization": f"Token {token}"}, ids_for))
    finally:
        cache.clear()  # request throttles kept in the cache must not reach the next test
    assert not failures, "\n\n".join(failures)
