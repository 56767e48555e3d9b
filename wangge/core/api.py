"""API plumbing shared by every domain: one error shape, pagination, scope-aware base views."""

import copy
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
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


class FlatInput(serializers.Serializer):
    """A request body of plain scalar fields (no nested serializer, no list or dict field).

    DRF deep-copies every declared field for every serializer instance. Deep-copying means building
    each field again from its arguments, and for a report's 14 fields that cost more than validating
    the report. A scalar field holds no per-request state beyond what `bind()` sets on it, so a shallow
    copy is enough here. Fields that carry other fields are refused when the class is defined."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, f in getattr(cls, "_declared_fields", {}).items():
            carries = (serializers.BaseSerializer, serializers.ListField, serializers.DictField)
            if isinstance(f, (*carries, serializers.ManyRelatedField)):
                raise TypeError(f"{cls.__name__}.{name}: FlatInput takes scalar fields only")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(f) for name, f in self._declared_fields.items()}  # type: ignore[attr-defined]


def validated(serializer_class: type, request: Request, *, partial: bool = False) -> dict[str, Any]:
    """The request body checked by `serializer_class`, as a plain dict (400 "invalid" otherwise).

    With `partial` (PATCH) only the keys the client sent are kept, so serializer defaults never
    overwrite stored values.
    """
    ser = serializer_class(data=request.data, partial=partial)
    ser.is_valid(raise_exception=True)
    data = dict(ser.validated_data)
    if partial:
        data = {k: v for k, v in data.items() if k in request.data}
    return data


def paginated(view: Any, qs: Any, render: Callable[[Sequence[Any]], list[Any]]) -> Response:
    """One page of `qs` rendered by `render` (rows -> JSON-ready list); all of it when paging is off."""
    page = view.paginate_queryset(qs)
    if page is None:
        return Response(render(qs))
    return view.get_paginated_response(render(page))


def per_row(fn: Callable[[Any], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    """A `paginated` renderer that renders each row with `fn`."""
    return lambda rows: [fn(r) for r in rows]


class FileAPIView(APIView):
    """Answers with a file; `?format=` is the view's own parameter, not DRF's renderer override.

    Errors still come back as JSON.
    """

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        renderer = JSONRenderer()
        return renderer, renderer.media_type
