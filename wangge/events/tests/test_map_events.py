"""The grid map's events layer: open events in the caller's scope, bounded, coloured by warning."""

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from wangge.events import selectors
from wangge.events.models import Event, Status, Warning
from wangge.events.tests.core_helpers import G111, G112, G211, report, staff


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _get(user: Any, **params: str) -> Any:
    return client_for(user).get(reverse("event-map"), params)


def _titles(data: dict[str, Any]) -> set[str]:
    return {f["properties"]["title"] for f in data["features"]}


@pytest.fixture
def events(world: Any) -> dict[str, Event]:
    staff(world)
    return {
        "a": report("一号网格路灯不亮了，晚上很黑", at=G111),
        "b": report("二号网格下水道堵了，污水漫出来", at=G112),
        "c": report("西山网格垃圾没人清运，味道很大", at=G211),
    }


def test_grid_worker_sees_only_their_grids_open_events(world: Any, events: dict[str, Event]) -> None:
    r = _get(world.users.grid1)
    assert r.status_code == 200
    data = r.json()
    assert {f["properties"]["id"] for f in data["features"]} == {events["a"].pk}
    assert data["total"] == 1 and data["shown"] == 1
    f = data["features"][0]
    assert f["geometry"]["coordinates"] == [events["a"].lng, events["a"].lat]
    assert f["properties"]["url"] == reverse("event-detail", args=[events["a"].pk])
    assert f["properties"]["status"] and f["properties"]["light"] == "green"
    # community staff of c11: both of its grids, not street 2's
    ids = {f["properties"]["id"] for f in _get(world.users.community1).json()["features"]}
    assert ids == {events["a"].pk, events["b"].pk}


def test_closed_events_are_not_on_the_map(world: Any, events: dict[str, Event]) -> None:
    closed = Status.objects.filter(is_closed=True).first()
    assert closed is not None
    Event.objects.filter(pk=events["a"].pk).update(status=closed)
    assert _get(world.users.grid1).json()["features"] == []


def test_lights_follow_warning_and_deadlines(world: Any, events: dict[str, Event]) -> None:
    now = timezone.now()
    Event.objects.filter(pk=events["a"].pk).update(warning=Warning.RED)
    Event.objects.filter(pk=events["b"].pk).update(
        warning=Warning.NONE, warn_at=now - timedelta(hours=1), deadline=now + timedelta(hours=1)
    )
    lights = {
        f["properties"]["id"]: f["properties"]["light"]
        for f in _get(world.users.community1).json()["features"]
    }
    assert lights == {events["a"].pk: "red", events["b"].pk: "yellow"}


def test_bounded_newest_first_with_a_count_of_the_rest(
    world: Any, events: dict[str, Event], monkeypatch: Any
) -> None:
    monkeypatch.setattr(selectors, "MAP_MAX_EVENTS", 2)
    data = _get(world.users.admin).json()
    assert data["total"] == 3 and data["shown"] == 2
    assert {f["properties"]["id"] for f in data["features"]} == {events["b"].pk, events["c"].pk}


def test_bbox_narrows_the_events(world: Any, events: dict[str, Event]) -> None:
    lat, lng = G112
    data = _get(world.users.admin, bbox=f"{lng - 0.001},{lat - 0.001},{lng + 0.001},{lat + 0.001}").json()
    assert {f["properties"]["id"] for f in data["features"]} == {events["b"].pk}
    assert data["total"] == 1


@pytest.mark.parametrize("bbox", ["x", "1,2,3", "112.3,31,112.2,31.1", "inf,1,2,3"])
def test_bad_bbox_is_400(world: Any, bbox: str) -> None:
    r = _get(world.users.grid1, bbox=bbox)
    assert r.status_code == 400
    assert r.json()["code"] == "bbox_invalid" and r.json()["message"]


@pytest.mark.parametrize("who", ["resident1", "member1"])
def test_residents_get_no_event_layer(world: Any, events: dict[str, Event], who: str) -> None:
    assert _get(getattr(world.users, who)).status_code == 403


def _focus_names(html: str) -> set[str] | None:
    m = re.search(r'<script id="grid-focus" type="application/json">(.*?)</script>', html, re.S)
    return None if m is None else {f["properties"]["name"] for f in json.loads(m.group(1))["features"]}


def test_patrol_map_opens_on_the_workers_own_grid_and_does_not_locate_by_itself(world: Any) -> None:
    html = client_for(world.users.grid1).get(reverse("event-patrol")).content.decode()
    assert _focus_names(html) == {"六合第一网格"}
    assert 'data-focus="grid-focus"' in html
    assert "data-auto-locate" not in html
    html = client_for(world.users.community1).get(reverse("event-patrol")).content.decode()
    assert _focus_names(html) == {"六合第一网格", "六合第二网格"}
    # the district keeps the whole district's outlines
    assert _focus_names(client_for(world.users.admin).get(reverse("event-patrol")).content.decode()) is None
