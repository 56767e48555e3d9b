from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: Any, **kwargs: Any) -> None:
    from .services import roles_sync

    roles_sync()


class AccountsConfig(AppConfig):
    name = "wangge.accounts"
    label = "accounts"
    verbose_name = "用户与角色"

    def ready(self) -> None:
        # Permissions exist only after migrate; role groups are created from them then.
        post_migrate.connect(_sync_roles, sender=self)
