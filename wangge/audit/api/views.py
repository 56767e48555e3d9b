from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from wangge.audit.models import AuditEntry
from wangge.audit.selectors import audit_search
from wangge.audit.views import audit_filters
from wangge.core.roles import P_VIEW_AUDIT

from .serializers import AuditEntrySerializer


class CanViewAudit(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm(P_VIEW_AUDIT))


@extend_schema(
    parameters=[
        OpenApiParameter("actor", OpenApiTypes.STR, description="操作人账号（包含）"),
        OpenApiParameter("action", OpenApiTypes.STR, description="动作（前缀），如 resident.reveal"),
        OpenApiParameter("object_type", OpenApiTypes.STR, description="对象类型，如 registry.resident"),
        OpenApiParameter("object_id", OpenApiTypes.STR, description="对象ID"),
        OpenApiParameter("date_from", OpenApiTypes.DATE, description="开始日期（含）"),
        OpenApiParameter("date_to", OpenApiTypes.DATE, description="结束日期（含）"),
    ]
)
class AuditEntryList(generics.ListAPIView):
    """Audit entries inside the caller's territory, newest first (read-only; needs accounts.view_audit)."""

    serializer_class = AuditEntrySerializer
    permission_classes = [IsAuthenticated, CanViewAudit]
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return audit_search(user=self.request.user, **audit_filters(self.request.query_params.dict()))  # type: ignore[arg-type]
