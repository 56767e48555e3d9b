from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views_core as v

router = SimpleRouter()
router.register("events", v.EventViewSet, basename="api-event")
router.register("event-categories", v.CategoryConfigViewSet, basename="api-event-category")
router.register("statuses", v.StatusConfigViewSet, basename="api-event-status")
router.register("transitions", v.TransitionConfigViewSet, basename="api-event-transition")
router.register("time-limits", v.TimeLimitConfigViewSet, basename="api-time-limit")
router.register("calendar-days", v.CalendarDayConfigViewSet, basename="api-calendar-day")
router.register("dispatch-rules", v.DispatchRuleConfigViewSet, basename="api-dispatch-rule")
router.register("handling-units", v.HandlingUnitConfigViewSet, basename="api-handling-unit")

urlpatterns = [
    path("track/<str:tracking_code>/", v.TrackView.as_view(), name="api-track"),
    path("track/<str:tracking_code>/rating/", v.RatingView.as_view(), name="api-track-rating"),
    path("track/<str:tracking_code>/verify/", v.ReporterVerifyView.as_view(), name="api-track-verify"),
    *router.urls,
]
