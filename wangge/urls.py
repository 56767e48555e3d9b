from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

# Events first: their routes are the busiest, and Django tries the patterns in order (the route
# prefixes of these modules do not overlap, so the order changes nothing else).
api_v1 = [
    path("", include("wangge.events.api.urls")),
    path("auth/", include("wangge.accounts.api.urls")),
    path("", include("wangge.territory.api.urls")),
    path("", include("wangge.registry.api.urls")),
    path("", include("wangge.party.api.urls")),
    path("", include("wangge.exchange.api.urls")),
    path("", include("wangge.audit.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("wangge.accounts.urls")),
    path("", include("wangge.territory.urls")),
    path("", include("wangge.registry.urls")),
    path("", include("wangge.exchange.urls")),
    path("", include("wangge.audit.urls")),
    path("", include("wangge.events.urls")),
    path("open311/v2/", include("wangge.open311.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
