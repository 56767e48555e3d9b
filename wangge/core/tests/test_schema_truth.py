"""The OpenAPI schema describes what the API really answers: real responses are checked against it."""

import re
from datetime import date
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from rest_framework.authtoken.models import Token
from schemathesis.checks import response_schema_conformance

from wangge.conftest import assert_error
from wangge.core.tests.inprocess import keep_test_connection
from wangge.events.models import DisputeOutcome
from wangge.events.tests.test_dedupe import make_event
from wangge.events.workflow.clock import extension_request
from wangge.registry.services import resident_create, resident_move_in
from wangge.registry.tests.factories import make_building, make_dwelling, make_id

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture
def api_schema(world: Any, settings: Any) -> Any:
    settings.ALLOWED_HOSTS = ["*"]  # the WSGI transport sends Host: localhost
    with keep_test_connection():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


def conforms(api_schema: Any, user: Any, method: str, path: str, **path_parameters: Any) -> Any:
    """Call `method path` as `user` in-process and check the answer against the schema."""
    token, _ = Token.objects.get_or_create(user=user)
    case = api_schema[path][method].Case(path_parameters=path_parameters)
    with keep_test_connection():
        response = case.call(headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200, response.text[:300]
    case.validate_response(response, checks=[response_schema_conformance])
    return response.json()


def test_building_card_has_grid_id(world, api_schema):
    b = make_building(world.g111, "B1")
    make_dwelling(b, "101")
    card = conforms(api_schema, world.users.grid1, "GET", "/api/v1/buildings/{id}/", id=b.pk)
    assert card["building"]["grid_id"] == world.g111.pk
    props = api_schema.raw_schema["components"]["schemas"]["BuildingRow"]["properties"]
    assert "grid_id" in props


def test_plain_lists_are_not_documented_as_paginated(world, api_schema):
    event = make_event(world, "楼道灯坏了需要维修")
    extension_request(event_id=event.pk, actor=world.users.admin, amount=1, unit="workday", reason="等配件")
    resident = resident_create(
        actor=world.users.admin, name="张三", id_number=make_id(date(1960, 5, 1)), grid=world.g111
    )
    dwelling = make_dwelling(make_building(world.g111, "B1"), "101")
    resident_move_in(actor=world.users.admin, resident=resident, dwelling=dwelling, on=date.today())
    admin = world.users.admin
    rows = conforms(api_schema, admin, "GET", "/api/v1/events/{id}/extensions/", id=event.pk)
    assert isinstance(rows, list) and len(rows) == 1
    assert isinstance(conforms(api_schema, admin, "GET", "/api/v1/events/{id}/whistle/", id=event.pk), list)
    rows = conforms(api_schema, admin, "GET", "/api/v1/residents/{id}/occupancies/", id=resident.pk)
    assert isinstance(rows, list) and len(rows) == 1


def test_territories_grid_type_blank_for_other_levels(world, api_schema):
    body = conforms(api_schema, world.users.admin, "GET", "/api/v1/territories/")
    assert {"", "basic"} <= {row["grid_type"] for row in body["results"]}


def test_every_client_error_is_documented_with_the_error_body(world, api_schema):
    operation = api_schema.raw_schema["paths"]["/api/v1/buildings/{id}/"]["get"]
    for status in ("400", "401", "403", "404"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Error"


def test_dispute_decided_at_in_year_1003_is_refused(world, api_for):
    event = make_event(world, "邻里因为漏水吵架，需要调解", category="0601")
    client = api_for(world.users.community1)
    url = f"/api/v1/events/{event.pk}/dispute/outcome/"
    data = {"result": "agreed", "agreement_text": "双方和解", "decided_at": "1003-05-01T10:00:00"}
    assert "decided_at" in assert_error(client.put(url, data, format="json"), 400)["details"]
    assert not DisputeOutcome.objects.filter(event=event).exists()
    resp = client.put(url, {**data, "decided_at": "2025-05-01T10:00:00+08:00"}, format="json")
    assert resp.status_code == 200, resp.content
    assert RFC3339.match(resp.json()["decided_at"]), resp.json()["decided_at"]
