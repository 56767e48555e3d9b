"""core.api.FlatInput: shallow-copied scalar fields validate exactly as DRF's deep-copied ones."""

from typing import Any

import pytest
from rest_framework import serializers

from wangge.core.api import FlatInput
from wangge.events.api.serializers import EventCreate


class DeepEventCreate(serializers.Serializer):
    """The same fields as EventCreate, with DRF's own deep copy per instance."""


DeepEventCreate._declared_fields = dict(EventCreate._declared_fields)  # type: ignore[attr-defined]

BODIES: list[Any] = [
    {"description": "楼道堆满杂物", "lat": "30.5", "lng": 114.3, "anonymous": "true"},
    {"description": "路灯不亮", "urgency": "critical", "building": "12", "external_id": None},
    {"description": "", "title": "x" * 201, "lat": "north", "building": "三号楼", "anonymous": "maybe"},
    {"lat": None, "lng": None, "reporter_phone": "1" * 40},
    {"description": ["not", "text"], "channel": 5, "address": {"road": "六合路"}},
    {},
]


@pytest.mark.parametrize("body", BODIES)
def test_same_result_and_errors_as_drfs_deep_copy(body: Any) -> None:
    flat, deep = EventCreate(data=body), DeepEventCreate(data=body)
    assert flat.is_valid() == deep.is_valid()
    assert flat.errors == deep.errors
    if not deep.errors:
        assert dict(flat.validated_data) == dict(deep.validated_data)


def test_each_instance_binds_its_own_fields_and_the_declared_ones_stay_unbound() -> None:
    a, b = EventCreate(data=BODIES[0]), EventCreate(data=BODIES[2])
    assert a.is_valid() and not b.is_valid()
    for name, declared in EventCreate._declared_fields.items():  # type: ignore[attr-defined]
        assert a.fields[name] is not b.fields[name] is not declared
        assert a.fields[name].parent is a and b.fields[name].parent is b
        assert declared.field_name is None and getattr(declared, "parent", None) is None
    again = EventCreate(data=BODIES[0])  # after an invalid body, a valid one is still valid
    assert again.is_valid() and again.validated_data["lat"] == 30.5


def test_fields_that_carry_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="scalar fields only"):

        class Nested(FlatInput):
            items = serializers.ListField(child=serializers.CharField())

    with pytest.raises(TypeError, match="scalar fields only"):

        class Inner(FlatInput):
            inner = EventCreate()

    with pytest.raises(TypeError, match="scalar fields only"):

        class Related(FlatInput):
            ids = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
