from django.urls import path

from . import views

urlpatterns = [
    path("imports/", views.import_home, name="exchange-home"),
    path("imports/templates/<str:kind>/", views.import_template, name="exchange-template"),
    path("imports/<int:pk>/", views.import_detail, name="exchange-import-detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="exchange-import-progress"),
    path("imports/<int:pk>/errors/", views.import_errors, name="exchange-import-errors"),
    path("exports/", views.export_home, name="exchange-exports"),
    path("exports/<str:kind>/", views.export_download, name="exchange-export"),
]
