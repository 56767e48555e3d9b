"""Every number a client sends through a DRF serializer is bounded to what the database can hold.

An unbounded `serializers.IntegerField` accepts 2**63 or 10**22; the value then reaches a query or an
INSERT and fails there (SQLite: OverflowError, PostgreSQL: "bigint out of range"): a server error for
bad input. Declaring min/max on each of the ~150 integer fields by hand is easy to forget on the next
one, so DRF's IntegerField takes the 64-bit range (BigAutoField, BigIntegerField) as its default bounds
here; fields whose column is smaller (SmallIntegerField, PositiveIntegerField ...) or that refer to an
object by id declare tighter bounds where they are declared.

Likewise DRF's FloatField takes "nan", "inf" and 1e999: such a value is stored and then cannot be
written out as JSON (a server error on every later read), so FloatField refuses non-finite numbers.

And DRF's DateTimeField takes the year 1003: stored, it comes back in Asia/Shanghai's local mean time
of the time (+08:05:43), which is not an RFC 3339 offset. No record of this platform happens before
1970 or after 2100, so DateTimeField refuses times outside that window.
"""

import math
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

DB_MIN = -(2**63)
DB_MAX = 2**63 - 1
_int_init = serializers.IntegerField.__init__
_float_init = serializers.FloatField.__init__
_datetime_init = serializers.DateTimeField.__init__
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _bounded_int_init(self: serializers.IntegerField, **kwargs: Any) -> None:
    if kwargs.get("min_value") is None:
        kwargs["min_value"] = DB_MIN
    if kwargs.get("max_value") is None:
        kwargs["max_value"] = DB_MAX
    _int_init(self, **kwargs)


def _finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("请输入有限的数值。", code="invalid")


def _finite_float_init(self: serializers.FloatField, **kwargs: Any) -> None:
    _float_init(self, **kwargs)
    self.validators.append(_finite)


def _plausible_time(value: Any) -> None:
    if isinstance(value, datetime) and value.tzinfo is not None and not EARLIEST <= value < LATEST:
        raise ValidationError("时间超出合理范围（1970年至2099年）。", code="invalid")


def _plausible_datetime_init(self: serializers.DateTimeField, *args: Any, **kwargs: Any) -> None:
    _datetime_init(self, *args, **kwargs)
    self.validators.append(_plausible_time)


def install() -> None:
    """Called once when wangge.core's app config is imported, before any serializer class exists."""
    if serializers.IntegerField.__init__ is not _bounded_int_init:
        serializers.IntegerField.__init__ = _bounded_int_init  # type: ignore[method-assign]
    if serializers.FloatField.__init__ is not _finite_float_init:
        serializers.FloatField.__init__ = _finite_float_init  # type: ignore[method-assign]
    if serializers.DateTimeField.__init__ is not _plausible_datetime_init:
        serializers.DateTimeField.__init__ = _plausible_datetime_init  # type: ignore[method-assign]
