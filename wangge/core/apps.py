from django.apps import AppConfig

from . import bounds

# At import, not in ready(): other apps' ready() (admin autodiscovery) may already define serializers.
bounds.install()


class CoreConfig(AppConfig):
    name = "wangge.core"
    label = "core"
    verbose_name = "基础"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
        from .db import checks as db_checks  # noqa: F401  (the Django version check of core.db)
