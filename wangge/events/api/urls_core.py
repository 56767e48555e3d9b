from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views_core as v
from .plain_get import with_plain_get

router = SimpleRouter()
router.register("events", v.EventViewSet, basename="api-event")
router.register("event-categories", v.CategoryConfigViewSet, basename="api-event-category")
router.register("statuses", v.StatusConfigViewSet, basename="api-event-status")
router.register("transitions", v.TransitionConfigViewSet, basename="api-event-transition")
router.register("time-limits", v.TimeLimitConfigViewSet, basename="api-time-limit")
router.register("calendar-days", v.CalendarDayConfigViewSet, basename="api-calendar-day")
router.register("dispatch-rules", v.DispatchRuleConfigViewSet, basename="api-dispatch-rule")
router.register("handling-units", v.HandlingUnitConfigViewSet, basename="api-handling-unit")


def _with_plain_detail_get(patterns: list[Any]) -> list[Any]:
    """The router's URLs with the event detail route's GET answered by `with_plain_get`."""
    for p in patterns:
        if getattr(p, "name", None) == "api-event-detail":
            p.callback = with_plain_get(p.callback)
            return patterns
    raise ImproperlyConfigured("the events router has no api-event-detail route")


urlpatterns = [
    path("track/<str:tracking_code>/", v.TrackView.as_view(), name="api-track"),
    path("track/<str:tracking_code>/rating/", v.RatingView.as_view(), name="api-track-rating"),
    path("track/<str:tracking_code>/verify/", v.ReporterVerifyView.as_view(), name="api-track-verify"),
    *_with_plain_detail_get(router.urls),
]
