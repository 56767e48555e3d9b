from django.contrib.auth.models import AbstractUser
from django.db import models

from .roles import CUSTOM_PERMISSIONS, Role


class User(AbstractUser):
    """A person who logs in. Staff accounts are bound to one territory node; they see what lies inside it."""

    role = models.CharField("角色", max_length=32, choices=Role.choices, default=Role.RESIDENT)
    territory = models.ForeignKey(
        "territory.Territory",
        verbose_name="所属区划/网格",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    display_name = models.CharField("姓名", max_length=50, blank=True)
    department = models.CharField("部门", max_length=100, blank=True)

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"
        permissions = tuple(CUSTOM_PERMISSIONS)

    def __str__(self) -> str:
        return self.display_name or self.username


class RolePolicy(models.Model):
    """Sign-in rules of one role group, edited in the admin with the group. Off by default (the demo);
    an installation turns the second factor on for roles that may reveal personal data."""

    group = models.OneToOneField(
        "auth.Group", verbose_name="角色组", on_delete=models.CASCADE, related_name="policy"
    )
    otp_required = models.BooleanField(
        "登录须使用动态口令",
        default=False,
        help_text="勾选后，该角色的账号必须先绑定动态口令（TOTP）验证器才能使用系统，API 令牌也须提供动态口令。",
    )

    class Meta:
        verbose_name = "角色登录策略"
        verbose_name_plural = "角色登录策略"

    def __str__(self) -> str:
        return f"{self.group.name}：{'须动态口令' if self.otp_required else '仅密码'}"
