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
