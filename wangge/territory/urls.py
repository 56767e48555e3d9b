from django.urls import path

from . import views

urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("map/places/", views.map_places, name="map-places"),
    path("tiles/<int:z>/<int:x>/<int:y>.png", views.tile, name="map-tile"),
    path("grids/<int:pk>/", views.grid_detail, name="grid-detail"),
]
