"""Hostile uploads (security issue item 5): each is a clear 400 / Chinese page error and changes nothing,
and no upload can hold a web request or a task worker for long."""

import io
import time
import zipfile

import pytest
from django.urls import reverse

from wangge.conftest import PASSWORD
from wangge.core.errors import InvalidInput
from wangge.exchange import readers
from wangge.exchange.models import ImportJob, ImportStatus
from wangge.exchange.services import import_job_create
from wangge.registry.models import Resident

from .conftest import RESIDENT_HEADERS, make_id, upload

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CT = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    f'<?xml version="1.0"?><workbook xmlns="{NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def _rows(rows: list[tuple[int, list[str]]]) -> str:
    out = []
    for number, values in rows:
        cells = "".join(_cell(f"{chr(65 + i)}{number}", v) for i, v in enumerate(values))
        out.append(f'<row r="{number}">{cells}</row>')
    return "".join(out)


def sheet(rows: str, *, dimension: str = "", prolog: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0"?>{prolog}<worksheet xmlns="{NS}">{dim}<sheetData>{rows}</sheetData></worksheet>'
    )


def package(sheet_xml: str | bytes | None, *, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        if sheet_xml is not None:
            z.writestr("xl/workbook.xml", _WB)
            z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
            z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


HEAD = (1, RESIDENT_HEADERS[:4])
ROW2 = (2, ["张三", make_id(1), "", "B111"])


def _post(api, content: bytes, name: str = "r.xlsx"):
    return api.post(
        reverse("api-import-list"), {"kind": "residents", "file": upload(name, content)}, format="multipart"
    )


def _refused(resp, code: str = "invalid_file") -> str:
    assert resp.status_code == 400, resp.content[:300]
    body = resp.json()
    assert body["code"] == code, body
    assert ImportJob.objects.count() == 0 and Resident.objects.count() == 0
    return body["message"]


def test_zip_without_workbook_is_a_400(world, places, api_for):
    api = api_for(world.users.community1)
    content = package(None, extra={"docProps/app.xml": b"<Properties/>", "readme.txt": b"hello"})
    message = _refused(_post(api, content))
    assert "工作表" in message or "Excel" in message


def test_zip_without_workbook_is_a_page_error(world, places, client):
    client.login(username="community1", password=PASSWORD)
    resp = client.post(
        reverse("exchange-home"), {"kind": "residents", "file": upload("r.xlsx", package(None))}
    )
    assert resp.status_code == 200 and "工作表" in resp.content.decode()
    assert ImportJob.objects.count() == 0


def test_row_300000000_is_a_quick_400(world, places, api_for):
    api = api_for(world.users.community1)
    xml = sheet(_rows([HEAD, ROW2, (300_000_000, ["x"])]), dimension="A1:D300000000")
    t = time.perf_counter()
    message = _refused(_post(api, package(xml)))
    assert time.perf_counter() - t < 5
    assert "1048576" in message


def test_row_300000000_without_dimension_is_a_quick_400(world, places, api_for):
    api = api_for(world.users.community1)
    t = time.perf_counter()
    _refused(_post(api, package(sheet(_rows([HEAD, ROW2, (300_000_000, ["x"])])))))
    assert time.perf_counter() - t < 5


def test_sparse_sheet_far_down_is_read_by_rows_present(world, places, monkeypatch):
    """A cell at XFD1048576 would make calamine allocate 17 billion cells (it aborts the process); the task
    reads such a sheet by the rows actually present, quickly."""
    monkeypatch.setattr(readers, "WEB_SCAN_BYTES", 0)  # as if the sheet were too large to scan in the web
    rows = _rows([HEAD, ROW2]) + f'<row r="1048576">{_cell("XFD1048576", "x")}</row>'
    t = time.perf_counter()
    job = import_job_create(
        actor=world.users.community1, kind="residents", upload=upload("r.xlsx", package(sheet(rows)))
    )
    assert time.perf_counter() - t < 10
    assert job.status == ImportStatus.DONE, job.message
    assert (job.processed_rows, job.created_rows) == (1, 1)
    assert Resident.objects.count() == 1


def test_huge_row_number_found_only_by_the_task_fails_the_job_and_imports_nothing(world, places, monkeypatch):
    monkeypatch.setattr(readers, "WEB_SCAN_BYTES", 0)
    xml = sheet(_rows([HEAD, ROW2, (300_000_000, ["x"])]))
    t = time.perf_counter()
    job = import_job_create(
        actor=world.users.community1, kind="residents", upload=upload("r.xlsx", package(xml))
    )
    assert time.perf_counter() - t < 10
    assert job.status == ImportStatus.FAILED and "1048576" in job.message
    assert Resident.objects.count() == 0


def _bomb(size: int) -> bytes:
    """A sheet padded with `size` bytes of spaces: ~1000:1 under deflate."""
    xml = sheet(_rows([HEAD, ROW2])).encode()
    cut = xml.index(b"<sheetData>")
    padded = xml[:cut] + b" " * size + xml[cut:]
    return package(padded)


def test_zip_bomb_is_a_400(world, places, api_for, settings):
    api = api_for(world.users.community1)
    settings.WANGGE_MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
    content = _bomb(60 * 1024 * 1024)
    assert len(content) < 200 * 1024
    message = _refused(_post(api, content))
    assert "解压" in message


def test_compression_ratio_is_bounded(world, places, api_for):
    api = api_for(world.users.community1)
    content = _bomb(30 * 1024 * 1024)  # under the size limit, but a ratio no spreadsheet has
    message = _refused(_post(api, content))
    assert "压缩" in message


def test_entity_expansion_is_refused(world, places, api_for):
    api = api_for(world.users.community1)
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    prolog = f'<!DOCTYPE worksheet [<!ENTITY l0 "lol">{lol}]>'
    xml = sheet(_rows([HEAD, (2, ["&l9;", make_id(1), "", "B111"])]), prolog=prolog)
    _refused(_post(api, package(xml)))


def test_reader_never_raises_anything_but_invalid_input(tmp_path):
    """A truncated package, a workbook pointing at a missing sheet: InvalidInput, not KeyError/BadZipFile."""
    from wangge.exchange.columns import spec_for

    good = package(sheet(_rows([HEAD, ROW2])))
    cases = {
        "truncated.xlsx": good[: len(good) // 2],
        "nosheet.xlsx": package(None, extra={"xl/workbook.xml": _WB.encode()}),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        for stream in (True, False):
            with pytest.raises(InvalidInput):
                list(readers.open_table(spec_for("residents"), str(path), name, stream=stream).rows())


def test_csv_blank_lines_do_not_hold_the_header_check(world, places, api_for):
    api = api_for(world.users.community1)
    content = b"\n" * (5 * 1024 * 1024) + ",".join(RESIDENT_HEADERS).encode() + b"\n"
    t = time.perf_counter()
    _refused(_post(api, content, "r.csv"), code="no_header")
    assert time.perf_counter() - t < 5


def test_xls_is_not_parsed_inside_the_web_request(world, places, monkeypatch, settings):
    """An .xls sheet cannot be read cheaply: calamine fills the rectangle up to the farthest cell, and this
    5.6 KB file (cells at A1 and IV65536, written with xlwt) took 1 GB of memory. The upload only queues
    the job; the task reads the file."""
    from pathlib import Path

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    content = (Path(__file__).parent / "files" / "sparse-iv65536.xls").read_bytes()
    read = []
    monkeypatch.setattr(readers, "_calamine_rows", lambda *a, **k: read.append(a) or iter(()))
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.xls", content))
    assert read == [] and job.status == ImportStatus.QUEUED
    # Not an .xls at all is still refused at once.
    with pytest.raises(InvalidInput):
        import_job_create(
            actor=world.users.community1, kind="residents", upload=upload("r.xls", b"PK\x03\x04")
        )
