"""12345 hotline bulk import: good rows, bad rows, idempotent re-import, headers, permission, template."""

import io
import json
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from wangge.audit.models import AuditEntry
from wangge.conftest import assert_error, centre
from wangge.core import crypto
from wangge.events.models import Event

HEADERS = [
    "工单编号",
    "来电时间",
    "来电人",
    "联系电话",
    "诉求类型",
    "紧急程度",
    "诉求内容",
    "事发地址",
    "经度",
    "纬度",
    "诉求分类",
]
LAT, LNG = centre(0, 0)  # grid 420802001001001
URL = "/api/v1/hotline/imports/"


def xlsx(rows: list[list[Any]], headers: list[str] = HEADERS, title: str | None = None) -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("12345工单.xlsx", buf.getvalue())


GOOD = [
    [
        "GD2025100001",
        datetime(2025, 10, 9, 8, 30),
        "王五",
        "13912345678",
        "投诉",
        "紧急",
        "小区门口油烟很大",
        "",
        LNG,
        LAT,
        "油烟扰民",
    ],
    [
        "GD2025100002",
        "2025-10-09 09:15",
        "赵六",
        "",
        "咨询",
        "",
        "垃圾清运时间是几点",
        "幸福路1号",
        None,
        None,
        "",
    ],
    [
        "GD2025100003",
        "2025/10/9 10:00",
        "",
        "027-88881234",
        "建议",
        "一般",
        "建议增加路灯",
        "",
        LNG,
        LAT,
        "0101",
    ],
]


def upload(client: Any, file: SimpleUploadedFile, **extra: Any) -> Any:
    return client.post(URL, {"file": file, **extra}, format="multipart")


def test_good_rows_become_hotline_events(world, api_for):
    resp = upload(api_for(world.users.street1), xlsx(GOOD, title="东区12345工单导出"))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["total"] == 3 and body["created"] == 3 and body["duplicates"] == 0 and body["error_rows"] == 0
    assert len(body["tracking_codes"]) == 3
    first = Event.objects.get(external_id="GD2025100001")
    assert first.channel == "hotline" and first.urgency == "urgent" and first.event_type == "complaint"
    assert first.category.code == "0103" and first.grid_id == world.g111.pk
    assert crypto.decrypt(first.reporter_phone_enc) == "13912345678"
    assert crypto.decrypt(first.reporter_name_enc) == "王五"
    assert first.extra["work_order"] == "GD2025100001"
    assert first.extra["called_at"].startswith("2025-10-09T08:30:00+08:00")
    second = Event.objects.get(external_id="GD2025100002")
    assert second.event_type == "consult" and second.urgency == "normal" and second.address == "幸福路1号"
    third = Event.objects.get(external_id="GD2025100003")
    assert third.category.code == "0101" and third.event_type == "suggestion"
    audit = AuditEntry.objects.get(action="event.hotline_import")
    assert audit.after["created"] == 3 and "13912345678" not in json.dumps(audit.after)


def test_reimport_never_doubles(world, api_for):
    client = api_for(world.users.admin)
    assert upload(client, xlsx(GOOD)).json()["created"] == 3
    again = upload(client, xlsx(GOOD)).json()
    assert again["created"] == 0 and again["duplicates"] == 3 and again["error_rows"] == 0
    # The same order twice in one file is also registered once.
    more = upload(
        client, xlsx([GOOD[0], ["GD9", "", "", "", "", "", "新诉求", "解放路2号", None, None, ""], GOOD[0]])
    )
    assert more.json()["created"] == 1 and more.json()["duplicates"] == 2
    assert Event.objects.filter(channel="hotline").count() == 4


def test_bad_rows_are_reported_and_the_rest_imported(world, api_for):
    rows = [
        GOOD[0],
        ["GD-B1", "", "", "", "", "", "", "幸福路1号", None, None, ""],  # no content
        ["GD-B2", "", "", "", "", "很急", "井盖丢了", "幸福路1号", None, None, ""],  # bad urgency
        [
            "GD-B3",
            "",
            "李四",
            "电话12345678901x",
            "",
            "",
            "路灯不亮",
            "幸福路1号",
            None,
            None,
            "",
        ],  # bad phone
        ["GD-B4", "昨天下午", "", "", "", "", "路灯不亮", "幸福路1号", None, None, ""],  # bad time
        ["GD-B5", "", "", "", "", "", "路灯不亮", "", None, None, ""],  # nowhere
        ["GD-B6", "", "", "", "", "", "路灯不亮", "", LAT, LNG, ""],  # lat/lng swapped
        ["GD-B7", "", "", "", "闲聊", "", "路灯不亮", "幸福路1号", None, None, ""],  # bad type
        ["", "", "", "", "", "", "没有编号", "幸福路1号", None, None, ""],  # no order number
    ]
    resp = upload(api_for(world.users.community1), xlsx(rows))
    body = resp.json()
    assert body["created"] == 1 and body["error_rows"] == 8 and body["total"] == 9
    by_row = {e["row"]: e for e in body["errors"]}
    assert by_row[3]["column"] == "诉求内容"
    assert by_row[4]["column"] == "紧急程度" and "特急" in by_row[4]["reason"]
    assert by_row[5]["column"] == "联系电话" and "12345678901" not in by_row[5]["value"]
    assert by_row[6]["column"] == "来电时间"
    assert by_row[7]["column"] == "事发地址"
    assert by_row[8]["column"] == "经度" and "填反" in by_row[8]["reason"]
    assert by_row[9]["column"] == "诉求类型"
    assert by_row[10]["column"] == "工单编号"
    for e in body["errors"]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e["reason"])
    assert Event.objects.count() == 1


def test_missing_headers_refused_before_any_row(world, api_for):
    file = xlsx([["GD1", "小区门口油烟很大"]], headers=["工单编号", "备注"])
    body = assert_error(upload(api_for(world.users.admin), file), 400, "missing_columns")
    assert "诉求内容" in body["message"]
    assert Event.objects.count() == 0
    wrong = SimpleUploadedFile("orders.pdf", b"%PDF-1.4")
    assert_error(upload(api_for(world.users.admin), wrong), 400, "unsupported_file_type")
    assert_error(upload(api_for(world.users.admin), xlsx(GOOD), crs="mars"), 400)


def test_gcj02_coordinates_are_converted(world, api_for):
    from wangge.territory.coords import wgs84_to_gcj02

    glng, glat = wgs84_to_gcj02(LNG, LAT)
    row = ["GD-G1", "", "", "", "", "", "小区门口油烟很大", "", glng, glat, ""]
    assert upload(api_for(world.users.admin), xlsx([row]), crs="gcj02").json()["created"] == 1
    event = Event.objects.get(external_id="GD-G1")
    assert abs(event.lat - LAT) < 1e-6 and abs(event.lng - LNG) < 1e-6


def test_permission_and_template(world, api_for):
    from rest_framework.test import APIClient

    assert_error(upload(api_for(world.users.grid1), xlsx(GOOD)), 403, "permission_denied")
    assert_error(upload(APIClient(), xlsx(GOOD)), 401)
    assert Event.objects.count() == 0
    assert_error(api_for(world.users.grid1).get(URL + "template/"), 403)
    resp = api_for(world.users.street1).get(URL + "template/")
    assert resp.status_code == 200 and "attachment" in resp["Content-Disposition"]
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content) if resp.streaming else resp.content))
    header = [c.value for c in wb.worksheets[0][1]]
    assert header == HEADERS
    # The blank template imports cleanly (nothing to do).
    empty = SimpleUploadedFile("模板.xlsx", resp.content)
    assert upload(api_for(world.users.street1), empty).json()["total"] == 0
