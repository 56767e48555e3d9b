"""Territory scope: every object carries the code path of the node it belongs to.

"Everything inside my territory" is `path__startswith=<my node's code>`: one indexed prefix query on
SQLite and PostgreSQL alike. Every selector goes through `scope_queryset`.
"""

from typing import TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)

# Sentinel that matches nothing: users without a territory see nothing.
_NOTHING = "\x00none"


def user_scope_path(user: object) -> str:
    """The code path that bounds what `user` may see ("" = everything, for superusers)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return _NOTHING
    if getattr(user, "is_superuser", False):
        return ""
    territory = getattr(user, "territory", None)
    if territory is None:
        return _NOTHING
    return str(territory.path)


def q_everything() -> Q:
    """A Q that matches every row and keeps doing so inside `|` and `&`.

    `Q()` is not that: an empty Q is dropped when combined, so `Q() | Q(x)` is just `Q(x)` and a
    superuser's "everything or mine" silently became "mine". `NOT (pk IN ())` compiles to no WHERE at
    all (Django turns the negated empty set into a full one), so it costs nothing.
    """
    return ~Q(pk__in=[])


def q_nothing() -> Q:
    """A Q that matches no row (compiles to no query at all when used alone)."""
    return Q(pk__in=[])


def has_scope(user: object) -> bool:
    """Whether `user` may see anything at all (signed in, and a superuser or bound to a territory)."""
    return user_scope_path(user) != _NOTHING


def scope_q(user: object, field: str = "path") -> Q:
    """The Q of rows inside the caller's territory; composes with `|` and `&` for every role."""
    prefix = user_scope_path(user)
    if prefix == "":
        return q_everything()
    if prefix == _NOTHING:
        return q_nothing()
    return Q(**{f"{field}__startswith": prefix})


def scope_queryset(qs: QuerySet[M], user: object, field: str = "path") -> QuerySet[M]:
    """Restrict `qs` to the caller's territory. `field` names the path column (may span relations)."""
    return qs.filter(scope_q(user, field))


def path_in_scope(user: object, path: str) -> bool:
    prefix = user_scope_path(user)
    return prefix != _NOTHING and path.startswith(prefix)
