"""Open311 GeoReport v2 (mounted at /open311/v2/). Every resource takes a .xml or .json extension.

Discovery advertises the endpoint as …/open311/v2 (no trailing slash), and clients append "/services.xml";
a client that kept an older, slash-terminated URL asks for …/v2//services.xml: extra slashes before a
resource are accepted (`views.extra_slashes`), answered in place rather than redirected (a redirect
loses a POST's body).
"""

from django.urls import re_path

from . import views

FMT = r"\.(?P<fmt>[A-Za-z0-9]+)"
ID = r"(?P<{}>[^/]+?)"

urlpatterns = [
    re_path(rf"^discovery{FMT}$", views.discovery, name="open311-discovery"),
    re_path(rf"^services{FMT}$", views.service_list, name="open311-services"),
    re_path(rf"^services/{ID.format('code')}{FMT}$", views.service_definition, name="open311-service"),
    re_path(rf"^requests{FMT}$", views.requests_resource, name="open311-requests"),
    re_path(rf"^requests/{ID.format('request_id')}{FMT}$", views.request_detail, name="open311-request"),
    re_path(rf"^tokens/{ID.format('token')}{FMT}$", views.token_detail, name="open311-token"),
    re_path(rf"^servicerequestupdates{FMT}$", views.request_updates, name="open311-updates"),
    re_path(r"^(?:/+)(?P<rest>.+)$", views.extra_slashes),  # a client appended to our trailing slash
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
