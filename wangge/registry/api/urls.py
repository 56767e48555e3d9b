from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("residents", views.ResidentViewSet, basename="api-resident")
router.register("buildings", views.BuildingViewSet, basename="api-building")
router.register("dwellings", views.DwellingViewSet, basename="api-dwelling")
router.register("places", views.PlaceViewSet, basename="api-place")
router.register("facilities", views.FacilityViewSet, basename="api-facility")
router.register("organisations", views.OrganisationViewSet, basename="api-organisation")
router.register("keygroups", views.KeyGroupViewSet, basename="api-keygroup")

urlpatterns = router.urls
