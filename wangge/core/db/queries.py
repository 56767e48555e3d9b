"""Small query helpers shared by the domains."""

import functools
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar, get_args, get_origin

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    F,
    Field,
    FloatField,
    ForeignKey,
    IntegerField,
    JSONField,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import JSONArray
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators

from . import enabled

M = TypeVar("M", bound=Model)


def one_or_none(qs: QuerySet[M]) -> M | None:
    """The row of a lookup on unique columns, or None. Unlike `.first()` it adds no ORDER BY, which on
    hot paths (every intake, every detail read) cost more to compile than the lookup itself."""
    return next(iter(qs[:1]), None)


# Values no real query passes, put in the place of each parameter while compiling once.
_INT_MARKER = -2_147_480_000
_STR_MARKER = "\u2063wangge-prepared-{}\u2063"
_DATETIME_MARKER = datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)


class Shape:
    """The type of a `Prepared` argument that is not a parameter but part of the query (a LIMIT, a
    choice of conditions): the builder gets the value itself, and each value compiles its own SQL."""


_SCALARS = (int, str, float, datetime)


def _element_type(kind: Any) -> type | None:
    """int for list[int] (a list of values, one parameter each); None for a scalar type."""
    if get_origin(kind) is list and len(get_args(kind)) == 1 and get_args(kind)[0] in _SCALARS:
        return get_args(kind)[0]  # type: ignore[no-any-return]
    return None


class _Compiled:
    """What one compilation leaves: the SQL, its parameters with the markers' positions, and how to
    turn a row into model instances (columns, select_related populators, annotations, converters) or,
    for `values_list()`, into tuples."""

    def __init__(self, qs: QuerySet[Any], markers: dict[Any, Any], alias: str) -> None:
        self.values = qs._iterable_class is ValuesListIterable  # type: ignore[attr-defined]
        if qs._prefetch_related_lookups or not (  # type: ignore[attr-defined]
            qs._iterable_class is ModelIterable  # type: ignore[attr-defined]
            or (self.values and not qs.query.extra_select and not qs.query.annotation_select)
        ):
            raise ImproperlyConfigured(
                "Prepared takes model querysets without prefetch_related, or plain values_list()"
            )
        connection = connections[alias]
        compiler = qs.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.positions: dict[Any, list[int]] = {}
        for key, marker in markers.items():
            db_marker = _db_value(marker, connection)
            found = [i for i, p in enumerate(self.params) if p == db_marker and type(p) is type(db_marker)]
            if not found:  # the value was transformed (LIKE pattern, list) or is not a parameter
                raise ImproperlyConfigured(f"Prepared: {key} is not a plain query parameter")
            self.positions[key] = found
        select = compiler.select
        self.converters = compiler.get_converters([s[0] for s in select[0 : compiler.col_count]])
        if self.values:
            return
        klass_info = compiler.klass_info
        assert klass_info is not None  # a model queryset
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        # Django 5.2's signature; the installed stubs describe a later one with fetch_mode.
        self.populators = get_related_populators(klass_info, select, alias)  # type: ignore[call-arg]
        self.annotations = dict(compiler.annotation_col_map or {})


def _db_value(value: Any, connection: Any) -> Any:
    """A value as the ORM hands it to the driver: datetimes through the backend's adapter (SQLite
    stores text), everything else as is. So only DateTimeField lookups take datetime values."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


class Prepared(Generic[M]):
    """A queryset compiled to SQL once per process, database and shape, then run with new values.

    Django compiles a queryset on every evaluation; on the hottest reads (an event's detail: a handful
    of small lookups by key; each report's duplicate search) that took more CPU than the database did.
    `build(**values)` makes the queryset; it is compiled once with marker values, and each call
    substitutes the real values at the markers' places. So a value must reach the SQL unchanged as a
    parameter (`pk=…`, `event_id=…`, `lat__range=(…)`, a DateTimeField compared with a datetime), not
    as a pattern, and must not change the query's shape; anything else is refused when first compiled.

    Types: int, str, float, datetime; `list[int]` (and of the other three) for `__in` lists, one
    parameter per element, each length compiling its own SQL (the builder gets as many markers, and
    must leave the condition out for none); `Shape` for values that change the query itself (a LIMIT),
    passed to the builder as they are. Rows become instances as the ORM makes them (select_related
    objects, annotations, converters applied), or tuples for a `values_list()` queryset (`tuples`)."""

    MAX_SHAPES = 256  # compiled variants kept per query; past that the oldest are compiled again

    def __init__(self, build: Callable[..., QuerySet[M]], **types: Any) -> None:
        for name, kind in types.items():
            if kind is not Shape and kind not in _SCALARS and _element_type(kind) is None:
                raise ImproperlyConfigured(f"Prepared: {name} cannot be {kind}")
        self.build = build
        self.types = types
        # (name, type, element type of a list or None), worked out once: every call walks them.
        self._kinds = [(name, kind, _element_type(kind)) for name, kind in types.items()]
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}
        self._lock = threading.Lock()
        self._on = enabled("prepared")  # off: every call evaluates the queryset as the ORM does

    def _shape(self, values: dict[str, Any]) -> tuple[Any, ...]:
        if values.keys() != self.types.keys():
            raise TypeError(f"Prepared takes exactly {sorted(self.types)}")
        shape: list[Any] = []
        for name, kind, element in self._kinds:
            value = values[name]
            if kind is Shape:
                shape.append(value)
            elif element is not None:
                if not isinstance(value, list | tuple | set | frozenset):
                    raise TypeError(f"Prepared: {name} must be a list")
                for item in value:
                    _check(name, item, element)
                shape.append(len(value))
            else:
                _check(name, value, kind)
        return tuple(shape)

    def _markers(self, shape: tuple[Any, ...]) -> tuple[dict[str, Any], dict[Any, Any]]:
        """The builder's arguments (markers, lists of markers, shape values) and each marker by the
        parameter it stands for: a name, or (name, index) for a list's element."""
        arguments: dict[str, Any] = {}
        markers: dict[Any, Any] = {}
        counter = iter(range(1_000_000))
        dims = iter(shape)
        for name, kind, element in self._kinds:
            if kind is Shape:
                arguments[name] = next(dims)
            elif element is not None:
                items = [_marker(element, next(counter)) for _ in range(next(dims))]
                arguments[name] = items
                markers.update({(name, i): m for i, m in enumerate(items)})
            else:
                arguments[name] = markers[name] = _marker(kind, next(counter))
        return arguments, markers

    def _run(self, using: str, values: dict[str, Any]) -> tuple[_Compiled, list[Any], Any]:
        connection = connections[using]
        shape = self._shape(values)
        key = (using, connection.vendor, *shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                arguments, markers = self._markers(shape)
                compiled = _Compiled(self.build(**arguments), markers, using)
                if len(self._compiled) >= self.MAX_SHAPES:
                    self._compiled.pop(next(iter(self._compiled)))
                self._compiled[key] = compiled
        lists = {name: list(values[name]) for name, _, element in self._kinds if element is not None}
        params = list(compiled.params)
        for place, positions in compiled.positions.items():
            value = lists[place[0]][place[1]] if isinstance(place, tuple) else values[place]
            value = _db_value(value, connection)
            for i in positions:
                params[i] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        return compiled, fetched, connection

    def _orm(self, using: str, values: dict[str, Any]) -> QuerySet[M]:
        self._shape(values)  # the same arguments refused
        return self.build(**values).using(using)

    def rows(self, *, using: str = "default", **values: Any) -> list[M]:
        if not self._on:
            return list(self._orm(using, values))
        compiled, fetched, connection = self._run(using, values)
        if compiled.values:
            raise ImproperlyConfigured("Prepared: a values_list() query gives tuples(), not rows()")
        return [self._instance(compiled, row, connection) for row in fetched]

    def one(self, *, using: str = "default", **values: Any) -> M | None:
        """The first row (of a lookup by a unique key), or None."""
        return next(iter(self.rows(using=using, **values)), None)

    def tuples(self, *, using: str = "default", **values: Any) -> list[tuple[Any, ...]]:
        """The rows of a `values_list()` queryset, converted as the ORM converts them."""
        if not self._on:
            return [tuple(row) for row in self._orm(using, values)]  # type: ignore[arg-type]  # values_list()
        compiled, fetched, connection = self._run(using, values)
        if not compiled.values:
            raise ImproperlyConfigured("Prepared: a model query gives rows(), not tuples()")
        return [tuple(_converted(compiled, row, connection)) for row in fetched]

    @staticmethod
    def _instance(compiled: _Compiled, fetched: Any, connection: Any) -> Any:
        row = _converted(compiled, fetched, connection)
        obj = compiled.model.from_db(connection.alias, compiled.init_list, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for attr, pos in compiled.annotations.items():
            setattr(obj, attr, row[pos])
        return obj


def _converted(compiled: _Compiled, fetched: Any, connection: Any) -> list[Any]:
    row = list(fetched)
    for pos, (funcs, expression) in compiled.converters.items():
        value = row[pos]
        for func in funcs:
            value = func(value, expression, connection)
        row[pos] = value
    return row


def _check(name: str, value: Any, kind: type) -> None:
    # bool is an int to Python but not to a query; an int passes where a float is asked, as in the ORM.
    ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
    if not ok or isinstance(value, bool):
        raise TypeError(f"Prepared: {name} must be {kind.__name__}")


def _marker(kind: type, n: int) -> Any:
    if kind is int:
        return _INT_MARKER - n
    if kind is str:
        return _STR_MARKER.format(n)
    if kind is float:
        return _INT_MARKER - n - 0.5  # never equal to an int marker
    return _DATETIME_MARKER + timedelta(microseconds=n)


@functools.cache
def _by_pk(model: type[Model]) -> Prepared[Any]:
    return Prepared(lambda pk: model._default_manager.order_by().filter(pk=pk), pk=int)


def rows_by_pk(model: type[M], ids: set[int]) -> dict[int, M]:
    """`in_bulk` without ORDER BY; a single id (each single report's grid) through a compiled lookup,
    which costs a fraction of compiling `pk IN (…)` again."""
    if len(ids) == 1:
        (pk,) = ids
        row = _by_pk(model).one(pk=pk)
        return {pk: row} if row is not None else {}
    return model._default_manager.order_by().in_bulk(ids) if ids else {}


# How a value read back from a JSON array becomes what the ORM gives for its field type (`_AS_IS`:
# JSON already carries it; auto fields are IntegerFields; a foreign key is read as its target field).
_FROM_JSON: dict[type[Field[Any, Any]], Callable[[Any], Any]] = {
    DateTimeField: datetime.fromisoformat,  # PostgreSQL writes timestamptz as ISO 8601 in the session's UTC
    DateField: date.fromisoformat,
    DecimalField: lambda v: Decimal(str(v)),
    FloatField: float,
}
_AS_IS = (BooleanField, CharField, TextField, IntegerField, JSONField)


def _json_converter(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a JSON value of `field` becomes its Python value (None: as is); refuses other field types."""
    for kind, convert in _FROM_JSON.items():
        if isinstance(field, kind):
            return convert
    if isinstance(field, ForeignKey):
        return _json_converter(field.target_field)
    if isinstance(field, JSONField) and field.decoder is not None:
        raise ImproperlyConfigured(f"related_rows_json: {field} has its own JSON decoder")
    if isinstance(field, _AS_IS):
        return None
    raise ImproperlyConfigured(f"related_rows_json: {type(field).__name__} is not supported")


def related_rows_json(model: type[Model], fk: str, vendor: str) -> Subquery | None:
    """On PostgreSQL: a subquery for an outer queryset of the parent model giving all of `model`'s rows
    whose `fk` is the outer row, as one JSON array of rows (each an array of the concrete fields in
    order; NULL when there are none), so a detail read brings its children in the same round trip.
    None on other databases: the caller reads the rows itself (`rows_from_json` is not needed there).
    Unordered: callers sort."""
    if vendor != "postgresql" or not enabled("related_json"):
        return None
    from django.contrib.postgres.aggregates import JSONBAgg

    fields = model._meta.concrete_fields
    for field in fields:
        _json_converter(field)  # refuse now, not on the first row
    rows = model._default_manager.filter(**{fk: OuterRef("pk")}).order_by().values(fk)
    packed = JSONArray(*(F(f.attname) for f in fields))
    return Subquery(rows.annotate(rows_json=JSONBAgg(packed)).values("rows_json")[:1])


@functools.cache
def _json_loading(model: type[Model]) -> tuple[list[str], list[tuple[int, Callable[[Any], Any]]]]:
    """The model's field names and (position, converter) of the fields JSON does not carry as is."""
    fields = model._meta.concrete_fields
    converters = [(i, c) for i, f in enumerate(fields) if (c := _json_converter(f)) is not None]
    return [f.attname for f in fields], converters


def rows_from_json(model: type[M], rows: list[list[Any]] | None, *, using: str) -> list[M]:
    """The instances `related_rows_json` packed, as the ORM would have loaded them."""
    if not rows:
        return []
    names, converters = _json_loading(model)
    out = []
    for packed in rows:
        row = list(packed)  # the caller's list stays as the database gave it
        for i, convert in converters:
            if row[i] is not None:
                row[i] = convert(row[i])
        out.append(model.from_db(using, names, row))
    return out
