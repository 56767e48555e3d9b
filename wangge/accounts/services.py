"""Writes for accounts: users, role groups, sign-in failures and second-factor devices."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, InvalidInput
from wangge.core.masking import mask_name

from .models import RolePolicy, User
from .roles import DEFAULT_ROLE_PERMISSIONS, STAFF_ROLES, Role


def roles_sync() -> None:
    """Create a group per role; grant default permissions only to groups created now (admins may edit)."""
    with transaction.atomic():
        perms = {p.codename: p for p in Permission.objects.filter(content_type__app_label="accounts")}
        for role, codenames in DEFAULT_ROLE_PERMISSIONS.items():
            group, created = Group.objects.get_or_create(name=Role(role).label)
            if created:
                group.permissions.set([perms[c] for c in codenames if c in perms])
            # Second factor off until the installation turns it on for a role (admin → 角色组).
            RolePolicy.objects.get_or_create(group=group)


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


# Failed sign-ins keep at most this much of the username as typed (it may be a password typed into the
# wrong field, so it is masked like a personal value as well).
_TYPED_MAX = 64


def login_failure_record(*, username: str, channel: str, reason: str, lockout: bool = False) -> None:
    """Audit one failed sign-in — never the password or code — and, when it was the failure that locked
    the username or address, the lockout too. `reason`: password, otp or locked_out; `channel`: page or api."""
    typed = mask_name(username.strip()[:_TYPED_MAX])
    user = User.objects.filter(username=username).select_related("territory").first() if username else None
    object_id = str(user.pk) if user else ""
    # Staff of the account's own territory see failures against it; unknown names only superusers.
    path = user.territory.path if user and user.territory else ""
    with transaction.atomic():
        audit_record(
            actor=None,
            action="auth.login_failed",
            after={"username": typed, "channel": channel, "reason": reason},
            object_type="accounts.user",
            object_id=object_id,
            object_repr=typed,
            path=path,
        )
        if lockout:
            audit_record(
                actor=None,
                action="auth.lockout",
                after={"username": typed, "channel": channel},
                object_type="accounts.user",
                object_id=object_id,
                object_repr=typed,
                path=path,
            )


def _path_of(actor: User) -> str:
    return actor.territory.path if actor.territory_id and actor.territory else ""


def otp_device_begin(*, actor: User) -> TOTPDevice:
    """The actor's TOTP device waiting to be confirmed: a new secret, or the one already shown."""
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
            raise Conflict("该账号已绑定动态口令验证器；如需更换请联系管理员。", code="otp_already_enrolled")
        device = TOTPDevice.objects.filter(user=actor, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=actor, name="动态口令", confirmed=False)
            audit_record(actor=actor, action="auth.otp_begin", obj=device, path=_path_of(actor))
    return device


def otp_device_confirm(*, actor: User, token: str) -> TOTPDevice:
    """Confirm the actor's pending TOTP device with a code from the authenticator app."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=False).order_by("pk").first()
        )
        if device is None:
            raise InvalidInput("没有待绑定的验证器，请重新打开绑定页面。", code="otp_not_started")
        # verify_token records a wrong code (django-otp's per-device throttle): that write must stay,
        # so the refusal is raised after the transaction, not inside it.
        verified = device.verify_token(token.strip()[:16])
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
            # The API asks for the code only when a token is issued: a token taken on the password alone
            # would otherwise go on working without the second factor.
            revoked = Token.objects.filter(user=actor).delete()[0]
            audit_record(
                actor=actor,
                action="auth.otp_enrolled",
                obj=device,
                path=_path_of(actor),
                after={"api_tokens_revoked": revoked},
            )
    if not verified:
        raise InvalidInput("动态口令不正确，请核对验证器上当前的 6 位数字后重试。", code="otp_invalid")
    return device


def role_policy_set(*, actor: User | None, group: Group, otp_required: bool) -> RolePolicy:
    """Turn the second factor on or off for a role group (audited). Turning it on also deletes the API
    tokens of the group's accounts without a confirmed device: the code is asked only when a token is
    issued, so a token taken earlier on the password alone would go on working without it."""
    with transaction.atomic():
        policy, _ = RolePolicy.objects.select_for_update().get_or_create(group=group)
        before = policy.otp_required
        revoked = 0
        if before != otp_required:
            policy.otp_required = otp_required
            policy.save(update_fields=["otp_required"])
            if otp_required:
                enrolled = TOTPDevice.objects.filter(confirmed=True).values("user_id")
                revoked = Token.objects.filter(user__groups=group).exclude(user_id__in=enrolled).delete()[0]
            audit_record(
                actor=actor,
                action="auth.role_policy",
                obj=policy,
                before={"otp_required": before},
                after={"otp_required": otp_required, "api_tokens_revoked": revoked},
            )
    return policy
