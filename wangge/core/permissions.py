"""Who may read the API description (the schema maps every endpoint and parameter of the system)."""

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    """The OpenAPI schema, Swagger UI and ReDoc: anyone while WANGGE_PUBLIC_API_DOCS is on, otherwise
    signed-in staff accounts only (the schema maps every endpoint and parameter of the system)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if getattr(settings, "WANGGE_PUBLIC_API_DOCS", False):
            return True
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser))
