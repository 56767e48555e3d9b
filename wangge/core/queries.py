"""Small query helpers shared by the domains."""

from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def one_or_none(qs: QuerySet[M]) -> M | None:
    """The row of a lookup on unique columns, or None. Unlike `.first()` it adds no ORDER BY, which on
    hot paths (every intake, every detail read) cost more to compile than the lookup itself."""
    return next(iter(qs[:1]), None)
