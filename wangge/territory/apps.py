from django.apps import AppConfig


class TerritoryConfig(AppConfig):
    name = "wangge.territory"
    label = "territory"
    verbose_name = "区划与网格"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import addresses
        from .models import Building, Compound, Territory

        # The address index of this process follows the register at once (other processes: its
        # version check); a cache, not business logic.
        for model in (Building, Compound, Territory):
            post_save.connect(
                addresses.invalidate, sender=model, dispatch_uid=f"addresses-{model.__name__}-save"
            )
            post_delete.connect(
                addresses.invalidate, sender=model, dispatch_uid=f"addresses-{model.__name__}-delete"
            )
