"""API plumbing shared by every domain: one error shape, pagination, scope-aware base views."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError

# Chinese messages for DRF's own error codes; the machine-readable code stays DRF's.
_MESSAGES = {
    "not_authenticated": "未登录或登录已失效，请先登录。",
    "authentication_failed": "身份验证失败。",
    "permission_denied": "没有权限执行此操作。",
    "not_found": "未找到。",
    "method_not_allowed": "不支持该请求方法。",
    "not_acceptable": "无法满足请求的格式。",
    "unsupported_media_type": "不支持的请求内容类型。",
    "throttled": "请求过于频繁，请稍后再试。",
    "parse_error": "请求内容格式错误。",
    "invalid": "提交的数据有误，请检查后重试。",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as {"code": ..., "message": <Chinese>, "details": ...}."""
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code, details = "invalid", response.data
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        details = None
    else:  # pragma: no cover - drf only handles APIException subclasses
        code, details = "error", None
    message = _MESSAGES.get(code, _MESSAGES["invalid"] if response.status_code == 400 else str(code))
    response.data = error_body(code, message, details)
    return response


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def not_found_response() -> Response:
    return Response(error_body("not_found", _MESSAGES["not_found"]), status=status.HTTP_404_NOT_FOUND)
