from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views_devices import DeviceViewSet, SosAckView, SosBoardView

router = SimpleRouter()
router.register("devices", DeviceViewSet, basename="device")

urlpatterns: list = [
    path("", include(router.urls)),
    path("events/<str:pk>/sos-ack/", SosAckView.as_view(), name="event-sos-ack"),
    path("sos/", SosBoardView.as_view(), name="sos-board"),
]
