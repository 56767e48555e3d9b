"""Fixtures shared by the events tests (the `world` fixture is in wangge/conftest.py)."""

from datetime import date
from typing import Any

import pytest

from wangge.events.models import Event
from wangge.registry.services import resident_create
from wangge.registry.tests.factories import make_id

from .test_dedupe import make_event


@pytest.fixture
def dispute(world: Any) -> Event:
    """An open dispute event (矛盾纠纷) in grid g111."""
    return make_event(world, "邻里因为漏水吵架，需要调解", category="0601")


@pytest.fixture
def residents(world: Any) -> tuple[Any, Any]:
    """A resident in g111 (community1's) and one in g121 (community2's)."""
    here = resident_create(
        actor=world.users.community1,
        name="张三丰",
        id_number=make_id(date(1960, 5, 1), seq=11),
        grid=world.g111,
    )
    elsewhere = resident_create(
        actor=world.users.community2,
        name="王五",
        id_number=make_id(date(1970, 1, 2), seq=21),
        grid=world.g121,
    )
    return here, elsewhere
