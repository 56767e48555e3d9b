"""One new row and the rows that point at it, inserted together (`insert_family`).

A single report writes an event, its timeline entries, its first clock and its audit row. As separate
statements that is BEGIN, one INSERT per table and COMMIT: six round trips, each costing the worker and
the database more than the row itself. On PostgreSQL the family goes in one statement of data-modifying
CTEs, atomic by itself (inside a caller's transaction, under a savepoint, so that a unique conflict
leaves the caller's transaction usable); elsewhere (SQLite) `bulk_create` per table inside one
transaction. Either way the SQL of each INSERT is Django's own (`InsertQuery`), so fields are prepared
exactly as `bulk_create` prepares them.
"""

import functools
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import AutoField, Field, Model
from django.db.models.expressions import RawSQL
from django.db.models.sql.subqueries import InsertQuery

from . import enabled

# Off only in paired benches: the family written table by table.
_ONE_STATEMENT_ON = enabled("insert_family")


def _insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    meta = model._meta
    if not isinstance(meta.pk, AutoField) or len(meta.db_returning_fields) > 1:
        raise ValueError(f"insert_family: {meta.label} needs an auto primary key and nothing else returned")
    return [f for f in meta.concrete_fields if not f.generated and f is not meta.pk]  # type: ignore[misc]


def _compile(model: type[Model], objs: list[Model], using: str) -> tuple[str, tuple[Any, ...]]:
    """Django's own INSERT of `objs` (the SQL `bulk_create` would send, without RETURNING)."""
    query = InsertQuery(model)
    query.insert_values(_insert_fields(model), objs)
    [(sql, params)] = query.get_compiler(using=using).as_sql()
    return sql, tuple(params)


@functools.cache
def _other_fields(model: type[Model], name: str) -> frozenset[Field[Any, Any]]:
    """The model's fields but `name` (a set: Django tests each field's membership)."""
    return frozenset(f for f in model._meta.concrete_fields if f.name != name)  # type: ignore[misc]


def _saved(obj: Model, pk: int, using: str) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using


def _point(child: Model, field: Any, parent: Model) -> None:
    """Set the child's field to the parent: a foreign key takes the instance (id and cache), a plain
    column the id as its own type ("" while the parent is unsaved)."""
    if field.is_relation:
        setattr(child, field.name, parent)
    else:
        setattr(child, field.attname, "" if parent.pk is None else field.to_python(parent.pk))


def insert_family(
    *, parent: Model, children: Sequence[tuple[Model, str]], using: str = DEFAULT_DB_ALIAS
) -> None:
    """Insert `parent` and `children`, atomically; each child names its field that takes the parent's
    new id (a foreign key, or a plain column such as an audit row's object id). Sets the primary keys
    and those fields as `bulk_create` would. Sends no signals (as `bulk_create`). A unique conflict
    raises IntegrityError with nothing written."""
    named = [(child, child._meta.get_field(name)) for child, name in children]
    for child, field in named:
        if getattr(child, field.attname) not in (None, ""):  # type: ignore[union-attr]
            raise ValueError(f"insert_family: {field.name} of {child._meta.label} is the parent's to set")
    # Django's own check that `bulk_create` runs: no unsaved related instance is silently lost.
    parent._prepare_related_fields_for_save(operation_name="insert_family")  # type: ignore[attr-defined]
    connection = connections[using]
    try:
        if not _ONE_STATEMENT_ON:
            _insert_each(parent, named, using)
        elif connection.vendor == "postgresql" and not connection.in_atomic_block:
            _insert_in_one_statement(parent, named, connection)
        elif connection.vendor == "postgresql":
            # Inside the caller's transaction: a savepoint, so a conflict leaves that transaction usable.
            with transaction.atomic(using=using):
                _insert_in_one_statement(parent, named, connection)
        else:
            _insert_each(parent, named, using)
    except BaseException:
        # Nothing was written: leave the instances as unsaved as they came.
        parent.pk = None
        parent._state.adding = True
        for child, field in named:
            child.pk = None
            child._state.adding = True
            _point(child, field, parent)
        raise


def _insert_each(parent: Model, named: list[tuple[Model, Any]], using: str) -> None:
    """The portable way: `bulk_create` per table, in one transaction."""
    with transaction.atomic(using=using):
        type(parent)._default_manager.using(using).bulk_create([parent])
        for child, field in named:
            _point(child, field, parent)
        for _, group in groupby([c for c, _ in named], key=type):
            rows = list(group)
            type(rows[0])._default_manager.using(using).bulk_create(rows)


def _insert_in_one_statement(parent: Model, named: list[tuple[Model, Any]], connection: Any) -> None:
    using = connection.alias
    qn = connection.ops.quote_name
    pk_column = qn(type(parent)._meta.pk.column)  # type: ignore[union-attr]
    # Names below come from model metadata; every value is a parameter.
    new_id = RawSQL(f"(SELECT {pk_column} FROM family_parent)", ())  # noqa: S608, S611
    sql, params = _compile(type(parent), [parent], using)
    ctes, args = [f"family_parent AS ({sql} RETURNING {pk_column})"], [*params]
    ids = [f"(SELECT array_agg({pk_column}) FROM family_parent)"]  # noqa: S608
    groups = [(model, list(group)) for model, group in groupby(named, key=lambda pair: type(pair[0]))]
    for i, (model, group) in enumerate(groups):
        for child, field in group:
            child._prepare_related_fields_for_save(  # type: ignore[attr-defined]
                operation_name="insert_family", fields=_other_fields(type(child), field.name)
            )
            setattr(child, field.attname, new_id)
        sql, params = _compile(model, [c for c, _ in group], using)
        pk = qn(model._meta.pk.column)  # type: ignore[union-attr]
        ctes.append(f"family_{i} AS ({sql} RETURNING {pk})")
        args += params
        # One statement takes its ids from the sequence in row order: sorted ids are the rows' ids.
        ids.append(f"(SELECT array_agg({pk} ORDER BY {pk}) FROM family_{i})")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT {', '.join(ids)}", args)
        row = cursor.fetchone()
    [parent_pk] = row[0]
    _saved(parent, parent_pk, using)
    for (_, group), child_ids in zip(groups, row[1:], strict=True):
        for (child, field), child_pk in zip(group, child_ids, strict=True):
            _point(child, field, parent)
            _saved(child, child_pk, using)
