"""Import of an older system's closed cases (issue 18 C1): own dates, nothing sent, no clocks, no SOS
watch, idempotent by case number, row errors, counts where closed events count, permission and scope."""

import csv
import io
from datetime import date, datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook

from wangge.accounts.roles import Role
from wangge.accounts.services import user_create
from wangge.audit.models import AuditEntry
from wangge.clock.models import Deadline
from wangge.conftest import PASSWORD, assert_error, centre, square
from wangge.core.errors import Conflict, Forbidden
from wangge.events import selectors
from wangge.events.intake import history_import
from wangge.events.models import (
    Channel,
    Event,
    HandlingUnit,
    ReturnVisit,
    SosWatch,
    StageDeadline,
    TimelineEntry,
)
from wangge.events.triage.classifier import training_rows
from wangge.notify.models import Notification
from wangge.territory.models import Level
from wangge.territory.services import grid_create, territory_create

HEADERS = [
    "原系统编号",
    "标题",
    "诉求内容",
    "分类",
    "上报时间",
    "受理时间",
    "办结时间",
    "状态",
    "地址",
    "经度",
    "纬度",
    "处置单位",
    "处置结果",
    "满意度",
]
URL = "/api/v1/history/imports/"
N = 3000


def as_csv(rows: list[list[Any]], name: str = "历史案件.csv", headers: list[str] = HEADERS) -> Any:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buf.getvalue().encode("utf-8"))


def as_xlsx(rows: list[list[Any]], title: str | None = None) -> Any:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("历史案件.xlsx", buf.getvalue())


def case(i: int, **changes: Any) -> list[Any]:
    """A closed case of 2021/2022 in one of the four test grids; every tenth mentions a fire."""
    lat, lng = centre(i % 4, 0)
    month, day = 1 + i % 12, 1 + i % 28
    row = {
        "原系统编号": f"SZ{i:06d}",
        "标题": "",
        "诉求内容": f"第{i}号：楼道着火后的烟熏痕迹需清理"
        if i % 10 == 0
        else f"第{i}号：小区垃圾桶满溢无人清运",
        "分类": "0101" if i % 2 else "环境卫生",
        "上报时间": f"2021-{month:02d}-{day:02d} 08:30",
        "受理时间": f"2021/{month}/{day} 9:00",
        "办结时间": f"2022-{month:02d}-{day:02d} 17:00",
        "状态": "已办结",
        "地址": "",
        "经度": lng,
        "纬度": lat,
        "处置单位": "区城管局",
        "处置结果": "已清理完毕",
        "满意度": "满意",
    }
    row.update(changes)
    return [row[h] for h in HEADERS]


@pytest.fixture
def unit(world: Any) -> HandlingUnit:
    return HandlingUnit.objects.create(
        name="区城管局", kind=HandlingUnit.Kind.DEPARTMENT, territory=world.district, path=world.district.path
    )


def test_thousands_of_closed_cases_keep_their_dates_and_send_nothing(world: Any, unit: HandlingUnit) -> None:
    admin = world.users.admin
    before_audit = AuditEntry.objects.count()
    result = history_import(actor=admin, file=as_csv([case(i) for i in range(N)]))
    assert (result.total, result.created, result.error_rows) == (N, N, 0), result.errors[:3]
    events = Event.objects.filter(channel=Channel.HISTORY)
    assert events.count() == N
    e = events.get(external_id="SZ000010")
    tz = timezone.get_current_timezone()
    assert e.created_at == datetime(2021, 11, 11, 8, 30, tzinfo=tz)
    assert e.closed_at == datetime(2022, 11, 11, 17, 0, tzinfo=tz)
    assert e.triaged_at == datetime(2021, 11, 11, 9, 0, tzinfo=tz)
    assert e.status.code == "closed" and e.rating == "satisfied"
    assert e.category is not None and e.category.code == "0101"  # by name 环境卫生
    assert e.handler_unit == unit and e.grid == world.g121 and e.path == world.g121.code
    assert e.extra["imported"]["case"] == "SZ000010" and e.extra["imported"]["job"] == result.job
    assert not e.needs_triage and e.deadline is None and e.warn_at is None and not e.stage
    # Texts with 着火 are history, not an emergency now.
    assert "着火" in e.description and e.urgency == "normal"
    assert not events.exclude(urgency="normal").exists()
    # One non-public timeline entry with the outcome, dated when the case was closed.
    (entry,) = TimelineEntry.objects.filter(event=e)
    assert (entry.action, entry.public, entry.note) == ("history_import", False, "已清理完毕")
    assert entry.at == e.closed_at and entry.data["case"] == "SZ000010"
    assert TimelineEntry.objects.filter(event__channel=Channel.HISTORY).count() == N
    # Nothing sent, no clocks, no SOS watch, no work made up.
    assert Notification.objects.count() == 0
    assert StageDeadline.objects.count() == 0 and Deadline.objects.count() == 0
    assert SosWatch.objects.count() == 0 and ReturnVisit.objects.count() == 0
    # One audit row for the file, with its counts.
    audit = AuditEntry.objects.filter(action="event.history_import")
    assert AuditEntry.objects.count() == before_audit + 1 and audit.count() == 1
    assert audit.get().after["created"] == N

    # A rerun of the same file adds nothing.
    again = history_import(actor=admin, file=as_csv([case(i) for i in range(N)]))
    assert (again.created, again.unchanged, again.error_rows) == (0, N, 0)
    assert Event.objects.filter(channel=Channel.HISTORY).count() == N


def test_closed_history_counts_where_closed_events_count(world: Any, unit: HandlingUnit) -> None:
    history_import(actor=world.users.admin, file=as_csv([case(i) for i in range(8)]))
    admin = world.users.admin
    assert selectors.event_list(user=admin, status="closed").count() == 8
    assert selectors.event_list(user=admin, channel=Channel.HISTORY).count() == 8
    assert selectors.open_counts_by_grid(user=admin) == []  # closed: never open work
    # The classifier trains on them: their category is the old system's confirmed decision.
    texts = [t for t, _ in training_rows()]
    assert sum("垃圾桶满溢" in t for t in texts) == 7 and sum("着火" in t for t in texts) == 1
    # A grid worker sees the history of their own grid only.
    assert selectors.event_list(user=world.users.grid1, channel=Channel.HISTORY).count() == 2


def test_bad_rows_are_reported_and_good_rows_go_in(world: Any, unit: HandlingUnit) -> None:
    rows = [
        case(1),
        case(2, 原系统编号=""),
        case(3, 诉求内容=""),
        case(4, 状态="处置中"),  # open: not history
        case(5, 办结时间=""),
        case(6, 上报时间="2021-13-45"),
        case(7, 办结时间="2020-01-01 08:00"),  # before it was reported
        case(8, 分类="不存在的分类"),
        case(9, 满意度="还行"),
        case(10, 经度="", 纬度="", 地址=""),
        case(11, 状态="不予受理", 办结时间="", 满意度="", 处置结果="不属于受理范围"),
        case(12, 上报时间="2099-01-01"),
    ]
    result = history_import(actor=world.users.admin, file=as_csv(rows))
    assert result.created == 2 and result.error_rows == 10
    by_row = {e.row: (e.column, e.message) for e in result.errors}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 13]  # the header is row 1
    assert by_row[5][0] == "status" and "已办结" in by_row[5][1]
    assert by_row[6] == ("closed_at", "已办结的案件须填写办结时间")
    assert by_row[9][0] == "category" and by_row[11][0] == "address"
    assert result.as_dict()["errors"][0]["column"] == "原系统编号"
    rejected = Event.objects.get(external_id="SZ000011")
    assert rejected.status.code == "rejected" and rejected.reject_reason == "不属于受理范围"
    assert rejected.closed_at == rejected.triaged_at  # a refusal ends when it was decided


def test_xlsx_with_title_row_excel_dates_and_a_changed_row_is_a_conflict(
    world: Any, unit: HandlingUnit
) -> None:
    rows = [
        case(1, 上报时间=datetime(2019, 5, 6, 7, 8), 受理时间=date(2019, 5, 6), 办结时间=43600.5),
        case(
            2,
            上报时间="2019年5月6日",
            受理时间="",
            办结时间="2019.5.7 10:00",
            满意度="基本满意",
            状态="已评价",
        ),
    ]
    result = history_import(actor=world.users.admin, file=as_xlsx(rows, title="某区网格化平台历史案件导出"))
    assert (result.created, result.error_rows) == (2, 0), result.errors
    tz = timezone.get_current_timezone()
    first = Event.objects.get(external_id="SZ000001")
    assert first.created_at == datetime(2019, 5, 6, 7, 8, tzinfo=tz)
    assert first.closed_at == datetime(2019, 5, 15, 12, 0, tzinfo=tz)  # Excel serial 43600.5
    second = Event.objects.get(external_id="SZ000002")
    assert second.status.code == "rated" and second.rating == "basically"
    # The same case number with another outcome: reported, the imported case untouched.
    changed = [
        rows[0],
        case(2, 上报时间="2019年5月6日", 受理时间="", 办结时间="2019.5.7 10:00", 状态="已评价"),
    ]
    again = history_import(actor=world.users.admin, file=as_xlsx(changed))
    assert (again.created, again.unchanged, again.conflicts) == (0, 1, 1)
    assert again.errors[0].row == 3 and "不会被覆盖" in again.errors[0].message
    second.refresh_from_db()
    assert second.rating == "basically"


def test_a_case_twice_in_one_file(world: Any, unit: HandlingUnit) -> None:
    result = history_import(actor=world.users.admin, file=as_csv([case(1), case(1), case(1, 处置结果="改")]))
    assert (result.created, result.unchanged, result.conflicts) == (1, 1, 1)


def test_only_district_admins_import(world: Any, api_for: Any) -> None:
    for user in (world.users.street1, world.users.community1, world.users.grid1):
        with pytest.raises(Forbidden):
            history_import(actor=user, file=as_csv([case(1)]))
        assert_error(api_for(user).post(URL, {"file": as_csv([case(1)])}, format="multipart"), 403)
    assert not Event.objects.filter(channel=Channel.HISTORY).exists()


def test_rows_outside_the_admins_district_are_refused(world: Any, unit: HandlingUnit) -> None:
    other = territory_create(level=Level.DISTRICT, code="420803", name="邻区")
    street = territory_create(level=Level.STREET, code="420803001", name="邻街道", parent=other)
    community = territory_create(level=Level.COMMUNITY, code="420803001001", name="邻社区", parent=street)
    grid_create(
        community=community,
        code="420803001001001",
        name="邻网格",
        geojson=square(6, 0),
        valid_from=date(2025, 1, 1),
    )
    lat, lng = centre(6, 0)
    nowhere = case(3, 经度="", 纬度="", 地址="查无此址的某条路")
    result = history_import(
        actor=world.users.admin, file=as_csv([case(1), case(2, 经度=lng, 纬度=lat), nowhere])
    )
    assert result.created == 2 and [(e.row, e.message) for e in result.errors] == [(3, "位置不在您的辖区内")]
    # Not located at all: kept at the importer's district, so it stays in its scope and indicators.
    kept = Event.objects.get(external_id="SZ000003")
    assert kept.grid is None and kept.path == world.district.path
    # The neighbour's admin importing the same case number learns nothing about ours.
    neighbour = user_create(
        username="admin2",
        password=PASSWORD,
        role=Role.DISTRICT_ADMIN,
        territory_id=other.pk,
        display_name="a2",
    )
    theirs = history_import(
        actor=neighbour, file=as_csv([case(2, 经度=lng, 纬度=lat), case(1, 经度=lng, 纬度=lat)])
    )
    assert theirs.created == 1 and theirs.errors[0].row == 3
    assert theirs.errors[0].message == "该编号已被使用，不能重复提交；如确需登记，请更换编号"


def test_api_import_and_template(world: Any, unit: HandlingUnit, api_for: Any) -> None:
    client = api_for(world.users.admin)
    body = client.post(URL, {"file": as_csv([case(1), case(2, 状态="处置中")])}, format="multipart").json()
    assert (body["created"], body["error_rows"], body["errors"][0]["column"]) == (1, 1, "状态")
    response = client.get(URL + "template/")
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert_error(client.post(URL, {"file": SimpleUploadedFile("a.txt", b"x")}, format="multipart"), 400)


def test_page_for_district_admins(world: Any, unit: HandlingUnit, client: Any) -> None:
    client.force_login(world.users.admin)
    assert client.get("/events/history/import/").status_code == 200
    page = client.post("/events/history/import/", {"file": as_csv([case(1), case(2, 诉求内容="")])})
    assert page.status_code == 200
    html = page.content.decode()
    assert "新导入 1 件" in html and "诉求内容不能为空" in html
    imported = Event.objects.get(external_id="SZ000001")
    detail = client.get(f"/events/{imported.pk}/")
    assert detail.status_code == 200 and "历史导入" in detail.content.decode()
    client.force_login(world.users.street1)
    assert client.get("/events/history/import/").status_code == 403


def test_concurrent_import_of_the_same_cases_is_a_conflict(
    world: Any, unit: HandlingUnit, monkeypatch: Any
) -> None:
    """The (channel, external id) key decides when another import wrote a case after this one looked."""
    from wangge.events.intake import history

    real = history._known

    def late(parsed: Any, **kwargs: Any) -> Any:
        fresh = real(parsed, **kwargs)
        monkeypatch.setattr(history, "_known", real)
        history_import(actor=world.users.admin, file=as_csv([case(1)]))  # the other import wins
        return fresh

    monkeypatch.setattr(history, "_known", late)
    with pytest.raises(Conflict):
        history.history_import(actor=world.users.admin, file=as_csv([case(1), case(2)]))
    assert set(Event.objects.values_list("external_id", flat=True)) == {"SZ000001"}
