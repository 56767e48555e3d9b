"""Writing the files people download: templates, error reports and exports (.xlsx and .csv)."""

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from wangge.core.cells import csv_row, xlsx_row
from wangge.registry.bulk import RowError
from wangge.registry.models import FacilityClass, KeyGroup

from .columns import Spec

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
_BOLD = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")


def _header_cells(ws: Any, headers: list[str], required: set[str] | None = None) -> list[WriteOnlyCell]:
    cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = _BOLD
        if required and h in required:
            cell.fill = _REQUIRED_FILL
        cells.append(cell)
    return cells


def template_xlsx(spec: Spec) -> bytes:
    """An empty register with the header row, plus a second sheet explaining every column."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(spec.label.replace("/", "、"))
    for i, c in enumerate(spec.columns):
        letter = chr(ord("A") + i)
        ws.column_dimensions[letter].width = 22 if c.personal or c.key in ("tags", "address") else 14
        if c.key in ("id_number", "phone", "code", "building", "grid", "credit_code"):
            # Text format, so Excel keeps 18-digit numbers and leading zeros.
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"
    ws.append(_header_cells(ws, spec.headers, {c.header for c in spec.columns if c.required}))

    notes = wb.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 60
    notes.column_dimensions["D"].width = 40
    notes.append(_header_cells(notes, ["列名", "是否必填", "说明", "可选值"]))
    for c in spec.columns:
        allowed = "、".join(c.choices)
        if c.key == "tags":
            allowed = "、".join(
                KeyGroup.objects.filter(kind=KeyGroup.Kind.SET).values_list("name", flat=True)
            )
        extra = f"（也可写作：{'、'.join(c.aliases)}）" if c.aliases else ""
        # Key-group names are edited in the admin: text from the database goes out formula-safe.
        notes.append(
            xlsx_row(notes, [c.header, "必填" if c.required else "", (c.help + extra).strip(), allowed])
        )
    notes.append([])
    for line in ("说明：第一行为列名，从第二行开始每行一条记录；可以增加其他列，导入时会忽略。", *spec.notes):
        notes.append([line])
    if spec.kind == "facilities":
        notes.append([])
        notes.append(_header_cells(notes, ["分类代码", "大类", "小类"]))
        for fc in FacilityClass.objects.all():
            notes.append(xlsx_row(notes, [f"{fc.major}{fc.minor}", fc.major_name, fc.name]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


GRIDS_TEMPLATE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "420802001001001", "name": "示例第一网格", "grid_type": "basic"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[112.20, 31.03], [112.205, 31.03], [112.205, 31.035], [112.20, 31.035], [112.20, 31.03]]
                ],
            },
        }
    ],
}


def grids_template() -> bytes:
    return json.dumps(GRIDS_TEMPLATE, ensure_ascii=False, indent=2).encode()


def error_report_xlsx(errors: Iterable[RowError], *, header_of: Any, total: int, kept: int) -> bytes:
    """行号, 列, 内容, 错误原因. `value`s are already masked for personal columns."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误报告")
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 28
    ws.column_dimensions["D"].width = 60
    ws.append(_header_cells(ws, ["行号", "列", "内容", "错误原因"]))
    for e in sorted(
        errors, key=lambda e: e.row
    ):  # rows rejected while writing come after their chunk's others
        # e.value is what the uploader typed: "=HYPERLINK(...)" must come back as text, not a formula.
        ws.append(xlsx_row(ws, [e.row, header_of(e.column) or "（整行）", e.value, e.message]))
    if total > kept:
        ws.append([])
        ws.append(["", "", "", f"共 {total} 条错误，此处只列出前 {kept} 条。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_xlsx(spec: Spec, rows: Iterable[list[Any]], *, note: str = "") -> Any:
    """Write rows to a temporary .xlsx (write-only: rows go to disk as they come) and return it, rewound."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(spec.label.replace("/", "、"))
    for i, c in enumerate(spec.columns):
        letter = chr(ord("A") + i)
        ws.column_dimensions[letter].width = 22 if c.personal else 14
    ws.freeze_panes = "A2"
    ws.append(_header_cells(ws, spec.headers))
    for row in rows:
        ws.append(xlsx_row(ws, row))
    if note:
        info = wb.create_sheet("说明")
        info.append([note])
    tmp = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by the response
    wb.save(tmp)
    tmp.seek(0)
    return tmp


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv(spec: Spec, rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """UTF-8 with BOM (Excel then opens it correctly). ID and phone cells get a leading tab so Excel keeps
    them as text; the importer strips it. Text that a spreadsheet would read as a formula (= + - @ ...)
    gets a leading apostrophe (wangge.core.cells)."""
    writer = csv.writer(_Echo())
    personal = [i for i, c in enumerate(spec.columns) if c.personal or c.key in ("id_number",)]
    yield b"\xef\xbb\xbf" + writer.writerow(spec.headers).encode()
    batch: list[str] = []
    for row in rows:
        row = csv_row(row)
        for i in personal:
            if row[i]:
                row[i] = "\t" + str(row[i])
        batch.append(writer.writerow(row))
        if len(batch) >= 500:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()
