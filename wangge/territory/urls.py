from django.urls import path

from . import views

urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("grids/<int:pk>/", views.grid_detail, name="grid-detail"),
]
