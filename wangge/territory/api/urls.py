from django.urls import path

from .views import GridDetail, GridList, GridLocate, TerritoryList

urlpatterns = [
    path("grids/", GridList.as_view(), name="api-grid-list"),
    path("grids/locate/", GridLocate.as_view(), name="api-grid-locate"),
    path("grids/<int:pk>/", GridDetail.as_view(), name="api-grid-detail"),
    path("territories/", TerritoryList.as_view(), name="api-territory-list"),
]
