from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "wangge.events"
    label = "events"
    verbose_name = "事件"

    def ready(self) -> None:
        from . import (
            coverage,  # noqa: F401 - registers the calendar coverage check (wangge.W020)
            reference,  # noqa: F401 - connects the signals that keep its cache fresh
        )
