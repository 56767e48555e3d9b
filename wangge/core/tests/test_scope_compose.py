"""Scope filters compose with `|` and `&` for every role, the superuser included.

An empty `Q()` is dropped by `|`, so a superuser's "everything" OR'ed with "mine" used to become just
"mine": the admin's whistle board showed 0 of 18 whistles and the import list 2 of 14 jobs.
"""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q

from wangge.accounts.models import User
from wangge.core.scope import q_everything, q_nothing, scope_q
from wangge.events.models import Event, HandlingUnit
from wangge.events.selectors import visible_q
from wangge.events.tests.clock_helpers import make_event
from wangge.events.workflow import whistle
from wangge.exchange.models import ImportJob
from wangge.exchange.selectors import import_jobs_visible
from wangge.territory.models import Territory

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def root(world: Any) -> Any:
    return User.objects.create_superuser(username="root", password="root-pass-123")


def test_scope_q_of_every_kind_of_user_composes(world: Any, root: Any) -> None:
    grids = Territory.objects.filter(level="grid")
    one = Q(code=world.g211.code)
    # The superuser's "everything" OR'ed with a narrower condition is still everything.
    assert grids.filter(scope_q(root, "code") | one).count() == 4
    assert grids.filter(scope_q(root, "code") & one).count() == 1
    # A grid worker's own grid, or-ed with another one: both.
    assert grids.filter(scope_q(world.users.grid1, "code") | one).count() == 2
    # An account without territory sees nothing, and "nothing | x" is x.
    nobody = User.objects.create_user(username="nobody", password="x-pass-123")
    assert grids.filter(scope_q(nobody, "code")).count() == 0
    assert grids.filter(scope_q(nobody, "code") | one).count() == 1
    assert grids.filter(q_everything() | q_nothing()).count() == 4
    assert grids.filter(q_everything() & q_nothing()).count() == 0
    assert grids.filter(~q_everything()).count() == 0


def test_events_visible_q_composes_for_the_superuser(world: Any, root: Any) -> None:
    start = datetime(2025, 9, 29, 9, tzinfo=TZ)
    make_event(world, start=start, grid=world.g111)
    make_event(world, start=start, grid=world.g211)
    assert Event.objects.filter(visible_q(root) | Q(pk__in=[])).count() == 2
    assert Event.objects.filter(visible_q(root) | Q(handler_user=world.users.grid1)).count() == 2


def test_superuser_whistle_board_and_blowing(world: Any, root: Any, api_for: Any) -> None:
    start = datetime(2025, 9, 29, 9, tzinfo=TZ)
    law = HandlingUnit.objects.create(
        name="综合行政执法中队", kind="enforcement", territory=world.s1, path=world.s1.code
    )
    far = HandlingUnit.objects.create(
        name="第二街道司法所", kind="department", territory=world.s2, path=world.s2.code
    )
    e1 = make_event(world, start=start, grid=world.g111, handler_user=world.users.grid1)
    e2 = make_event(world, start=start, grid=world.g211)
    whistle.whistle_blow(event_id=e1.pk, actor=world.users.community1, unit_ids=[law.pk], note="请执法到场")
    whistle.whistle_blow(event_id=e2.pk, actor=world.users.admin, unit_ids=[far.pk], note="请司法所到场")

    assert whistle.whistle_queryset(user=root).count() == 2
    assert whistle.whistle_queryset(user=world.users.admin).count() == 2
    assert whistle.whistle_queryset(user=world.users.community1).count() == 1

    # Blowing as the superuser answers 201 with the whistle it stored (it used to be a 500 after storing).
    e3 = make_event(world, start=start, grid=world.g112)
    r = api_for(root).post(f"/api/v1/events/{e3.pk}/whistle/", {"unit_ids": [law.pk], "note": "到场"})
    assert r.status_code == 201, r.content[:400]
    assert r.json()["event"]["id"] == e3.pk
    board = api_for(root).get("/api/v1/whistles/")
    assert board.status_code == 200
    body = board.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    assert len(rows) == 3


def test_superuser_sees_every_import_job(world: Any, root: Any) -> None:
    for user in (world.users.grid1, world.users.community2, world.users.street2, root):
        ImportJob.objects.create(
            kind="residents",
            file="imports/x.xlsx",
            original_name="x.xlsx",
            created_by=user,
            path=user.territory.path if user.territory else "",
        )
    assert import_jobs_visible(root).count() == 4
    assert import_jobs_visible(world.users.admin).count() == 3  # the superuser's own (path "") is not his
    assert import_jobs_visible(world.users.community1).count() == 1  # grid1's job, inside c11
