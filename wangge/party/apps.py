from django.apps import AppConfig


class PartyConfig(AppConfig):
    name = "wangge.party"
    label = "party"
    verbose_name = "党组织"

    def ready(self) -> None:
        # Territory cannot import this app (layer contract): it calls what we register here.
        from . import hooks

        hooks.register()
