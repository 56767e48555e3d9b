"""Writes for accounts: users and role groups."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from wangge.audit.services import audit_record
from wangge.core.errors import InvalidInput

from .models import User
from .roles import DEFAULT_ROLE_PERMISSIONS, STAFF_ROLES, Role


def roles_sync() -> None:
    """Create a group per role; grant default permissions only to groups created now (admins may edit)."""
    with transaction.atomic():
        perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="accounts")}
        for role, codenames in DEFAULT_ROLE_PERMISSIONS.items():
            group, created = Group.objects.get_or_create(name=Role(role).label)
            if created:
                group.permissions.set([perms[c] for c in codenames if c in perms])


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    territory_id: int | None,
    display_name: str = "",
    department: str = "",
    actor: User | None = None,
) -> User:
    """Create an account bound to a role group and (for staff) a territory node."""
    if role not in Role.values:
        raise InvalidInput("角色无效", code="invalid_role")
    if Role(role) in STAFF_ROLES and territory_id is None:
        raise InvalidInput("工作人员账号必须绑定区划或网格", code="territory_required")
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise InvalidInput("用户名已存在", code="duplicate_username")
        user = User(
            username=username,
            role=role,
            territory_id=territory_id,
            display_name=display_name,
            department=department,
            is_staff=(role == Role.DISTRICT_ADMIN),
        )
        user.set_password(password)
        user.save()
        group, _ = Group.objects.get_or_create(name=Role(role).label)
        user.groups.add(group)
        audit_record(
            actor=actor,
            action="user.create",
            obj=user,
            after={"username": username, "role": role, "territory_id": territory_id},
        )
    return user
