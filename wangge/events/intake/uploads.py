"""The checks every uploaded intake file passes before a row is read (12345 work orders, history)."""

import hashlib
import os
from typing import Any

from django.conf import settings

from wangge.core.errors import InvalidInput
from wangge.exchange.readers import check_table_name
from wangge.registry.bulk import RowInvalid, parse_coords, text
from wangge.territory.coords import CRS_CHOICES, WGS84, to_wgs84


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


def cell_text(row: dict[str, Any], column: str, label: str, *, limit: int, unit: str = "个字符") -> str:
    """A row's required text cell: refused when empty or longer than `limit` (12345 and history imports)."""
    value = text(row.get(column))
    if not value:
        raise RowInvalid(column, "", f"{label}不能为空")
    if len(value) > limit:
        raise RowInvalid(column, value[:30], f"{label}不能超过{limit}{unit}")
    return value


def row_location(row: dict[str, Any], crs: str, address_label: str) -> tuple[float | None, float | None, str]:
    """(lng, lat) in WGS-84 and the address of an imported row; at least one of them is required."""
    lng, lat = parse_coords(row, required=False)
    if lng is not None and lat is not None and crs != WGS84:
        lng, lat = to_wgs84(lng, lat, crs)
    address = text(row.get("address"))
    if len(address) > 200:
        raise RowInvalid("address", address[:30], f"{address_label}不能超过200个字符")
    if lat is None and not address:
        raise RowInvalid("address", "", f"{address_label}与经纬度至少填一项")
    return lng, lat, address
