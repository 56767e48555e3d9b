"""core.queries.Prepared: a queryset compiled once gives what the ORM gives, on either database."""

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from wangge.core.queries import Prepared
from wangge.events.models import Event, HandlingUnit, TimelineEntry
from wangge.events.selectors import _detail_queryset
from wangge.events.tests.core_helpers import G112, report


def same(mine: Model, theirs: Model) -> None:
    assert type(mine) is type(theirs)
    for f in type(theirs)._meta.concrete_fields:
        a, b = getattr(mine, f.attname), getattr(theirs, f.attname)
        assert a == b and type(a) is type(b), (f.name, a, b)


def test_detail_rows_equal_the_orms(world: Any) -> None:
    unit = HandlingUnit.objects.create(name="城管中队", territory=world.district, path="420802")
    first = report()
    second = report("路灯坏了好几天", at=G112)
    Event.objects.filter(pk=second.pk).update(handler_unit=unit, handler_user=world.users.grid2)
    outside = report("无处可定位", at=(10.0, 10.0))  # no grid: the select_related join is empty
    detail = Prepared(lambda pk: _detail_queryset().filter(pk=pk)[:1], pk=int)
    for event in (first, second, outside):
        (got,) = detail.rows(pk=event.pk)
        ref = _detail_queryset().get(pk=event.pk)
        same(got, ref)
        for name in ("grid", "handler_unit", "handler_user"):
            a, b = getattr(got, name), getattr(ref, name)
            assert (a is None) == (b is None), name
            if b is not None:
                same(a, b)
        for name in ("attachments_n", "return_visits_n", "merged_n"):
            assert getattr(got, name) == getattr(ref, name), name
    assert detail.rows(pk=10**9) == []
    assert len(detail._compiled) == 1  # compiled once, whatever the values


def test_rows_of_a_relation_and_repeated_parameters(world: Any) -> None:
    event = report()
    timeline = Prepared(lambda event_id: TimelineEntry.objects.filter(event_id=event_id), event_id=int)
    got = sorted(timeline.rows(event_id=event.pk), key=lambda e: e.pk)
    ref = sorted(TimelineEntry.objects.filter(event_id=event.pk), key=lambda e: e.pk)
    assert len(got) == len(ref) >= 1
    for a, b in zip(got, ref, strict=True):
        same(a, b)  # JSON, timestamps and booleans converted as the ORM does
    # The same value in two places of the SQL: both are replaced (a marker left in one would let
    # other events through the lower bound, or drop this one).
    other = report("路灯坏了好几天", at=G112)
    window = Prepared(lambda pk: Event.objects.filter(pk__gte=pk, pk__lte=pk), pk=int)
    assert [e.pk for e in window.rows(pk=event.pk)] == [event.pk]
    assert [e.pk for e in window.rows(pk=other.pk)] == [other.pk]
    # Two values, one of them text.
    either = Prepared(
        lambda pk, code: Event.objects.filter(pk=pk) | Event.objects.filter(tracking_code=code),
        pk=int,
        code=str,
    )
    assert [e.pk for e in either.rows(pk=-1, code=event.tracking_code)] == [event.pk]
    assert [e.pk for e in either.rows(pk=event.pk, code="")] == [event.pk]


def test_bad_use_is_refused(world: Any) -> None:
    like = Prepared(lambda code: Event.objects.filter(tracking_code__startswith=code), code=str)
    with pytest.raises(ImproperlyConfigured):  # the value reaches SQL as a LIKE pattern, not as is
        like.rows(code="E")
    plain = Prepared(lambda pk: Event.objects.filter(pk=pk), pk=int)
    with pytest.raises(TypeError):
        plain.rows(pk="1")
    with pytest.raises(TypeError):
        plain.rows(pk=True)
    with pytest.raises(TypeError):
        plain.rows(id=1)
    with pytest.raises(ImproperlyConfigured):
        Prepared(lambda at: Event.objects.filter(created_at=at), at=float).rows(at=1.0)
    with pytest.raises(ImproperlyConfigured):
        Prepared(lambda pk: Event.objects.filter(pk=pk).values("id"), pk=int).rows(pk=1)


def test_rows_by_pk_is_in_bulk(world: Any, django_assert_num_queries: Any) -> None:
    from wangge.core.queries import rows_by_pk
    from wangge.territory.models import Territory

    grids = [world.g111, world.g112]
    for ids in ({grids[0].pk}, {g.pk for g in grids}, {grids[0].pk, 10**9}, {10**9}):
        got = rows_by_pk(Territory, ids)
        ref = Territory.objects.in_bulk(ids)
        assert got.keys() == ref.keys()
        for pk, row in got.items():
            same(row, ref[pk])
    with django_assert_num_queries(0):
        assert rows_by_pk(Territory, set()) == {}
