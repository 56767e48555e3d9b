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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - only for ParseError; parsing goes through defusedxml

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from defusedxml.ElementTree import iterparse as safe_iterparse

from wangge.core.cells import FORMULA_TRIGGERS
from wangge.core.errors import InvalidInput

from .columns import Spec, check_headers, match_headers

XLSX_STREAM_THRESHOLD = 100 * 1024 * 1024  # bytes of uncompressed sheet XML
HEADER_SCAN_ROWS = 10  # non-empty rows looked at for the header
HEADER_SCAN_RAW_ROWS = 1000  # rows (blank ones included) looked at for the header
HEADER_SCAN_BYTES = 16 * 1024 * 1024  # decompressed bytes the header check of a web request may read
WEB_SCAN_BYTES = 32 * 1024 * 1024  # sheets up to this size are scanned whole in the web request
# Defaults of the settings WANGGE_MAX_UNCOMPRESSED_BYTES / WANGGE_MAX_COMPRESSION_RATIO (zip bombs).
MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_ZIP_MEMBERS = 10_000
CALAMINE_MAX_CELLS = 4_000_000  # calamine allocates rows x columns; above this (and sparse) we stream
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
MAX_CSV_LINE_BYTES = 1024 * 1024
_FORMULA_FIRST = "".join(FORMULA_TRIGGERS)
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


class Gap:
    """`n` empty rows left out of a sheet's XML. Readers yield one Gap instead of n empty lists, so a
    declared `<row r="1000000">` costs one step, not a million."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n


class _Limited(io.RawIOBase):
    """A read-only stream that refuses to hand out more than `limit` bytes (the header check in a web
    request reads only the top of a file)."""

    def __init__(self, raw: Any, limit: int, message: str) -> None:
        self._raw, self._left, self._message = raw, limit, message

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(min(len(b), self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise InvalidInput(self._message, code="no_header")
        b[: len(data)] = data
        return len(data)


def _csv_lines(raw: Any, encoding: str, where: dict[str, int]) -> Iterator[str]:
    """Decoded physical lines; `where` tracks the byte offset so a decoding error names its byte."""
    decode = codecs.getincrementaldecoder(encoding)().decode
    offset = 0
    while line := raw.readline(MAX_CSV_LINE_BYTES + 1):
        if len(line) > MAX_CSV_LINE_BYTES and not line.endswith(b"\n"):
            raise InvalidInput(
                f"文件第 {where['row'] + 1} 行过长（超过 {MAX_CSV_LINE_BYTES // 1024 // 1024} MB），不是正常的表格",
                code="invalid_csv",
                details={"row": where["row"] + 1, "byte": offset},
            )
        try:
            text = decode(line)
        except UnicodeDecodeError as exc:
            where["byte"] = offset + exc.start
            raise
        offset += len(line)
        where["offset"] = offset
        yield text
    decode(b"", True)


def _unquote(row: Row) -> Row:
    """Undo the apostrophe our CSV exports put before text starting with = + - @ (wangge.core.cells)."""
    for i, cell in enumerate(row):
        if cell[:1] == "'" and cell[1:2] and cell[1] in _FORMULA_FIRST:
            row[i] = cell[1:]
    return row


def _csv_rows(path: str, *, byte_limit: int | None = None) -> Iterator[Row]:
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
        source: Any = raw
        if byte_limit is not None:
            source = io.BufferedReader(_Limited(raw, byte_limit, _NO_HEADER_NEAR_TOP))
        # Lines are decoded one by one (a newline byte never occurs inside a UTF-8 or GB18030 character),
        # so rows before a bad byte are all read and the error names the row and the byte exactly.
        where = {"row": 0, "byte": 0, "offset": 0}
        reader = csv.reader(_csv_lines(source, encoding, where), delimiter=delimiter)
        try:
            for row in reader:
                where["row"] += 1
                yield _unquote(row) if any(c[:1] == "'" for c in row) else row
        except UnicodeDecodeError:
            row_no = where["row"] + 1
            raise InvalidInput(
                f"第 {row_no} 行（文件第 {where['byte'] + 1} 字节）起编码无法识别，请保存为 UTF-8 或 GBK 编码的 CSV，"
                "或使用 .xlsx",
                code="invalid_encoding",
                details={"row": row_no, "byte": where["byte"] + 1},
            )
        except csv.Error:
            row_no = where["row"] + 1
            raise InvalidInput(
                f"第 {row_no} 行 CSV 格式错误（引号不配对等），请在 Excel 中重新另存",
                code="invalid_csv",
                details={"row": row_no},
            )


def _calamine_rows(path: str, hint: dict[str, int]) -> Iterator[Row]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        with CalamineWorkbook.from_path(path) as wb:
            sheet = wb.get_sheet_by_index(0)
            hint.setdefault("total", sheet.end[0] + 1 if sheet.end else 0)  # rows from the top of the sheet
            yield from sheet.iter_rows()
    except CalamineError:
        raise InvalidInput("Excel 文件已损坏或加密，无法读取", code="invalid_file")


_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NOT_XLSX = "文件内容不是有效的 .xlsx 文件（可能是改了扩展名的其他文件，或文件已损坏）"
_NO_SHEET = "文件中没有工作表，不是有效的 Excel 工作簿；请用 Excel 另存为 .xlsx 后重新上传"
_NO_HEADER_NEAR_TOP = "未找到表头行：文件开头部分没有列名行，请确认第一行为列名"


def _read_small(zf: zipfile.ZipFile, name: str, limit: int = 16 * 1024 * 1024) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise InvalidInput(_NOT_XLSX, code="invalid_file")
    return zf.read(info)


def _sheet_xml_name(zf: zipfile.ZipFile) -> str:
    """Path of the first worksheet inside the package (from workbook.xml and its relationships)."""
    names = set(zf.namelist())
    if "xl/workbook.xml" not in names:
        raise InvalidInput(_NO_SHEET, code="invalid_file")
    try:
        wb = safe_fromstring(_read_small(zf, "xl/workbook.xml"))
        first = wb.find(f"{_NS_MAIN}sheets/{_NS_MAIN}sheet")
        rid = first.get(f"{_NS_REL}id") if first is not None else None
        part = ""
        if "xl/_rels/workbook.xml.rels" in names:
            rels = safe_fromstring(_read_small(zf, "xl/_rels/workbook.xml.rels"))
            for rel in rels:
                if rid is not None and rel.get("Id") == rid:
                    target = rel.get("Target", "")
                    part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                    break
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise InvalidInput(_NOT_XLSX, code="invalid_file")
    part = part or "xl/worksheets/sheet1.xml"
    if part not in names:
        raise InvalidInput(_NO_SHEET, code="invalid_file")
    return part


def _limits() -> tuple[int, int]:
    from django.conf import settings

    return (
        int(getattr(settings, "WANGGE_MAX_UNCOMPRESSED_BYTES", MAX_UNCOMPRESSED_BYTES)),
        int(getattr(settings, "WANGGE_MAX_COMPRESSION_RATIO", MAX_COMPRESSION_RATIO)),
    )


def xlsx_check(path: str) -> str:
    """Cheap structural checks of an .xlsx package (safe in a web request: nothing is decompressed but
    two small parts). Returns the first sheet's part name; InvalidInput for anything else.

    Zip bombs: the declared uncompressed sizes are bounded in total and per part by ratio. Reading with
    zipfile never yields more than the declared size (and checks the CRC at the end), so a part that lies
    about its size fails as a damaged file instead of inflating without bound.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidInput(_NOT_XLSX, code="invalid_file")
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InvalidInput(_NOT_XLSX, code="invalid_file")
        max_total, max_ratio = _limits()
        total = sum(i.file_size for i in infos)
        if total > max_total:
            raise InvalidInput(
                f"文件解压后过大（{total // 1024 // 1024} MB，上限 {max_total // 1024 // 1024} MB），"
                "疑似压缩炸弹，已拒绝；请拆分后分批导入",
                code="invalid_file",
                details={"uncompressed": total, "limit": max_total},
            )
        for i in infos:
            if i.file_size > 1024 * 1024 and i.file_size > max_ratio * max(i.compress_size, 1):
                raise InvalidInput(
                    f"文件压缩比异常（超过 {max_ratio} 倍），疑似压缩炸弹，已拒绝", code="invalid_file"
                )
        try:
            return _sheet_xml_name(zf)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError):
            raise InvalidInput(_NOT_XLSX, code="invalid_file")


@dataclass
class SheetScan:
    """What a sheet's XML really holds, counted without building it."""

    size: int = 0  # uncompressed bytes
    rows: int = 0  # <row> elements present
    cells: int = 0  # <c> elements present
    max_row: int = 0  # largest row number declared by r=
    max_col: int = 0  # largest column number declared by r= (1 = A)
    unnumbered: bool = False  # some row or cell has no r= (then its position is implied)

    @property
    def dense_cells(self) -> int:
        """Cells calamine would allocate: it fills the rectangle from A1 to the farthest cell."""
        return max(self.max_row, self.rows) * max(self.max_col, 1)


_ROW_TAG = re.compile(rb"<(?:[\w.-]+:)?row[\s/>]")
_ROW_R = re.compile(rb"<(?:[\w.-]+:)?row\s[^>]*?\br=\"(\d+)\"")
_CELL_TAG = re.compile(rb"<(?:[\w.-]+:)?c[\s/>]")
_CELL_R = re.compile(rb"<(?:[\w.-]+:)?c\s[^>]*?\br=\"([A-Z]+)(\d+)\"")


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _check_extent(max_row: int, max_col: int, *, row: int | None = None) -> None:
    if max_row > EXCEL_MAX_ROWS or max_col > EXCEL_MAX_COLS:
        raise InvalidInput(
            f"工作表声明的行号或列号超出 Excel 上限（{EXCEL_MAX_ROWS} 行、{EXCEL_MAX_COLS} 列），文件异常，已拒绝",
            code="invalid_file",
            details={"max_row": max_row, "max_col": max_col} if row is None else {"row": row},
        )


def xlsx_scan(path: str, part: str) -> SheetScan:
    """Count the rows and cells actually present in the sheet (regular expressions over the decompressed
    bytes, C speed, constant memory) and refuse row/column numbers beyond Excel's limits. Every other part
    is read too, so a part lying about its size is caught here (CRC) before calamine touches it."""
    scan = SheetScan()
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename == part:
                    continue
                with zf.open(info) as f:
                    while f.read(1 << 20):
                        pass
            with zf.open(part) as f:
                carry = b""
                max_cols: set[bytes] = set()
                while block := f.read(1 << 20):
                    buf = carry + block
                    cut = buf.rfind(b"<")
                    if cut < 0:
                        body, carry = buf, b""
                    else:
                        body, carry = buf[:cut], buf[cut:]
                        if len(carry) > 1 << 20:  # one tag of a megabyte: not a spreadsheet
                            raise InvalidInput(_NOT_XLSX, code="invalid_file")
                    scan.size += len(block)
                    _scan_block(body, scan, max_cols)
                _scan_block(carry, scan, max_cols)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError):
        raise InvalidInput(_NOT_XLSX, code="invalid_file")
    _check_extent(scan.max_row, scan.max_col)
    return scan


def _scan_block(body: bytes, scan: SheetScan, cols: set[bytes]) -> None:
    rows = len(_ROW_TAG.findall(body))
    numbered = _ROW_R.findall(body)
    scan.rows += rows
    if numbered:
        scan.max_row = max(scan.max_row, max(map(int, numbered)))
    cells = len(_CELL_TAG.findall(body))
    refs = _CELL_R.findall(body)
    scan.cells += cells
    if len(numbered) < rows or len(refs) < cells:
        scan.unnumbered = True
    if refs:
        widest = max((c for c, _ in refs), key=lambda c: (len(c), c))
        scan.max_col = max(scan.max_col, _col_number(widest))
        scan.max_row = max(scan.max_row, max(int(r) for _, r in refs))


def xlsx_sheet_size(path: str) -> int:
    """Uncompressed size of the first sheet's XML (0 if not a zip package)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.getinfo(_sheet_xml_name(zf)).file_size
    except (zipfile.BadZipFile, KeyError, InvalidInput):
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


class _SharedStrings:
    """The shared-string table, parsed lazily: only as far as the largest index asked for so far (the
    header check of a web request needs the first few strings, not a 100 MB table)."""

    def __init__(self, zf: zipfile.ZipFile, byte_limit: int | None) -> None:
        self._items: list[str] = []
        self._events: Iterator[Any] | None = None
        try:
            raw: Any = zf.open("xl/sharedStrings.xml")
        except KeyError:
            return
        if byte_limit is not None:
            raw = io.BufferedReader(_Limited(raw, byte_limit, _NO_HEADER_NEAR_TOP))
        self._events = safe_iterparse(raw, events=("end",))

    def __getitem__(self, index: int) -> str:
        si, t = f"{_NS_MAIN}si", f"{_NS_MAIN}t"
        while index >= len(self._items) and self._events is not None:
            try:
                _, el = next(self._events)
            except StopIteration:
                self._events = None
                break
            if el.tag == si:
                self._items.append("".join(x.text or "" for x in el.iter(t)))
                el.clear()
        if index >= len(self._items):
            raise InvalidInput("Excel 文件内容损坏（共享字符串缺失），无法读取", code="invalid_file")
        return self._items[index]


def _xlsx_stream_rows(
    path: str, hint: dict[str, int], part: str, *, byte_limit: int | None = None
) -> Iterator[Row | Gap]:
    """Rows of the first sheet, parsed incrementally (constant memory apart from shared strings read).

    Empty rows left out of the XML come as one Gap. Date cells come out as Excel serial numbers (styles
    are not read); the bulk date parser accepts them. `byte_limit` bounds the decompressed bytes read.
    """
    ns = _NS_MAIN
    row_tag, c_tag, v_tag, t_tag = f"{ns}row", f"{ns}c", f"{ns}v", f"{ns}t"
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidInput("Excel 文件已损坏，无法读取", code="invalid_file")
    with zf:
        try:
            strings = _SharedStrings(zf, byte_limit)
            expected = 1
            raw: Any = zf.open(part)
            if byte_limit is not None:
                raw = io.BufferedReader(_Limited(raw, byte_limit, _NO_HEADER_NEAR_TOP))
            with raw as f:
                for _, el in safe_iterparse(f, events=("end",)):
                    if el.tag != row_tag:
                        continue
                    number = int(el.get("r") or expected)
                    _check_extent(number, 0, row=number)
                    if number > expected:  # empty rows are left out of the XML
                        yield Gap(number - expected)
                    elif number < expected:
                        raise InvalidInput(
                            f"Excel 文件内容异常（第 {number} 行重复或顺序错乱），无法读取",
                            code="invalid_file",
                        )
                    expected = number + 1
                    values: Row = []
                    for c in el.iter(c_tag):
                        idx = _col_index(c.get("r", ""))
                        if idx < 0:
                            idx = len(values)
                        elif idx >= EXCEL_MAX_COLS or idx < len(values):
                            raise InvalidInput(
                                f"Excel 文件内容异常（第 {number} 行的单元格位置错误），无法读取",
                                code="invalid_file",
                            )
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
        except (ET.ParseError, DefusedXmlException, ValueError, IndexError):
            raise InvalidInput("Excel 文件内容损坏，无法读取", code="invalid_file")
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError):
            raise InvalidInput("Excel 文件已损坏，无法读取", code="invalid_file")


def _count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n")
    return n


def raw_rows(
    path: str, name: str, hint: dict[str, int] | None = None, *, stream: bool = False
) -> Iterator[Row | Gap]:
    """Every row of the file's first sheet, as lists of cell values (str, int, float, date, ...); runs of
    empty rows may come as one Gap.

    `hint["total"]` gets the number of rows of the sheet (header included) once it is known.
    `stream=True` is the header check of a web request: only cheap checks and the top of the file are
    read (bounded by HEADER_SCAN_BYTES); the sheet is scanned whole only when it is small.
    """
    ext = check_table_name(name)
    hint = hint if hint is not None else {}
    if ext == ".csv":
        if stream:
            return _csv_rows(path, byte_limit=HEADER_SCAN_BYTES)
        hint["total"] = _count_lines(path)
        return _csv_rows(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if ext == ".xlsx":
        if not magic.startswith(b"PK"):
            raise InvalidInput(
                "文件内容不是有效的 .xlsx 文件（可能是改了扩展名的其他文件）", code="invalid_file"
            )
        part = xlsx_check(path)
        if stream:
            with zipfile.ZipFile(path) as zf:
                small = zf.getinfo(part).file_size <= WEB_SCAN_BYTES
            if small:  # a small sheet is scanned here, so an absurd row number is a 400, not a job
                xlsx_scan(path, part)
            return _xlsx_stream_rows(path, hint, part, byte_limit=HEADER_SCAN_BYTES)
        scan = xlsx_scan(path, part)
        hint["total"] = scan.rows
        # calamine fills the rectangle up to the farthest cell: a sparse sheet (one cell at XFD1048576)
        # would need 17 billion cells. Such sheets, and very large ones, are streamed instead.
        if (
            scan.size > XLSX_STREAM_THRESHOLD
            or scan.unnumbered
            or scan.dense_cells > max(CALAMINE_MAX_CELLS, 4 * scan.cells)
        ):
            return _xlsx_stream_rows(path, hint, part)
    else:
        xls_check(path)
    return _calamine_rows(path, hint)


def xls_check(path: str) -> None:
    """The cheap check of an .xls upload: an OLE2 compound file (what is inside is read by the task)."""
    with open(path, "rb") as f:
        if not f.read(8).startswith(b"\xd0\xcf\x11\xe0"):
            raise InvalidInput("文件内容不是有效的 .xls 文件", code="invalid_file")


# --- table with header -----------------------------------------------------------------------------


def _blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class Table:
    """A header-checked table: `mapping` (column index -> key) and `rows()` of (row number, {key: cell})."""

    def __init__(self, spec: Spec, rows: Iterator[Row | Gap], hint: dict[str, int] | None = None) -> None:
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
        capped = False
        for raw, row in enumerate(self._rows):
            if isinstance(row, Gap):
                number += row.n
                continue
            number += 1
            if all(_blank(c) for c in row):
                if raw >= HEADER_SCAN_RAW_ROWS:  # a file of blank lines must not hold a web request
                    capped = True
                    break
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
            if capped:
                raise InvalidInput(_NO_HEADER_NEAR_TOP, code="no_header")
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
            if isinstance(row, Gap):
                number += row.n
                continue
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
