"""Buildings, places, facilities and grids imports; the streaming .xlsx reader; the pages."""

import json

import pytest
from django.urls import reverse
from stdnum.cn import uscc

from wangge.conftest import LAT0, LNG0, PASSWORD, STEP, centre, square
from wangge.exchange import readers
from wangge.exchange.columns import RESIDENTS
from wangge.exchange.models import ImportStatus
from wangge.exchange.services import import_job_create
from wangge.registry.bulk import text
from wangge.registry.models import Facility, Place, Resident
from wangge.territory.models import Building, Compound, Dwelling, Territory

from .conftest import RESIDENT_HEADERS, csv_bytes, make_id, upload, xlsx_bytes

B_HEADERS = ["楼栋编码", "楼栋名称", "小区名称", "网格编码", "地址", "经度", "纬度", "层数", "单元数"]


def test_buildings_create_update_compounds_and_scope(world):
    lat, lng = centre(0, 0)
    rows = [
        B_HEADERS,
        ["N1", "1栋", "幸福小区", world.g111.code, "幸福路1号", lng, lat, 6, 2],
        ["N2", "2栋", "幸福小区", world.g112.code, "", "", "", "", ""],
        ["N3", "3栋", "", world.g211.code, "", "", "", "", ""],  # other street
        ["N4", "4栋", "", "420802001001999", "", "", "", "", ""],  # no such grid
        ["N5", "5栋", "", world.g111.code, "", lat, lng, "", ""],  # lat/lng swapped
        ["N1", "重复", "", world.g111.code, "", "", "", "", ""],
    ]
    job = import_job_create(
        actor=world.users.community1, kind="buildings", upload=upload("b.xlsx", xlsx_bytes(rows))
    )
    assert (job.created_rows, job.error_rows) == (2, 4), job.message
    n1 = Building.objects.get(code="N1")
    assert (n1.path, n1.floors, n1.units, n1.compound.name) == (world.g111.code, 6, 2, "幸福小区")
    assert Compound.objects.count() == 1 and n1.compound.community == world.c11
    # Moving a building to another grid moves its residents and dwellings too.
    Dwelling.objects.create(building=n1, unit="1", room="101", path=n1.path)
    rows = [B_HEADERS[:4], ["N1", "1栋", "幸福小区", world.g112.code]]
    job = import_job_create(
        actor=world.users.community1, kind="buildings", upload=upload("b.csv", csv_bytes(rows))
    )
    assert job.updated_rows == 1
    n1.refresh_from_db()
    assert n1.path == world.g112.code and n1.lat == pytest.approx(lat)  # absent columns untouched
    assert Dwelling.objects.get().path == world.g112.code


def test_places(world, places):
    code = "91420802MA4KXXXX0"
    code = code[:17] + uscc.calc_check_digit(code[:17])
    lat, lng = centre(1, 0)
    headers = [
        "名称",
        "统一社会信用代码",
        "类别",
        "证照状态",
        "经营者",
        "联系电话",
        "地址",
        "楼栋编码",
        "经度",
        "纬度",
    ]
    rows = [
        headers,
        ["便民超市", code, "零售", "有效", "王五", "13900001111", "幸福路2号", "", lng, lat],
        ["小吃店", "", "餐饮", "过期", "", "", "幸福路3号", "B111", "", ""],
        ["坏代码", "91420802MA4KXXXX01", "", "", "", "", "", "B111", "", ""],
        ["无位置", "", "", "", "", "", "某处", "", "", ""],
        ["外区", "", "", "", "", "", "x", "", *reversed(centre(3, 0))],
    ]
    job = import_job_create(
        actor=world.users.community1, kind="places", upload=upload("p.xlsx", xlsx_bytes(rows))
    )
    assert (job.created_rows, job.error_rows) == (2, 3), job.message
    shop = Place.objects.get(credit_code=code)
    assert shop.path == world.g112.code and shop.grid == world.g112 and shop.phone_enc and shop.phone_hash
    assert Place.objects.get(name="小吃店").licence_status == "expired"
    job = import_job_create(
        actor=world.users.community1, kind="places", upload=upload("p.xlsx", xlsx_bytes(rows))
    )
    assert job.updated_rows == 2 and Place.objects.count() == 2


def test_facilities(world):
    lat, lng = centre(0, 0)
    headers = ["部件编码", "名称", "状态", "权属单位", "位置描述", "经度", "纬度"]
    rows = [
        headers,
        ["4208020106000001", "消防栓", "完好", "消防大队", "门口", lng, lat],
        ["4208020107000002", "路灯", "破损", "", "", lng, lat],
        ["4208029999000003", "未知分类", "", "", "", lng, lat],
        ["1234", "短", "", "", "", lng, lat],
        ["4208020106000004", "网格外", "", "", "", LNG0 - 1, LAT0],
        ["4208020106000005", "别的社区", "", "", "", *reversed(centre(2, 0))],
    ]
    job = import_job_create(
        actor=world.users.community1, kind="facilities", upload=upload("f.xlsx", xlsx_bytes(rows))
    )
    assert (job.created_rows, job.error_rows) == (2, 4), job.message
    f = Facility.objects.get(code="4208020106000001")
    assert (f.path, f.facility_class.name, f.condition) == (world.g111.code, "消防栓", "good")


def test_grids_geojson(world):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "420802001001003", "name": "新网格", "grid_type": "综合网格"},
                "geometry": square(0, 1),
            },
            {
                "type": "Feature",
                "properties": {"code": "420802001001001", "valid_from": "2026-01-01"},
                "geometry": square(0, 0, STEP * 1.1),
            },
            {"type": "Feature", "properties": {"code": "4208", "name": "坏"}, "geometry": square(0, 2)},
            {
                "type": "Feature",
                "properties": {"code": "420802002001009", "name": "外街道"},
                "geometry": square(3, 2),
            },
            {
                "type": "Feature",
                "properties": {"code": "420802001001004", "name": "坏几何"},
                "geometry": {"type": "Point", "coordinates": [1, 2]},
            },
        ],
    }
    content = json.dumps(fc, ensure_ascii=False).encode()
    with pytest.raises(Exception) as exc:  # needs accounts.manage_territory
        import_job_create(actor=world.users.community1, kind="grids", upload=upload("g.geojson", content))
    assert getattr(exc.value, "status", None) == 403
    user = world.users.admin
    user.territory = world.s1
    user.save()
    job = import_job_create(actor=user, kind="grids", upload=upload("g.geojson", content))
    assert (job.created_rows, job.updated_rows, job.error_rows) == (1, 1, 3), job.message
    new = Territory.objects.get(code="420802001001003")
    assert (new.parent, new.grid_type) == (world.c11, "comprehensive")
    assert world.g111.boundaries.count() == 2
    bad = import_job_create(actor=user, kind="grids", upload=upload("g.json", b'{"type": "Feature"}'))
    assert bad.status == ImportStatus.FAILED and "FeatureCollection" in bad.message


def test_streaming_xlsx_reader_matches_calamine(tmp_path, monkeypatch):
    from datetime import date

    rows = [
        ["title"],
        [],
        RESIDENT_HEADERS,
        ["张三", make_id(1), 13812345678, "B1", 1, "101", "户主", "常住", "汉族", "", date(2024, 1, 5)],
        [None, None, None],
        ["李四", make_id(2)],
    ]
    path = tmp_path / "r.xlsx"
    path.write_bytes(xlsx_bytes(rows))
    fast = readers.open_table(RESIDENTS, str(path), "r.xlsx")
    monkeypatch.setattr(readers, "XLSX_STREAM_THRESHOLD", 0)
    slow = readers.open_table(RESIDENTS, str(path), "r.xlsx")
    assert fast.header_row == slow.header_row == 3
    a, b = list(fast.rows()), list(slow.rows())
    assert [n for n, _ in a] == [n for n, _ in b] == [4, 6]
    for (_, x), (_, y) in zip(a, b, strict=True):
        assert {k: text(v) for k, v in x.items() if k != "moved_in"} == {
            k: text(v) for k, v in y.items() if k != "moved_in"
        }
    assert b[0][1]["moved_in"] == 45296  # serial day number; the bulk date parser reads it


def test_pages(world, places, client):
    client.login(username="community1", password=PASSWORD)
    resp = client.get(reverse("exchange-home"))
    assert resp.status_code == 200 and "下载模板" in resp.content.decode()
    content = xlsx_bytes([RESIDENT_HEADERS, ["张三", make_id(1), "", "B111", "", "", "", "", "", "", ""]])
    resp = client.post(reverse("exchange-home"), {"kind": "residents", "file": upload("r.xlsx", content)})
    assert resp.status_code == 302
    detail = client.get(resp["Location"])
    html = detail.content.decode()
    assert (
        detail.status_code == 200 and "已完成" in html and "hx-get" not in html
    )  # finished: no more polling
    assert Resident.objects.count() == 1
    resp = client.post(
        reverse("exchange-home"), {"kind": "residents", "file": upload("r.xlsx", xlsx_bytes([["x"]]))}
    )
    assert resp.status_code == 200 and "缺少必填列" in resp.content.decode()
    job_id = detail.context["job"].pk
    frag = client.get(reverse("exchange-import-progress", args=[job_id]))
    assert frag.status_code == 200 and "import-progress" in frag.content.decode()
    assert client.get(reverse("exchange-template", args=["residents"])).status_code == 200
    exports = client.get(reverse("exchange-exports"))
    assert exports.status_code == 200 and "完整导出" in exports.content.decode()
    resp = client.get(reverse("exchange-export", args=["residents"]) + "?format=csv")
    assert resp.status_code == 200 and make_id(1) in b"".join(resp.streaming_content).decode("utf-8-sig")
    client.logout()
    client.login(username="community2", password=PASSWORD)
    assert client.get(reverse("exchange-import-detail", args=[job_id])).status_code == 404
    client.logout()
    client.login(username="grid1", password=PASSWORD)
    assert client.get(reverse("exchange-home")).status_code == 403
    assert "脱敏" in client.get(reverse("exchange-exports")).content.decode()


def test_polling_fragment_while_running(world, places, client):
    from wangge.exchange.models import ImportJob

    job = ImportJob.objects.create(
        kind="residents",
        created_by=world.users.community1,
        path=world.c11.code,
        original_name="x.xlsx",
        status="running",
        total_rows=200,
        processed_rows=50,
    )
    client.login(username="community1", password=PASSWORD)
    html = client.get(reverse("exchange-import-progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and "25%" in html
