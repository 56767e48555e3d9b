from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "wangge.registry"
    label = "registry"
    verbose_name = "人房信息"

    def ready(self) -> None:
        # Territory cannot import this app (layer contract): it calls what we register here.
        from . import hooks

        hooks.register()
