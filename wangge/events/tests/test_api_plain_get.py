"""GET /api/v1/events/{id}/ answered in front of DRF (api/plain_get.py): the same bytes and headers as
DRF's answer, and DRF's own answer for everything that is not a plain token-authenticated JSON GET."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from wangge.conftest import assert_error
from wangge.events.api.views_core import EventViewSet
from wangge.events.models import TimelineEntry
from wangge.events.services import event_transition
from wangge.events.tests.core_helpers import G112, report, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def drf_calls(monkeypatch: Any) -> list[str]:
    """The methods of the requests that reached the DRF view."""
    calls: list[str] = []
    original = EventViewSet.dispatch

    def spy(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(request.method)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(EventViewSet, "dispatch", spy)
    return calls


def _headers(response: Any) -> dict[str, str]:
    return dict(response.headers.items())


def test_a_plain_get_is_answered_with_drfs_bytes_and_headers(
    world: Any, api_for: Any, drf_calls: list
) -> None:
    staff(world)
    event = report()
    event_transition(event_id=event.pk, target="accepted", actor=world.users.grid1, note="属实")
    TimelineEntry.objects.create(event=event, action="note", note="补记", data={"likely_duplicate": None})
    client = api_for(world.users.grid1)

    plain = client.get(f"/api/v1/events/{event.pk}/")
    assert plain.status_code == 200 and drf_calls == []  # not through DRF
    # The same request made DRF's by an Accept header it has to negotiate.
    drf = client.get(f"/api/v1/events/{event.pk}/", HTTP_ACCEPT="application/json, text/plain;q=0.5")
    assert drf.status_code == 200 and drf_calls == ["GET"]
    assert plain.content == drf.content
    assert _headers(plain) == _headers(drf)
    body = plain.json()
    assert body["id"] == event.pk and body["status"]["code"] == "accepted"
    assert [t["action"] for t in body["timeline"]][-1] == "note" and len(body["deadlines"]) == 2
    for accept in ("*/*", "application/json"):
        again = client.get(f"/api/v1/events/{event.pk}/", HTTP_ACCEPT=accept)
        assert again.content == plain.content
    assert drf_calls == ["GET"]


def test_in_english_too(world: Any, api_for: Any, drf_calls: list) -> None:
    event = report()
    client = api_for(world.users.admin)
    # English is chosen with the language switch (its cookie), never by Accept-Language (issue 18 A4).
    client.cookies["django_language"] = "en"
    plain = client.get(f"/api/v1/events/{event.pk}/")
    drf = client.get(f"/api/v1/events/{event.pk}/?format=json")
    assert drf_calls == ["GET"] and plain.content == drf.content
    assert plain.headers["Content-Language"] == "en" and _headers(plain) == _headers(drf)


def test_everything_else_goes_to_drf(world: Any, api_for: Any, drf_calls: list) -> None:
    staff(world)
    mine, theirs = report(), report("路灯坏了好几天", at=G112)
    url = f"/api/v1/events/{mine.pk}/"
    grid1 = api_for(world.users.grid1)
    expected = grid1.get(url).content
    assert drf_calls == []

    # Outside the caller's scope, unknown, or not an id the route takes: DRF's 404.
    assert_error(grid1.get(f"/api/v1/events/{theirs.pk}/"), 404, "not_found")
    assert_error(grid1.get("/api/v1/events/999999999/"), 404, "not_found")
    assert_error(grid1.get("/api/v1/events/99999999999999999999/"), 404, "not_found")
    assert drf_calls == ["GET"] * 3

    # No credentials, a wrong token, a malformed header, an inactive account: DRF's 401.
    anonymous = APIClient()
    assert_error(anonymous.get(url), 401)
    for header in ("Token nosuchkey", "Token a b", "Token", "Bearer x"):
        assert_error(anonymous.get(url, HTTP_AUTHORIZATION=header), 401)
    inactive = api_for(world.users.grid2)
    world.users.grid2.is_active = False
    world.users.grid2.save(update_fields=["is_active"])
    assert_error(inactive.get(url), 401)
    assert len(drf_calls) == 9

    # A session (the pages' login) is DRF's to check.
    session = APIClient()
    session.force_login(world.users.grid1)
    r = session.get(url)
    assert r.status_code == 200 and r.content == expected and len(drf_calls) == 10

    # Query strings, another format, another method: DRF.
    assert grid1.get(url, {"format": "json"}).content == expected
    assert grid1.get(url, {"x": "1"}).content == expected
    html = grid1.get(url, HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert grid1.head(url).status_code == 200
    assert_error(grid1.post(url, {}, format="json"), 405)
    assert_error(grid1.delete(url), 405)
    assert drf_calls[10:] == ["GET", "GET", "GET", "HEAD", "POST", "DELETE"]


def test_the_schema_still_documents_the_route(db: Any) -> None:
    client = APIClient()
    schema = client.get("/api/schema/", {"format": "json"}).json()
    op = schema["paths"]["/api/v1/events/{id}/"]["get"]
    assert op["operationId"] == "v1_events_retrieve"
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventDetail")


def test_a_view_that_checks_more_keeps_every_request() -> None:
    """Throttles, other permissions or another first authentication: the wrapper stands aside."""
    from rest_framework.permissions import IsAdminUser
    from rest_framework.throttling import UserRateThrottle

    from wangge.events.api.plain_get import with_plain_get

    plain = EventViewSet.as_view({"get": "retrieve"})
    assert with_plain_get(plain) is not plain
    for attrs in (
        {"throttle_classes": [UserRateThrottle]},
        {"permission_classes": [IsAdminUser]},
        {"authentication_classes": []},
        {"authentication_classes": [*EventViewSet.authentication_classes[1:]]},
    ):
        view = type("Checked", (EventViewSet,), attrs).as_view({"get": "retrieve"})
        assert with_plain_get(view) is view, attrs
