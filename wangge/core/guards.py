"""Checks every domain's services run before a write: permission, territory scope, plain text input.

`actor=None` means the system itself (migrations, demo data, management commands): no permission or
scope check.
"""

from typing import Any

from wangge.core.roles import Role

from .errors import Forbidden, InvalidInput, NotFound
from .scope import path_in_scope


def require_perm(actor: Any, perm: str, message: str) -> None:
    """403 `permission_denied` with `message` unless `actor` holds `perm`."""
    if actor is not None and not actor.has_perm(perm):
        raise Forbidden(message, code="permission_denied")


def is_district_admin(user: Any) -> bool:
    """A superuser or a district administrator (installation-wide settings: models, resends)."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") == Role.DISTRICT_ADMIN)


def require_district_admin(actor: Any, message: str = "仅限区级管理员使用") -> None:
    """403 `permission_denied` with `message` unless `actor` is a district admin (None: the system)."""
    if actor is not None and not is_district_admin(actor):
        raise Forbidden(message, code="permission_denied")


def require_in_scope(actor: Any, path: str, what: str) -> None:
    """Objects outside the actor's territory do not exist for it (404, never 403)."""
    if actor is not None and not path_in_scope(actor, path):
        raise NotFound(f"未找到该{what}", code="not_found")


def clean_text(value: str | None, label: str, max_length: int, *, required: bool = False) -> str:
    """`value` stripped; 400 `required` / `too_long` naming the field `label`."""
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{label}不能为空", code="required", details={"field": label})
    if len(value) > max_length:
        raise InvalidInput(f"{label}不能超过{max_length}个字", code="too_long", details={"field": label})
    return value
