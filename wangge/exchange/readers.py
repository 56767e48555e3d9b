"""Reading uploaded tables (.xlsx/.xls and .csv) as a stream of rows.

- .xlsx/.xls: python-calamine (fast; it holds the parsed sheet in memory, then rows are converted to
  Python one at a time). Sheets whose XML is larger than XLSX_STREAM_THRESHOLD are read instead with a
  streaming ElementTree parser (slower, but memory stays flat whatever the size).
- .csv: UTF-8 with or without BOM, or GB18030 (a superset of GBK, what Excel on Chinese Windows writes);
  comma- or tab-separated.

The header row is the first of the first ten non-empty rows that names at least two known columns
(offices often put a title row like "XX社区居民信息台账" above it). Errors are InvalidInput in Chinese.
"""

import codecs
import contextlib
import csv
import datetime
import io
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - parses the user's own spreadsheet; expat has no XXE

from wangge.core.errors import InvalidInput

from .columns import Spec, check_headers, match_headers

XLSX_STREAM_THRESHOLD = 100 * 1024 * 1024  # bytes of uncompressed sheet XML
HEADER_SCAN_ROWS = 10
TABLE_EXTENSIONS = (".xlsx", ".xls", ".csv")

Cell = Any
Row = list[Cell]


@contextlib.contextmanager
def upload_path(upload: Any, name: str) -> Iterator[str]:
    """A filesystem path for the upload (temporary uploads already have one; in-memory ones get one)."""
    temp = getattr(upload, "temporary_file_path", None)
    if temp is not None:
        yield temp()
        return
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix.lower()) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        yield tmp.name


def extension_of(name: str) -> str:
    return Path(name or "").suffix.lower()


def check_table_name(name: str) -> str:
    ext = extension_of(name)
    if ext not in TABLE_EXTENSIONS:
        raise InvalidInput("只支持 Excel（.xlsx、.xls）和 CSV（.csv）文件", code="unsupported_file_type")
    return ext


# --- raw row sources ---------------------------------------------------------------------------------


def _csv_rows(path: str) -> Iterator[Row]:
    with open(path, "rb") as raw:
        head = raw.read(65536)
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise InvalidInput(
                "不支持 UTF-16 编码的文本文件，请在 Excel 中另存为“CSV UTF-8”或 .xlsx",
                code="unsupported_encoding",
            )
        else:
            try:
                codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
                encoding = "utf-8"
            except UnicodeDecodeError:
                encoding = "gb18030"
        if b"\x00" in head:
            raise InvalidInput("文件内容不是文本表格，请上传 .xlsx 或 .csv 文件", code="invalid_file")
        raw.seek(0)
        first_line = head.split(b"\n", 1)[0]
        delimiter = "\t" if first_line.count(b"\t") > first_line.count(b",") else ","
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            yield from csv.reader(text, delimiter=delimiter)
        except UnicodeDecodeError:
            raise InvalidInput(
                "文件编码无法识别，请保存为 UTF-8 或 GBK 编码的 CSV，或使用 .xlsx", code="invalid_encoding"
            )
        except csv.Error:
            raise InvalidInput("CSV 格式错误（引号不配对等），请在 Excel 中重新另存", code="invalid_csv")


def _calamine_rows(path: str, hint: dict[str, int]) -> Iterator[Row]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with CalamineWorkbook.from_path(path) as wb:
            sheet = wb.get_sheet_by_index(0)
            hint["total"] = sheet.end[0] + 1 if sheet.end else 0  # rows from the top of the sheet
            yield from sheet.iter_rows()
    except CalamineError:
        raise InvalidInput("Excel 文件已损坏或加密，无法读取", code="invalid_file")


def _sheet_xml_name(zf: zipfile.ZipFile) -> str:
    """Path of the first worksheet inside the package (from workbook.xml and its relationships)."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))  # noqa: S314
        first = wb.find(f"{ns_main}sheets/{ns_main}sheet")
        rid = first.get(f"{ns_rel}id") if first is not None else None
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
        for rel in rels:
            if rel.get("Id") == rid:
                target = rel.get("Target", "")
                return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    except (KeyError, ET.ParseError):
        pass
    return "xl/worksheets/sheet1.xml"


def xlsx_sheet_size(path: str) -> int:
    """Uncompressed size of the first sheet's XML (0 if not a zip package)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.getinfo(_sheet_xml_name(zf)).file_size
    except (zipfile.BadZipFile, KeyError):
        return 0


_COL = re.compile(r"[A-Z]+")


def _col_index(ref: str) -> int:
    m = _COL.match(ref or "")
    if not m:
        return -1
    n = 0
    for ch in m.group(0):
        n = n * 26 + ord(ch) - 64
    return n - 1


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    try:
        f = zf.open("xl/sharedStrings.xml")
    except KeyError:
        return []
    out: list[str] = []
    with f:
        for _, el in ET.iterparse(f, events=("end",)):  # noqa: S314
            if el.tag == f"{ns}si":
                out.append("".join(t.text or "" for t in el.iter(f"{ns}t")))
                el.clear()
    return out


def _xlsx_stream_rows(path: str, hint: dict[str, int]) -> Iterator[Row]:
    """Rows of the first sheet, parsed incrementally (constant memory apart from shared strings).

    Date cells come out as Excel serial numbers (styles are not read); the bulk date parser accepts them.
    """
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    row_tag, c_tag, v_tag, t_tag, dim_tag = f"{ns}row", f"{ns}c", f"{ns}v", f"{ns}t", f"{ns}dimension"
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidInput("Excel 文件已损坏，无法读取", code="invalid_file")
    with zf:
        strings = _shared_strings(zf)
        expected = 1
        with zf.open(_sheet_xml_name(zf)) as f:
            try:
                for _, el in ET.iterparse(f, events=("end",)):  # noqa: S314
                    if el.tag != row_tag:
                        if el.tag == dim_tag:
                            last = (el.get("ref") or "").rpartition(":")[2]
                            digits = "".join(ch for ch in last if ch.isdigit())
                            if digits:
                                hint["total"] = int(digits)
                        continue
                    number = int(el.get("r") or expected)
                    while expected < number:  # empty rows are left out of the XML
                        yield []
                        expected += 1
                    expected = number + 1
                    values: Row = []
                    for c in el.iter(c_tag):
                        idx = _col_index(c.get("r", ""))
                        if idx < 0:
                            idx = len(values)
                        while len(values) < idx:
                            values.append(None)
                        t = c.get("t")
                        if t == "inlineStr":
                            values.append("".join(x.text or "" for x in c.iter(t_tag)))
                            continue
                        v = c.find(v_tag)
                        text = v.text if v is not None else None
                        if text is None:
                            values.append(None)
                        elif t == "s":
                            values.append(strings[int(text)])
                        elif t in ("str", "e"):
                            values.append(text)
                        elif t == "b":
                            values.append(text == "1")
                        else:
                            num = float(text)
                            values.append(int(num) if num.is_integer() and "E" not in text.upper() else num)
                    el.clear()
                    yield values
            except ET.ParseError:
                raise InvalidInput("Excel 文件内容损坏，无法读取", code="invalid_file")


def _count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
    return n


def raw_rows(
    path: str, name: str, hint: dict[str, int] | None = None, *, stream: bool = False
) -> Iterator[Row]:
    """Every row of the file's first sheet, as lists of cell values (str, int, float, date, ...).

    `hint["total"]` gets the number of rows of the sheet (header included) once it is known.
    `stream` reads .xlsx with the streaming parser whatever the size (to look at the first rows only).
    """
    ext = check_table_name(name)
    hint = hint if hint is not None else {}
    if ext == ".csv":
        hint["total"] = _count_lines(path)
        return _csv_rows(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if ext == ".xlsx":
        if not magic.startswith(b"PK"):
            raise InvalidInput(
                "文件内容不是有效的 .xlsx 文件（可能是改了扩展名的其他文件）", code="invalid_file"
            )
        if stream or xlsx_sheet_size(path) > XLSX_STREAM_THRESHOLD:
            return _xlsx_stream_rows(path, hint)
    elif not magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput("文件内容不是有效的 .xls 文件", code="invalid_file")
    return _calamine_rows(path, hint)


# --- table with header -----------------------------------------------------------------------------


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class Table:
    """A header-checked table: `mapping` (column index -> key) and `rows()` of (row number, {key: cell})."""

    def __init__(self, spec: Spec, rows: Iterator[Row], hint: dict[str, int] | None = None) -> None:
        self.spec = spec
        self._rows = rows
        self._hint = hint if hint is not None else {}
        self.header_row = 0
        self.mapping: dict[int, str] = {}
        self._find_header()

    def _find_header(self) -> None:
        first: Row | None = None
        seen = 0
        number = 0
        for row in self._rows:
            number += 1
            if all(_blank(c) for c in row):
                continue
            if first is None:
                first = row
            seen += 1
            if len(match_headers(self.spec, row)) >= min(2, len(self.spec.columns)):
                self.mapping = check_headers(self.spec, row)
                self.header_row = number
                return
            if seen >= HEADER_SCAN_ROWS:
                break
        if first is None:
            raise InvalidInput("文件是空的，没有任何内容", code="empty_file")
        # No recognisable header: report it against the first non-empty row.
        check_headers(self.spec, first)
        raise InvalidInput(
            "未找到表头行：第一行应为列名，如 " + "、".join(self.spec.headers[:4]), code="no_header"
        )

    @property
    def total_rows(self) -> int:
        """Data rows expected (an estimate: blank rows are counted; 0 when unknown)."""
        return max(0, int(self._hint.get("total", 0)) - self.header_row)

    @property
    def keys(self) -> set[str]:
        return set(self.mapping.values())

    def rows(self) -> Iterator[tuple[int, dict[str, Cell]]]:
        mapping = list(self.mapping.items())
        number = self.header_row
        for row in self._rows:
            number += 1
            n = len(row)
            values = {key: (row[i] if i < n else None) for i, key in mapping}
            if all(_blank(v) for v in values.values()):
                continue
            yield number, values


def open_table(spec: Spec, path: str, name: str, *, stream: bool = False) -> Table:
    hint: dict[str, int] = {}
    return Table(spec, iter(raw_rows(path, name, hint, stream=stream)), hint)


def cell_to_text(value: Cell) -> str:
    """A cell as text for reports (dates ISO, integral floats without '.0')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()
