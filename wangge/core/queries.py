"""Small query helpers shared by the domains."""

import functools
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators

M = TypeVar("M", bound=Model)


def one_or_none(qs: QuerySet[M]) -> M | None:
    """The row of a lookup on unique columns, or None. Unlike `.first()` it adds no ORDER BY, which on
    hot paths (every intake, every detail read) cost more to compile than the lookup itself."""
    return next(iter(qs[:1]), None)


# Values no real query passes, put in the place of each parameter while compiling once.
_INT_MARKER = -2_147_480_000
_STR_MARKER = "\u2063wangge-prepared-{}\u2063"


class _Compiled:
    """What one compilation leaves: the SQL, its parameters with the markers' positions, and how to
    turn a row into model instances (columns, select_related populators, annotations, converters)."""

    def __init__(self, qs: QuerySet[Any], markers: dict[str, Any], alias: str) -> None:
        if qs._iterable_class is not ModelIterable or qs._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ImproperlyConfigured("Prepared takes model querysets without prefetch_related")
        compiler = qs.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.positions: dict[str, list[int]] = {}
        for name, marker in markers.items():
            found = [i for i, p in enumerate(self.params) if p == marker]
            if not found:  # the value was transformed (LIKE pattern, list) or is not a parameter
                raise ImproperlyConfigured(f"Prepared: {name} is not a plain query parameter")
            self.positions[name] = found
        klass_info = compiler.klass_info
        assert klass_info is not None  # a model queryset
        select = compiler.select
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        # Django 5.2's signature; the installed stubs describe a later one with fetch_mode.
        self.populators = get_related_populators(klass_info, select, alias)  # type: ignore[call-arg]
        self.annotations = dict(compiler.annotation_col_map or {})
        self.converters = compiler.get_converters([s[0] for s in select[0 : compiler.col_count]])


class Prepared(Generic[M]):
    """A queryset compiled to SQL once per process and database, then run with new values.

    Django compiles a queryset on every evaluation; on the hottest reads (an event's detail: a handful
    of small lookups by key) that took more CPU than the database did. `build(**values)` makes the
    queryset; it is compiled once with marker values, and each call substitutes the real values at
    the markers' places. So a value must reach the SQL unchanged as a parameter (`pk=…`,
    `event_id=…`), not as a pattern or a list, and must not change the query's shape; anything else is
    refused when first compiled. Rows become instances as the ORM makes them (select_related objects,
    annotations, converters applied)."""

    def __init__(self, build: Callable[..., QuerySet[M]], **types: type) -> None:
        self.build = build
        self.types = types
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _markers(self) -> dict[str, Any]:
        markers: dict[str, Any] = {}
        for i, (name, kind) in enumerate(self.types.items()):
            if kind is int:
                markers[name] = _INT_MARKER - i
            elif kind is str:
                markers[name] = _STR_MARKER.format(i)
            else:
                raise ImproperlyConfigured(f"Prepared: {name} must be int or str, not {kind}")
        return markers

    def rows(self, *, using: str = "default", **values: Any) -> list[M]:
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                markers = self._markers()
                compiled = _Compiled(self.build(**markers), markers, using)
                self._compiled[key] = compiled
        if values.keys() != compiled.positions.keys():
            raise TypeError(f"Prepared takes exactly {sorted(compiled.positions)}")
        params = list(compiled.params)
        for name, places in compiled.positions.items():
            value = values[name]
            if not isinstance(value, self.types[name]) or isinstance(value, bool):
                raise TypeError(f"Prepared: {name} must be {self.types[name].__name__}")
            for i in places:
                params[i] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        return [self._instance(compiled, row, connection) for row in fetched]

    def one(self, *, using: str = "default", **values: Any) -> M | None:
        """The first row (of a lookup by a unique key), or None."""
        return next(iter(self.rows(using=using, **values)), None)

    @staticmethod
    def _instance(compiled: _Compiled, fetched: Any, connection: Any) -> Any:
        row = list(fetched)
        for pos, (funcs, expression) in compiled.converters.items():
            value = row[pos]
            for func in funcs:
                value = func(value, expression, connection)
            row[pos] = value
        obj = compiled.model.from_db(connection.alias, compiled.init_list, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for attr, pos in compiled.annotations.items():
            setattr(obj, attr, row[pos])
        return obj


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
