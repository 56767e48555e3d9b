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


def scope_q(user: object, field: str = "path") -> Q:
    prefix = user_scope_path(user)
    if prefix == "":
        return Q()
    if prefix == _NOTHING:
        return Q(pk__in=[])
    return Q(**{f"{field}__startswith": prefix})


def scope_queryset(qs: QuerySet[M], user: object, field: str = "path") -> QuerySet[M]:
    """Restrict `qs` to the caller's territory. `field` names the path column (may span relations)."""
    return qs.filter(scope_q(user, field))


def path_in_scope(user: object, path: str) -> bool:
    prefix = user_scope_path(user)
    return prefix != _NOTHING and path.startswith(prefix)
