from django.urls import path

from . import views

urlpatterns = [
    # Public (no account): 我要说 and the tracking page.
    path("report/", views.report, name="report"),
    path("report/address-match/", views.address_match, name="address-match"),
    path("track/", views.track_lookup, name="track-lookup"),
    path("track/<str:code>/", views.track, name="track"),
    path("track/<str:code>/rate/", views.track_rate, name="track-rate"),
    path("track/<str:code>/verify/", views.track_verify, name="track-verify"),
    # A signed-in reporter's own reports.
    path("my/reports/", views.my_reports, name="my-reports"),
    # Staff.
    path("events/", views.event_list, name="event-list"),
    path("events/map/", views.map_events, name="event-map"),
    path("events/hotline/new/", views.hotline_new, name="event-hotline"),
    path("events/history/import/", views.history_import, name="event-history-import"),
    path("events/patrol/new/", views.patrol_new, name="event-patrol"),
    path("events/tasks/", views.my_tasks, name="event-tasks"),
    path("events/triage/", views.triage, name="event-triage"),
    path("events/overdue/", views.overdue, name="event-overdue"),
    path("events/whistles/", views.whistles, name="event-whistles"),
    path("events/<int:pk>/", views.event_detail, name="event-detail"),
    path("events/<int:pk>/act/<str:key>/", views.event_act, name="event-act"),
    path("events/<int:pk>/dispatch-preview/", views.dispatch_preview, name="event-dispatch-preview"),
    path("events/<int:pk>/photos/<int:aid>/", views.attachment, name="event-attachment"),
    path("events/<int:pk>/merge/", views.merge, name="event-merge"),
]

from . import views_casework  # noqa: E402  (appended: this file only grows at the end)

urlpatterns += [
    # Casework (views_casework): disputes, return visits, devices.
    path("events/disputes/", views_casework.dispute_list, name="dispute-list"),
    path("events/<int:pk>/dispute/party/", views_casework.dispute_party, name="event-dispute-party"),
    path("events/<int:pk>/dispute/session/", views_casework.dispute_session, name="event-dispute-session"),
    path("events/<int:pk>/dispute/outcome/", views_casework.dispute_outcome, name="event-dispute-outcome"),
    path("events/return-visits/", views_casework.return_visit_list, name="return-visit-list"),
    path(
        "events/return-visits/<int:pk>/complete/",
        views_casework.return_visit_complete,
        name="return-visit-complete",
    ),
    path("events/devices/", views_casework.device_list, name="device-list"),
    path("events/devices/new/", views_casework.device_new, name="device-new"),
    path("events/devices/<int:pk>/", views_casework.device_edit, name="device-edit"),
]
