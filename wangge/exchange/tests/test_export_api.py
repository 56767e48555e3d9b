"""Exports (permission, masking, audit, round trip) and the API (status codes, error shape, scope)."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from openpyxl import load_workbook

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error
from wangge.core import crypto
from wangge.exchange.columns import RESIDENTS
from wangge.exchange.models import ImportJob
from wangge.registry.models import Resident

from .conftest import RESIDENT_HEADERS, bad_check_digit, csv_bytes, make_id, xlsx_bytes


def named(content: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(content)
    f.name = name
    return f


def seed(api, user, n=3, **extra):
    rows = [RESIDENT_HEADERS] + [
        [
            f"居民{i}",
            make_id(i),
            f"1381234{i:04d}",
            "B111",
            "1",
            f"{100 + i}",
            "户主",
            "租住",
            "汉族",
            "残疾人、低保户" if i == 1 else "",
            "2024-01-05",
        ]
        for i in range(1, n + 1)
    ]
    resp = api(user).post(
        "/api/v1/imports/",
        {"kind": "residents", "file": named(xlsx_bytes(rows), "r.xlsx")},
        format="multipart",
    )
    assert resp.status_code == 201, resp.content
    return resp.json()


def body(resp):
    return b"".join(resp.streaming_content) if resp.streaming else resp.content


def xlsx_rows(content):
    return [list(r) for r in load_workbook(io.BytesIO(content)).worksheets[0].values]


def test_api_import_create_and_detail(world, places, api_for):
    job = seed(api_for, world.users.community1)
    assert job["status"] == "done" and job["created_rows"] == 3 and job["percent"] == 100
    assert job["error_report_url"] is None
    detail = api_for(world.users.community1).get(f"/api/v1/imports/{job['id']}/")
    assert detail.status_code == 200 and detail.json()["processed_rows"] == 3
    listed = api_for(world.users.community1).get("/api/v1/imports/").json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]


def test_api_error_report_download(world, places, api_for):
    bad = bad_check_digit(make_id(9))
    rows = [RESIDENT_HEADERS, ["甲", bad, "", "B111", "", "", "", "", "", "", ""]]
    resp = api_for(world.users.community1).post(
        "/api/v1/imports/", {"kind": "residents", "file": named(csv_bytes(rows), "r.csv")}, format="multipart"
    )
    job = resp.json()
    assert job["error_rows"] == 1 and job["error_report_url"].endswith(f"/api/v1/imports/{job['id']}/errors/")
    report = api_for(world.users.community1).get(f"/api/v1/imports/{job['id']}/errors/")
    assert report.status_code == 200
    content = body(report)
    assert bad.encode() not in content
    assert xlsx_rows(content)[0] == ["行号", "列", "内容", "错误原因"]
    # Someone outside the importer's territory gets 404 for the job and its report.
    assert_error(api_for(world.users.community2).get(f"/api/v1/imports/{job['id']}/"), 404, "not_found")
    assert_error(api_for(world.users.street2).get(f"/api/v1/imports/{job['id']}/errors/"), 404)
    # The street above sees it.
    assert api_for(world.users.street1).get(f"/api/v1/imports/{job['id']}/").status_code == 200


def test_api_import_errors_shape(world, places, api_for):
    api = api_for(world.users.community1)
    assert_error(api.post("/api/v1/imports/", {"kind": "residents"}, format="multipart"), 400, "invalid")
    assert_error(
        api.post("/api/v1/imports/", {"kind": "nope", "file": named(b"x", "r.csv")}, format="multipart"), 400
    )
    f = io.BytesIO(xlsx_bytes([["姓名", "楼栋编码"], ["张三", "B111"]]))
    f.name = "r.xlsx"
    resp = api.post("/api/v1/imports/", {"kind": "residents", "file": f}, format="multipart")
    err = assert_error(resp, 400, "missing_columns")
    assert err["details"]["missing"] == ["身份证号"]
    f = io.BytesIO(b"hello")
    f.name = "r.pdf"
    assert_error(
        api.post("/api/v1/imports/", {"kind": "residents", "file": f}, format="multipart"),
        400,
        "unsupported_file_type",
    )
    # Grid workers may not import; anonymous callers are refused.
    f = io.BytesIO(xlsx_bytes([RESIDENT_HEADERS]))
    f.name = "r.xlsx"
    assert_error(
        api_for(world.users.grid1).post(
            "/api/v1/imports/", {"kind": "residents", "file": f}, format="multipart"
        ),
        403,
    )
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/v1/imports/"), 401)
    assert_error(api.get("/api/v1/imports/999999/"), 404, "not_found")


def test_templates(world, api_for, client):
    for kind in ("residents", "buildings", "places", "facilities"):
        resp = api_for(world.users.community1).get(f"/api/v1/imports/templates/{kind}/")
        assert resp.status_code == 200
        wb = load_workbook(io.BytesIO(resp.content))
        assert wb.sheetnames[1] == "填写说明"
        headers = [c.value for c in wb.worksheets[0][1]]
        assert headers == __import__("wangge.exchange.columns", fromlist=["SPECS"]).SPECS[kind].headers
    assert "attachment" in resp["Content-Disposition"]
    resp = api_for(world.users.community1).get("/api/v1/imports/templates/residents/")
    notes = [r for r in load_workbook(io.BytesIO(resp.content)).worksheets[1].values]
    assert any(r[0] == "重点人群" and "残疾人" in (r[3] or "") for r in notes)
    assert_error(api_for(world.users.community1).get("/api/v1/imports/templates/nope/"), 400, "invalid_kind")
    grids = api_for(world.users.admin).get("/api/v1/imports/templates/grids/")
    assert grids.status_code == 200 and b"FeatureCollection" in grids.content


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_round_trip_reimports_as_updates(world, places, api_for, fmt):
    seed(api_for, world.users.community1, n=4)
    resp = api_for(world.users.community1).get(f"/api/v1/exports/residents/?format={fmt}")
    assert resp.status_code == 200 and resp["X-Export-Masked"] == "0" and resp["X-Export-Count"] == "4"
    content = body(resp)
    if fmt == "xlsx":
        rows = xlsx_rows(content)
    else:
        assert content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == RESIDENTS.headers
    assert sorted(r[1].strip() for r in rows[1:]) == sorted(make_id(i) for i in range(1, 5))
    first = next(r for r in rows[1:] if r[0] == "居民1")
    assert first[9] == "残疾人、低保户" and first[7] == "租住" and str(first[10]) == "2024-01-05"
    f = io.BytesIO(content)
    f.name = f"export.{fmt}"
    job = (
        api_for(world.users.community1)
        .post("/api/v1/imports/", {"kind": "residents", "file": f}, format="multipart")
        .json()
    )
    assert (job["created_rows"], job["updated_rows"], job["error_rows"]) == (0, 4, 0), job["message"]
    r = Resident.objects.get(id_hash=crypto.digest(make_id(1)))
    assert set(r.tags.values_list("code", flat=True)) == {"disabled", "low_income"}


def test_export_scope_masking_permission_and_audit(world, places, api_for):
    seed(api_for, world.users.community1, n=2)
    # The other community sees none of them.
    resp = api_for(world.users.community2).get("/api/v1/exports/residents/?format=csv")
    assert resp.status_code == 200 and resp["X-Export-Count"] == "0"
    # A grid worker (view_register, no export_personal) gets masked values.
    resp = api_for(world.users.grid1).get("/api/v1/exports/residents/?format=csv")
    text = body(resp).decode("utf-8-sig")
    assert resp["X-Export-Masked"] == "1" and make_id(1) not in text and make_id(1)[:6] + "********" in text
    audit = AuditEntry.objects.filter(action="export.residents", actor=world.users.grid1).get()
    assert audit.after["count"] == 2 and audit.after["masked"] is True and audit.path == world.g111.code
    assert make_id(1) not in str(audit.after)
    full = AuditEntry.objects.filter(action="export.residents", actor=world.users.community2).get()
    assert full.after["count"] == 0
    # Without view_register: refused.
    assert_error(api_for(world.users.dept1).get("/api/v1/exports/residents/"), 403)
    assert_error(
        api_for(world.users.community1).get("/api/v1/exports/residents/?format=pdf"), 400, "invalid_format"
    )
    assert_error(api_for(world.users.community1).get("/api/v1/exports/nope/"), 400, "invalid_kind")


def test_export_personal_permission_is_what_unmasks(world, places, api_for):
    seed(api_for, world.users.community1, n=1)
    user = world.users.grid1
    user.user_permissions.add(Permission.objects.get(codename="export_personal"))
    user = type(user).objects.get(pk=user.pk)
    resp = api_for(user).get("/api/v1/exports/residents/?format=csv")
    assert resp["X-Export-Masked"] == "0" and make_id(1) in body(resp).decode("utf-8-sig")


def test_job_ownership(world, places, api_for):
    job = seed(api_for, world.users.community1, n=1)
    assert ImportJob.objects.get(pk=job["id"]).created_by == world.users.community1
    assert api_for(world.users.community1).get("/api/v1/imports/").json()["count"] == 1
    assert api_for(world.users.community2).get("/api/v1/imports/").json()["count"] == 0
