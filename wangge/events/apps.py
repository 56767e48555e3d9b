from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "wangge.events"
    label = "events"
    verbose_name = "事件"

    def ready(self) -> None:
        from wangge.audit.labels import verbs_register
        from wangge.clock.sweep import register_source

        from . import reference  # noqa: F401 - connects the signals that keep its cache fresh
        from .display import ACTION_LABELS
        from .workflow.clock import events_sweep_source

        # The events' own clocks (Event.deadline/warn_at, StageDeadline) in every `wangge sweep`.
        register_source("events", events_sweep_source)
        # The audit page names `event.<step>` actions as the timeline names the step.
        verbs_register("event", ACTION_LABELS)
