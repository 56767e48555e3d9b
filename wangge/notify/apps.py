from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "wangge.notify"
    label = "notify"
    verbose_name = "通知"

    def ready(self) -> None:
        from wangge.clock.sweep import register_source

        from .services import notifications_sweep

        # Delivery runs after every other sweep source, so what they queued goes out in the same pass.
        register_source("notifications", notifications_sweep, final=True)
