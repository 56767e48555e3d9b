from django.urls import path

from . import views

urlpatterns = [
    path("imports/", views.ImportListCreate.as_view(), name="api-import-list"),
    path("imports/templates/<str:kind>/", views.ImportTemplate.as_view(), name="api-import-template"),
    path("imports/<int:pk>/", views.ImportDetail.as_view(), name="api-import-detail"),
    path("imports/<int:pk>/errors/", views.ImportErrorReport.as_view(), name="api-import-errors"),
    path("exports/<str:kind>/", views.Export.as_view(), name="api-export"),
]
