"""Claim rows of a work queue for one worker, so that two workers never take the same row.

On databases that can skip locked rows (PostgreSQL), the candidates are read with
`SELECT … FOR UPDATE SKIP LOCKED` inside the claiming transaction: concurrent workers take disjoint rows
without waiting for each other. Elsewhere (SQLite, which serialises writers) each candidate is taken with
a conditional UPDATE that repeats the queue's filter: a row another worker took in between no longer
matches and is left out. Either way each row goes to exactly one caller.
"""

from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)


def claim_rows(qs: QuerySet[M], *, limit: int, values: dict[str, Any]) -> list[Any]:
    """Claim up to `limit` rows of `qs` by updating them with `values`; return their primary keys.

    `qs` says which rows are free (its filter) and which come first (its ordering); `values` must take
    a row out of that filter (e.g. state → "sending"), which is what makes the claim stick. One short
    transaction of its own (a savepoint inside a caller's transaction).
    """
    if limit <= 0:
        return []
    db = qs.db
    with transaction.atomic(using=db):
        if connections[db].features.has_select_for_update_skip_locked:
            pks = list(qs.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            if pks:
                qs.model._base_manager.using(db).filter(pk__in=pks).update(**values)
            return pks
        pks = list(qs.values_list("pk", flat=True)[:limit])
        return [pk for pk in pks if qs.filter(pk=pk).update(**values)]
