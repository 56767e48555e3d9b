from django.urls import path

from . import views_clock as v

urlpatterns = [
    path("events/<int:pk>/whistle/", v.EventWhistleView.as_view(), name="event-whistle"),
    path(
        "whistle-summons/<int:pk>/acknowledge/", v.SummonAcknowledgeView.as_view(), name="summon-acknowledge"
    ),
    path("whistles/", v.WhistleBoardView.as_view(), name="whistle-board"),
    path("events/<int:pk>/extensions/", v.EventExtensionsView.as_view(), name="event-extensions"),
    path("extensions/<int:pk>/decide/", v.ExtensionDecideView.as_view(), name="extension-decide"),
    path("notifications/", v.NotificationListView.as_view(), name="notification-list"),
]
