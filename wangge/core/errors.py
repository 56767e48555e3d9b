"""Errors raised by services. Views and the API turn them into one shape: {code, message, details}."""

from typing import Any


class ServiceError(Exception):
    """A business rule said no. `message` is Chinese and safe to show; it never holds personal values."""

    status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


class InvalidInput(ServiceError):
    status = 400
    default_code = "invalid"


class NotFound(ServiceError):
    status = 404
    default_code = "not_found"


class Forbidden(ServiceError):
    status = 403
    default_code = "permission_denied"


class Conflict(ServiceError):
    status = 409
    default_code = "conflict"


def get_or_not_found(qs: Any, pk: Any, what: str) -> Any:
    """The row of `qs` with primary key `pk`; NotFound ("未找到该<what>") for unknown or malformed ids.

    Pass an already scoped queryset: an id outside the caller's territory is then not found either.
    """
    try:
        return qs.get(pk=int(pk))
    except (TypeError, ValueError, qs.model.DoesNotExist):
        raise NotFound(f"未找到该{what}", code="not_found") from None
