from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "wangge.events"
    label = "events"
    verbose_name = "事件"
