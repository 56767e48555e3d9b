"""core.db.queries.Prepared: a queryset compiled once gives what the ORM gives, on either database."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.models import Model, Q
from django.test.utils import isolate_apps
from django.utils import timezone

from wangge.core.db.queries import Prepared, Shape, related_rows_json, rows_from_json
from wangge.events.models import Attachment, Event, HandlingUnit, StageDeadline, TimelineEntry
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
    # No grid (an address that matches no building): the select_related join is empty.
    outside = report("无处可定位", at=(None, None), address="无名路口")  # type: ignore[arg-type]
    detail = Prepared(lambda pk: _detail_queryset(connection.vendor).filter(pk=pk)[:1], pk=int)
    for event in (first, second, outside):
        (got,) = detail.rows(pk=event.pk)
        ref = _detail_queryset(connection.vendor).get(pk=event.pk)
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
    with pytest.raises(ImproperlyConfigured):  # no parameter type
        Prepared(lambda at: Event.objects.filter(extra=at), at=dict)
    with pytest.raises(ImproperlyConfigured):  # a date, not a datetime, reaches the SQL
        Prepared(lambda at: Event.objects.filter(created_at__date=at), at=datetime).rows(at=timezone.now())
    with pytest.raises(ImproperlyConfigured):
        Prepared(lambda pk: Event.objects.filter(pk=pk).values("id"), pk=int).rows(pk=1)
    listed = Prepared(lambda ids: Event.objects.filter(pk__in=ids).values_list("id"), ids=list[int])
    with pytest.raises(TypeError):
        listed.tuples(ids=1)
    with pytest.raises(TypeError):
        listed.tuples(ids=["1"])
    with pytest.raises(ImproperlyConfigured):  # tuples of a values_list(), instances of a model query
        listed.rows(ids=[1])
    with pytest.raises(ImproperlyConfigured):
        plain.tuples(pk=1)


def test_floats_datetimes_lists_and_shapes(world: Any) -> None:
    """The duplicate search's kind of query: a lat/lng range, a time window, `IN` lists of any length
    and a LIMIT, each shape compiled once, answering as the ORM does."""
    events = [report(), report("路灯坏了好几天", at=G112), report("楼道堆满杂物", at=G112)]
    now = timezone.now()

    def build(box: list[float], ids: list[int], codes: list[str], since: datetime, limit: int) -> Any:
        where = Q(created_at__gte=since)
        if box:
            where &= Q(lat__range=(box[0], box[1]), lng__range=(box[2], box[3]))
        if ids:
            where &= Q(pk__in=ids)
        if codes:
            where &= Q(tracking_code__in=codes)
        return Event.objects.filter(where).values_list("id", "created_at", "lat").order_by("-id")[:limit]

    query = Prepared(build, box=list[float], ids=list[int], codes=list[str], since=datetime, limit=Shape)
    lat, lng = G112
    small_box = [lat - 0.001, lat + 0.001, lng - 0.001, lng + 0.001]
    hour_ago = now - timedelta(hours=1)

    def case(
        box: Any = (), ids: Any = (), codes: Any = (), since: datetime = hour_ago, limit: int = 5
    ) -> dict[str, Any]:
        return dict(
            box=list(box),
            ids=ids if isinstance(ids, set) else list(ids),
            codes=list(codes),
            since=since,
            limit=limit,
        )

    cases = [
        case(box=small_box),
        case(box=small_box, limit=1),
        case(ids=[e.pk for e in events]),
        case(ids=[events[0].pk], codes=[events[2].tracking_code]),
        case(ids={e.pk for e in events}, since=now + timedelta(hours=1)),
        case(ids=[events[1].pk, 10**9], since=now - timedelta(days=1)),
        case(box=[lat - 1, lat + 1, lng - 1, lng + 1]),
    ]
    for args in cases:
        got = query.tuples(**args)
        ref = list(build(**args))
        assert got == ref and [type(v) for row in got for v in row] == [type(v) for row in ref for v in row]
    assert [len(query.tuples(**c)) for c in cases] == [2, 1, 3, 0, 0, 1, 3]
    # One compilation per shape (the limit, which lists are empty and how long): the cases above have
    # five, and asking them again compiles nothing.
    assert len(query._compiled) == 5
    # Instances too, with a float and a datetime as plain parameters.
    near = Prepared(
        lambda lat, since: Event.objects.filter(lat__gte=lat, created_at__gte=since).order_by("pk"),
        lat=float,
        since=datetime,
    )
    got = near.rows(lat=G112[0] - 0.0001, since=now - timedelta(hours=1))
    ref = list(
        Event.objects.filter(lat__gte=G112[0] - 0.0001, created_at__gte=now - timedelta(hours=1)).order_by(
            "pk"
        )
    )
    assert [e.pk for e in got] == [e.pk for e in ref] and got
    for a, b in zip(got, ref, strict=True):
        same(a, b)
    assert near.rows(lat=90, since=now - timedelta(hours=1)) == []  # an int where a float is asked


def test_rows_by_pk_is_in_bulk(world: Any, django_assert_num_queries: Any) -> None:
    from wangge.core.db.queries import rows_by_pk
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


def test_children_packed_as_json_load_as_the_orm_loads_them(world: Any) -> None:
    """PostgreSQL: the detail read's clocks and timeline come back inside the event's row."""
    if connection.vendor != "postgresql":
        assert related_rows_json(TimelineEntry, "event", connection.vendor) is None  # read separately
        return
    event = report()
    other = report("路灯坏了好几天", at=G112)
    StageDeadline.objects.filter(event=event).update(finished_at=timezone.now(), overdue=True)
    TimelineEntry.objects.create(event=event, action="note", note="夜里\n补记", data={"a": [1, None, "二"]})
    packed = Event.objects.annotate(
        clocks_json=related_rows_json(StageDeadline, "event", connection.vendor),
        timeline_json=related_rows_json(TimelineEntry, "event", connection.vendor),
    )
    for e in (event, other):
        row = packed.get(pk=e.pk)
        for name, model in (("clocks", StageDeadline), ("timeline", TimelineEntry)):
            raw = getattr(row, f"{name}_json")
            before = [list(r) for r in raw]
            got = sorted(rows_from_json(model, raw, using="default"), key=lambda x: x.pk)
            ref = sorted(model.objects.filter(event=e), key=lambda x: x.pk)
            assert len(got) == len(ref) >= 1, name
            for a, b in zip(got, ref, strict=True):
                same(a, b)  # aware datetimes, booleans, None, nested JSON, foreign keys
                assert a._state.db == "default" and not a._state.adding
            assert raw == before  # the caller's rows are not converted in place
    StageDeadline.objects.filter(event=other).delete()
    assert packed.get(pk=other.pk).clocks_json is None  # no rows: NULL, read as none
    assert rows_from_json(StageDeadline, None, using="default") == []
    with pytest.raises(ImproperlyConfigured):  # a FileField's value is not a JSON value
        related_rows_json(Attachment, "event", connection.vendor)


@isolate_apps("wangge.core")
def test_a_foreign_key_is_read_as_its_target_field() -> None:
    """A key to an integer id comes through as is; a key to a type JSON cannot carry is refused when the
    subquery is built, as that type itself would be, not loaded as a string."""

    class Coded(models.Model):  # noqa: DJ008 - throwaway test models
        id = models.UUIDField(primary_key=True)

    class Numbered(models.Model):  # noqa: DJ008 - throwaway test models
        pass

    class Child(models.Model):  # noqa: DJ008 - throwaway test models
        coded = models.ForeignKey(Coded, on_delete=models.CASCADE)

    class Fine(models.Model):  # noqa: DJ008 - throwaway test models
        numbered = models.ForeignKey(Numbered, on_delete=models.CASCADE)

    assert related_rows_json(Fine, "numbered", "postgresql") is not None
    with pytest.raises(ImproperlyConfigured, match="UUIDField"):
        related_rows_json(Child, "coded", "postgresql")
