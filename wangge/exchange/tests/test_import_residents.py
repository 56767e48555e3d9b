"""Residents import: the edge cases of issue item 6, through the real service + task path."""

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from wangge.audit.models import AuditEntry
from wangge.core import crypto
from wangge.core.errors import Forbidden, InvalidInput
from wangge.exchange.models import ImportJob, ImportStatus
from wangge.exchange.services import import_job_create
from wangge.registry.models import KeyGroup, Occupancy, Resident
from wangge.territory.models import Dwelling

from .conftest import RESIDENT_HEADERS, bad_check_digit, csv_bytes, make_id, upload, xlsx_bytes


def row(i: int, **kw):
    base = {
        "姓名": f"居民{i}",
        "身份证号": make_id(i),
        "手机号": f"1381234{i:04d}",
        "楼栋编码": "B111",
        "单元": "1",
        "房号": f"{100 + i}",
        "与户主关系": "户主",
        "居住类型": "常住",
        "民族": "汉族",
        "重点人群": "",
        "迁入日期": "2024-01-05",
    }
    base.update(kw)
    return [base[h] for h in RESIDENT_HEADERS]


def run(user, rows, name="r.xlsx", headers=RESIDENT_HEADERS, **kw):
    content = xlsx_bytes([headers, *rows], **kw) if name.endswith(".xlsx") else csv_bytes([headers, *rows])
    return import_job_create(actor=user, kind="residents", upload=upload(name, content))


def report_rows(job):
    with job.error_report.open("rb") as f:
        wb = load_workbook(io.BytesIO(f.read()))
    return list(wb.active.values)[1:]


def test_valid_rows_create_residents_dwellings_occupancies_and_tags(world, places):
    job = run(world.users.community1, [row(1, 重点人群="残疾人、low_income"), row(2, 单元="", 房号="")])
    assert job.status == ImportStatus.DONE and (job.created_rows, job.error_rows) == (2, 0), job.message
    r1 = Resident.objects.get(id_hash=crypto.digest(make_id(1)))
    assert r1.path == world.g111.code and r1.building_id == places.B111.pk
    assert crypto.decrypt(r1.id_number_enc) == make_id(1) and r1.birth_date == date(1980, 1, 1)
    assert crypto.decrypt(r1.phone_enc) == "13812340001"
    assert (r1.dwelling.unit, r1.dwelling.room, r1.dwelling.path) == ("1", "101", world.g111.code)
    assert set(r1.tags.values_list("code", flat=True)) == {"disabled", "low_income"}
    assert Occupancy.objects.get(resident=r1).moved_in == date(2024, 1, 5)
    r2 = Resident.objects.get(id_hash=crypto.digest(make_id(2)))
    assert r2.dwelling_id is None and not Occupancy.objects.filter(resident=r2).exists()


def test_reimport_same_file_updates_not_duplicates(world, places):
    # The same bytes twice (two builds of a workbook differ when a second ticks between them: openpyxl
    # writes the creation time).
    content = xlsx_bytes([RESIDENT_HEADERS, *[row(i) for i in range(1, 6)]])
    first = import_job_create(
        actor=world.users.community1, kind="residents", upload=upload("r.xlsx", content)
    )
    second = import_job_create(
        actor=world.users.community1, kind="residents", upload=upload("r.xlsx", content)
    )
    assert (first.created_rows, second.created_rows, second.updated_rows) == (5, 0, 5)
    assert first.file_sha256 == second.file_sha256
    assert Resident.objects.count() == 5 and Dwelling.objects.count() == 5 and Occupancy.objects.count() == 5


def test_reimport_changes_values_moves_dwelling_and_retags(world, places):
    run(world.users.community1, [row(1, 重点人群="残疾人")])
    job = run(world.users.community1, [row(1, 姓名="改名", 房号="909", 重点人群="空巢老人", 手机号="")])
    assert job.updated_rows == 1, job.message
    r = Resident.objects.get()
    assert r.name == "改名" and r.phone_enc == "" and r.phone_hash is None
    assert r.dwelling.room == "909"
    assert list(r.tags.values_list("code", flat=True)) == ["empty_nest"]
    occ = list(Occupancy.objects.filter(resident=r).order_by("id"))
    assert len(occ) == 2 and occ[0].moved_out is not None and occ[1].moved_out is None


def test_absent_column_leaves_values_untouched(world, places):
    run(world.users.community1, [row(1, 民族="回族")])
    headers = ["姓名", "身份证号", "楼栋编码"]
    job = run(world.users.community1, [["新名字", make_id(1), "B111"]], headers=headers)
    assert job.updated_rows == 1, job.message
    r = Resident.objects.get()
    assert r.name == "新名字" and r.ethnicity == "回族" and crypto.decrypt(r.phone_enc) == "13812340001"


def test_bad_id_check_digit_is_a_row_error_and_report_is_masked(world, places):
    bad = bad_check_digit(make_id(3))
    job = run(world.users.community1, [row(1), row(3, 身份证号=bad)])
    assert (job.created_rows, job.error_rows) == (1, 1)
    [(line, column, value, reason)] = report_rows(job)
    assert (line, column) == (3, "身份证号") and "校验位" in reason
    assert bad not in value and value.startswith(bad[:6]) and "*" in value
    # No plaintext ID number anywhere in the report, the job or the audit trail.
    with job.error_report.open("rb") as f:
        raw = f.read()
    assert bad.encode() not in raw
    assert not AuditEntry.objects.filter(after__icontains=bad).exists()


def test_id_stored_as_number_by_excel_is_explained(world, places):
    job = run(world.users.community1, [row(1, 身份证号=4.20802198001011e17)])
    [(_, _, _, reason)] = report_rows(job)
    assert "文本" in reason


@pytest.mark.parametrize(
    "value,ok",
    [
        ("2024-01-05", True),
        ("2024/1/5", True),
        ("2024年1月5日", True),
        ("2024.1.5", True),
        ("20240105", True),
        (date(2024, 1, 5), True),
        (45296, True),
        ("2024-02-30", False),
        ("去年", False),
        ("2999-01-01", False),
    ],
)
def test_dates(world, places, value, ok):
    job = run(world.users.community1, [row(1, 迁入日期=value)])
    if ok:
        assert job.created_rows == 1, job.message
        assert Occupancy.objects.get().moved_in == date(2024, 1, 5)
    else:
        assert job.error_rows == 1
        assert report_rows(job)[0][1] == "迁入日期"


def test_duplicate_id_in_file_points_at_first_row(world, places):
    job = run(world.users.community1, [row(1), row(2), row(1, 姓名="又一个")])
    assert (job.created_rows, job.error_rows) == (2, 1)
    [(line, column, _, reason)] = report_rows(job)
    assert line == 4 and column == "身份证号" and "第 2 行" in reason


def test_out_of_scope_building_rows_are_errors_never_written(world, places):
    job = run(
        world.users.community1,
        [row(1), row(2, 楼栋编码="B211"), row(3, 楼栋编码="B121"), row(4, 楼栋编码="NOPE")],
    )
    assert (job.created_rows, job.error_rows) == (1, 3)
    reasons = {r[0]: r[3] for r in report_rows(job)}
    assert reasons[3] == reasons[4] == "楼栋不在您的管辖范围内"
    assert "不存在" in reasons[5]
    assert Resident.objects.count() == 1


def test_existing_resident_in_other_territory_cannot_be_overwritten(world, places):
    run(world.users.street2, [row(1, 楼栋编码="B211")])
    job = run(world.users.community1, [row(1, 姓名="冒名")])
    assert job.error_rows == 1 and job.created_rows == job.updated_rows == 0
    assert Resident.objects.get().name == "居民1"


def test_other_row_errors(world, places):
    job = run(
        world.users.community1,
        [
            row(1, 姓名=""),
            row(2, 手机号="12345"),
            row(3, 与户主关系="邻居"),
            row(4, 重点人群="外星人"),
            row(5, 单元="2", 房号=""),
            row(6, 与户主关系="妻子", 居住类型="流动人口"),
        ],
    )
    assert (job.created_rows, job.error_rows) == (1, 5)
    columns = sorted(r[1] for r in report_rows(job))
    assert columns == sorted(["姓名", "手机号", "与户主关系", "重点人群", "房号"])
    r = Resident.objects.get()
    assert (r.household_role, r.residence_type) == ("spouse", "floating")


def test_header_variants_title_row_and_unknown_columns(world, places):
    headers = ["序号", "居民姓名", "公民身份号码", "联系电话", "楼栋编码", "备注"]
    job = run(
        world.users.community1,
        [[1, "张三", make_id(1), "13900001111", "B111", "随便写"]],
        headers=headers,
        title_row="六合社区居民信息台账",
    )
    assert job.created_rows == 1, job.message
    assert crypto.decrypt(Resident.objects.get().phone_enc) == "13900001111"


def test_missing_required_headers_one_clear_error_before_any_row(world, places):
    with pytest.raises(InvalidInput) as exc:
        run(world.users.community1, [["张三", "B111"]], headers=["姓名", "楼栋编码", "电话"])
    assert exc.value.code == "missing_columns" and "身份证号" in exc.value.message
    assert exc.value.details["missing"] == ["身份证号"]
    assert not ImportJob.objects.exists() and not Resident.objects.exists()


def test_wrong_headers(world, places):
    with pytest.raises(InvalidInput) as exc:
        run(world.users.community1, [["a", "b"]], headers=["foo", "bar", "baz"])
    assert exc.value.code == "missing_columns"


@pytest.mark.parametrize(
    "name,content,code",
    [
        ("empty.xlsx", b"", "empty_file"),
        ("empty.csv", b"", "empty_file"),
        ("blank.csv", b"\n\n ,\n", "empty_file"),
        ("x.txt", b"hello", "unsupported_file_type"),
        ("fake.xlsx", b"not a zip file at all", "invalid_file"),
    ],
)
def test_bad_files_refused(world, places, name, content, code):
    with pytest.raises(InvalidInput) as exc:
        import_job_create(actor=world.users.community1, kind="residents", upload=upload(name, content))
    assert exc.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)


def test_too_large_file_refused(world, places, settings):
    settings.WANGGE_MAX_UPLOAD_BYTES = 100
    with pytest.raises(InvalidInput) as exc:
        run(world.users.community1, [row(i) for i in range(10)], name="r.csv")
    assert exc.value.code == "file_too_large" and "不能超过" in exc.value.message


def test_header_only_file_fails_with_message(world, places):
    job = run(world.users.community1, [])
    assert job.status == ImportStatus.FAILED and "没有数据行" in job.message


def test_empty_xlsx_workbook(world, places):
    with pytest.raises(InvalidInput) as exc:
        import_job_create(
            actor=world.users.community1, kind="residents", upload=upload("e.xlsx", xlsx_bytes([]))
        )
    assert exc.value.code == "empty_file"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_csv_encodings(world, places, encoding):
    content = csv_bytes([RESIDENT_HEADERS, row(1, 姓名="欧阳娜娜", 民族="维吾尔族")], encoding=encoding)
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.csv", content))
    assert job.created_rows == 1, job.message
    r = Resident.objects.get()
    assert (r.name, r.ethnicity) == ("欧阳娜娜", "维吾尔族")


def test_progress_counters_every_chunk(world, places, monkeypatch):
    from wangge.registry import bulk

    seen = []
    original = bulk._run_chunks

    def spy(*args, **kwargs):
        inner = kwargs["on_chunk"]

        def on_chunk(result):
            inner(result)
            job = ImportJob.objects.latest("id")
            seen.append((job.processed_rows, job.created_rows, job.total_rows))

        kwargs["on_chunk"] = on_chunk
        kwargs["chunk_size"] = 3
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk, "_run_chunks", spy)
    job = run(world.users.community1, [row(i) for i in range(1, 8)])
    assert seen == [(3, 3, 7), (6, 6, 7), (7, 7, 7)]
    assert job.percent == 100 and job.processed_rows == 7
    chunk_audits = AuditEntry.objects.filter(action="import.residents")
    assert chunk_audits.count() == 3
    assert all(a.after["job"] == job.pk and not a.after["updated"] for a in chunk_audits)
    assert sorted(i for a in chunk_audits for i in a.after["created"]) == sorted(
        Resident.objects.values_list("id", flat=True)
    )
    assert AuditEntry.objects.filter(action="import.finish", object_id=str(job.pk)).count() == 1


def test_permission_and_territory_required(world, places):
    with pytest.raises(Forbidden):
        run(world.users.grid1, [row(1)])  # grid workers may not import
    with pytest.raises(Forbidden):
        run(world.users.resident1, [row(1)])


def test_derived_tags_are_accepted_but_not_stored(world, places):
    assert KeyGroup.objects.filter(code="elderly_60", kind="derived").exists()
    job = run(world.users.community1, [row(1, 重点人群="60岁以上老人,残疾人")])
    assert job.created_rows == 1
    assert list(Resident.objects.get().tags.values_list("code", flat=True)) == ["disabled"]
