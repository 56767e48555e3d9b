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
        from .triage.classifier import classifier_retrain_sweep
        from .workflow.clock import events_sweep_source

        # The events' own clocks (Event.deadline/warn_at, StageDeadline) in every `wangge sweep`.
        register_source("events", events_sweep_source)
        # Scheduled retraining of the classifier (ClassifierSchedule) and stalled trainings (issue 18 C5).
        register_source("classifier", classifier_retrain_sweep)
        # The audit page names `event.<step>` actions as the timeline names the step.
        verbs_register("event", ACTION_LABELS)
        # The grid map (territory) draws open events from the events' own endpoint.
        from wangge.territory.hooks import register_map_layer

        register_map_layer("events", _events_map_layer)


def _events_map_layer(*, user: object) -> dict[str, object] | None:
    from django.urls import reverse
    from django.utils.translation import gettext

    from .views import STAFF

    if not (getattr(user, "is_superuser", False) or getattr(user, "role", "") in STAFF):
        return None
    return {"label": gettext("未办结事件"), "url": reverse("event-map")}
