"""Reads for accounts: the signed-in person's own second-factor state (no territory involved)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import RolePolicy, User


@dataclass(frozen=True)
class SecondFactor:
    enrolled: bool  # has a confirmed TOTP device: every sign-in asks for its code
    required: bool  # one of the account's role groups requires a device (RolePolicy.otp_required)


def second_factor(user: Any) -> SecondFactor:
    """Whether `user` has a confirmed device and whether a role requires one, in one query."""
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            required=Exists(RolePolicy.objects.filter(otp_required=True, group__user=OuterRef("pk"))),
        )
        .values_list("enrolled", "required")
        .first()
    )
    return SecondFactor(*row) if row else SecondFactor(enrolled=False, required=False)


def confirmed_device(user: Any) -> TOTPDevice | None:
    """The TOTP device that sign-ins of `user` are checked against (one per account)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
