from django.urls import path

from . import views

urlpatterns = [
    path("residents/", views.resident_list, name="resident-list"),
    path("residents/<int:pk>/", views.resident_detail, name="resident-detail"),
    path("residents/<int:pk>/reveal/", views.resident_reveal_page, name="resident-reveal"),
    path("buildings/<int:pk>/", views.building_detail, name="building-detail"),
]
