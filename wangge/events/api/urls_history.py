from django.urls import path

from . import views_history

urlpatterns = [
    path("history/imports/", views_history.HistoryImport.as_view(), name="api-history-import"),
    path("history/imports/template/", views_history.HistoryTemplate.as_view(), name="api-history-template"),
]
