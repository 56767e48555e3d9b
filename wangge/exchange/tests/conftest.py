"""Fixtures for the import/export tests: immediate task backend, buildings in the shared world, files."""

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook
from stdnum.cn import ric

from wangge.territory.models import Building


@pytest.fixture(autouse=True)
def _immediate_tasks(settings: Any, tmp_path: Path) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.MEDIA_ROOT = str(tmp_path / "media")


def make_id(seq: int, *, birth: str = "19800101", area: str = "420802") -> str:
    """A valid 18-character ID number (correct check digit)."""
    base = f"{area}{birth}{seq % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


def bad_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


@pytest.fixture
def places(world: Any) -> SimpleNamespace:
    """Buildings B111 (grid g111), B112 (g112), B121 (g121, other community), B211 (other street)."""
    out = {}
    for code, grid in (
        ("B111", world.g111),
        ("B112", world.g112),
        ("B121", world.g121),
        ("B211", world.g211),
    ):
        out[code] = Building.objects.create(code=code, name=f"{code}栋", grid=grid, path=grid.code)
    return SimpleNamespace(**out)


RESIDENT_HEADERS = [
    "姓名",
    "身份证号",
    "手机号",
    "楼栋编码",
    "单元",
    "房号",
    "与户主关系",
    "居住类型",
    "民族",
    "重点人群",
    "迁入日期",
]


def xlsx_bytes(rows: list[list[Any]], *, title_row: str | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)
