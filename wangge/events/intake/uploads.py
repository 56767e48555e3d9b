"""The checks every uploaded intake file passes before a row is read (12345 work orders, history)."""

import hashlib
import os
from typing import Any

from django.conf import settings

from wangge.core.errors import InvalidInput
from wangge.exchange.readers import check_table_name
from wangge.territory.coords import CRS_CHOICES


def upload_check(*, file: Any, crs: str) -> tuple[str, str]:
    """(the file's own name, its SHA-256) of an upload whose type, size and coordinate system are
    acceptable; InvalidInput with a Chinese message otherwise. The file is left at its start."""
    if crs not in CRS_CHOICES:
        raise InvalidInput("坐标系无效（可选：wgs84、gcj02、bd09）", code="invalid_crs")
    name = os.path.basename(str(getattr(file, "name", "") or ""))[:200]
    check_table_name(name)
    size = int(getattr(file, "size", 0) or 0)
    if size <= 0:
        raise InvalidInput("文件是空的，没有任何内容", code="empty_file")
    if size > settings.WANGGE_MAX_UPLOAD_BYTES:
        raise InvalidInput("文件过大，请拆分后分批导入", code="file_too_large")
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return name, digest.hexdigest()


def row_errors_display(errors: Any, spec: Any) -> list[dict[str, Any]]:
    """Row errors of an import as the page and the API show them: row number, the column's header in
    the file (or （整行）), the value and the reason."""
    return [
        {
            "row": e.row,
            "column": spec.header_of(e.column) or "（整行）",
            "value": e.value,
            "reason": e.message,
        }
        for e in errors
    ]
