from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

# Swagger UI and ReDoc (files from drf-spectacular-sidecar) set inline styles, and ReDoc runs its search
# in a blob: worker: the policy is widened for these two pages only. Swagger's start-up script is served
# as a file (the split view) so scripts stay 'self'. Who may open them: WANGGE_PUBLIC_API_DOCS.
api_docs_csp = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

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

# The admin speaks Chinese too (Django's own default reads "Django 管理").
admin.site.site_header = "网格化基层治理平台 · 管理后台"
admin.site.site_title = "网格化基层治理平台管理后台"
admin.site.index_title = "系统管理"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs_csp(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path("api/redoc/", api_docs_csp(SpectacularRedocView.as_view(url_name="schema")), name="api-redoc"),
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
