"""Triage API: duplicates/merge, classifier, disputes. Paths are under /api/v1/."""

from django.urls import path

from . import views_triage as v

urlpatterns = [
    path("events/merge/", v.MergeView.as_view(), name="api-event-merge"),
    path("events/<int:pk>/duplicates/", v.DuplicatesView.as_view(), name="api-event-duplicates"),
    path("events/<int:pk>/dispute/", v.DisputeView.as_view(), name="api-event-dispute"),
    path(
        "events/<int:pk>/dispute/parties/", v.DisputePartiesView.as_view(), name="api-event-dispute-parties"
    ),
    path(
        "events/<int:pk>/dispute/sessions/",
        v.DisputeSessionsView.as_view(),
        name="api-event-dispute-sessions",
    ),
    path(
        "events/<int:pk>/dispute/outcome/", v.DisputeOutcomeView.as_view(), name="api-event-dispute-outcome"
    ),
    path("classifier/", v.ClassifierView.as_view(), name="api-classifier"),
    path("classifier/train/", v.ClassifierTrainView.as_view(), name="api-classifier-train"),
    path("classifier/accuracy/", v.ClassifierAccuracyView.as_view(), name="api-classifier-accuracy"),
    path(
        "classifier/train/<str:task_id>/",
        v.ClassifierTrainStatusView.as_view(),
        name="api-classifier-train-status",
    ),
    path("classify/", v.ClassifyView.as_view(), name="api-classify"),
]
