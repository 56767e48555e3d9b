from django.urls import include, path

# One module per area so several people can work on the events API at once.
urlpatterns = [
    path("", include("wangge.events.api.urls_core")),
    path("", include("wangge.events.api.urls_clock")),
    path("", include("wangge.events.api.urls_devices")),
    path("", include("wangge.events.api.urls_triage")),
    path("", include("wangge.events.api.urls_hotline")),
    path("", include("wangge.events.api.urls_history")),
]
