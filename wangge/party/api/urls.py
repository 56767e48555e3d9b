from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("party-orgs", views.PartyOrgViewSet, basename="api-party-org")
router.register("member-units", views.MemberUnitViewSet, basename="api-member-unit")

urlpatterns = router.urls
