from django.urls import path

from .views import AuditEntryList

urlpatterns = [path("audit/", AuditEntryList.as_view(), name="api-audit-list")]
