"""Import of an older system's closed cases (issue 18 C1), from .xlsx/.xls/.csv.

Years of history are not new reports: walking them through intake and four transitions would give them
today's dates, invented handling steps, notifications, clocks and workload. Here each row becomes one
event written directly in its final (closed or rejected) status, with the file's own dates; nothing is
sent, no stage clock or deadline is opened, urgency is never raised by words in the text (no SOS watch),
and the only timeline entry is one non-public "history_import" step carrying the outcome as its note.

Imported events are on their own channel, "history", with the old case number as external id: the
(channel, external_id) unique key makes a rerun of the same file add nothing, and a row whose case number
is already imported with different content is reported as a conflict, never overwritten.
`extra["imported"]` says where an event came from (file, case, import job id, keyed fingerprint of the
row). Closed imported events count wherever closed events count (lists, Open311 status, the classifier's
training rows: their category is the old system's confirmed decision).

Only district administrators import history; a row that locates to a grid outside the importer's
territory is a row error, and one that cannot be located at all is kept at the importer's territory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from wangge.audit.services import audit_record
from wangge.core import crypto
from wangge.core.errors import Conflict, Forbidden, InvalidInput
from wangge.core.guards import require_district_admin
from wangge.core.scope import path_in_scope, user_scope_path
from wangge.exchange.columns import COORD_NOTE, Column, Spec
from wangge.exchange.files import template_xlsx
from wangge.exchange.readers import open_table, upload_path
from wangge.registry.bulk import RowError, RowInvalid, text
from wangge.territory.coords import WGS84
from wangge.territory.locator import locate_points
from wangge.territory.models import Building, Territory

from ..common import RATINGS, REJECTED_STATUS, actor_fields
from ..models import (
    Category,
    Channel,
    Event,
    EventType,
    HandlingUnit,
    Status,
    TimelineEntry,
    Urgency,
)
from ..triage import locate
from .report import replay_allowed_many, replay_refused, tracking_code_new
from .uploads import cell_text, row_errors_display, row_location, upload_check

MAX_ROWS = 20_000  # per file: a web request; split larger exports by year
MAX_KEPT_ERRORS = 500
WRITE_BATCH = 500
ACTION = "history_import"

HISTORY = Spec(
    kind="events_history",
    label="历史事件",
    columns=(
        Column(
            "case_no",
            "原系统编号",
            ("原编号", "案件编号", "事件编号", "工单编号", "案卷号", "编号"),
            required=True,
            help="原系统中的案件编号；同一编号只导入一次",
        ),
        Column("title", "标题", ("事件标题", "诉求标题", "案件标题")),
        Column(
            "content",
            "诉求内容",
            ("描述", "事件描述", "问题描述", "诉求描述", "案件描述", "内容"),
            required=True,
        ),
        Column(
            "category",
            "分类",
            ("事件分类", "问题分类", "诉求分类", "事项分类", "案件类别"),
            help="本平台的分类名称或代码（大类或小类）",
        ),
        Column(
            "reported_at",
            "上报时间",
            ("发生时间", "来电时间", "登记时间", "创建时间", "发现时间"),
            required=True,
            help="如 2021-03-04 08:30、2021/3/4",
        ),
        Column("accepted_at", "受理时间", ("立案时间",)),
        Column("closed_at", "办结时间", ("结案时间", "完成时间", "关闭时间"), help="已办结的必填"),
        Column(
            "status",
            "状态",
            ("办理状态", "事件状态", "案件状态"),
            required=True,
            help="只能是已办结（已结案、已评价）或不予受理",
        ),
        Column("address", "地址", ("事发地址", "问题地址", "发生地址"), help="地址与经纬度至少填一项"),
        Column("lng", "经度", (), help=COORD_NOTE),
        Column("lat", "纬度", ()),
        Column("unit", "处置单位", ("承办单位", "办理单位", "责任单位", "处理单位")),
        Column("outcome", "处置结果", ("办理结果", "处理结果", "答复内容", "办结意见", "处置情况")),
        Column(
            "rating",
            "满意度",
            ("评价", "满意度评价", "群众评价"),
            choices=tuple(RATINGS.values()),
        ),
    ),
    notes=(
        "只导入已办结或不予受理的历史案件，保留原来的时间；不发送通知、不计时、不产生工作量。",
        "以原系统编号识别案件：重复导入同一文件不会重复登记；编号相同但内容不同的行报告为冲突，不覆盖。",
        "有错误的行不会导入，其余行照常导入；改正后可再次导入整个文件。",
    ),
)

# Status words of older systems -> status codes of the graph (the graph's own names and codes also work).
_STATUS_ALIASES = {
    "已办结": "closed",
    "办结": "closed",
    "已结案": "closed",
    "结案": "closed",
    "已完成": "closed",
    "完成": "closed",
    "已关闭": "closed",
    "已归档": "closed",
    "已评价": "rated",
    "不予受理": REJECTED_STATUS,
    "不受理": REJECTED_STATUS,
    "已驳回": REJECTED_STATUS,
    "驳回": REJECTED_STATUS,
    "作废": REJECTED_STATUS,
}
_RATINGS = (
    {label: code for code, label in RATINGS.items()}
    | {code: code for code in RATINGS}
    | {
        "非常满意": "satisfied",
        "比较满意": "basically",
        "一般": "basically",
        "很不满意": "unsatisfied",
    }
)
_MOMENT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?)?\s*秒?)?$"
)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@dataclass
class HistoryResult:
    total: int = 0
    created: int = 0
    unchanged: int = 0  # already imported with the same content (a rerun)
    conflicts: int = 0  # already imported with different content: reported, not overwritten
    error_rows: int = 0
    job: str = ""
    errors: list[RowError] = field(default_factory=list)

    def reject(self, number: int, column: str, value: Any, message: str) -> None:
        self.error_rows += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(row=number, column=column, value=text(value)[:200], message=message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "total": self.total,
            "created": self.created,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "error_rows": self.error_rows,
            "errors": row_errors_display(self.errors, HISTORY),
        }


@dataclass
class _Row:
    number: int
    case_no: str
    title: str
    content: str
    category: Category | None
    reported_at: dt.datetime
    accepted_at: dt.datetime | None
    closed_at: dt.datetime
    status: Status
    address: str
    lng: float | None
    lat: float | None
    unit_name: str
    outcome: str
    rating: str
    fingerprint: str = ""


def parse_moment(value: Any, column: str, label: str) -> dt.datetime | None:
    """A date or date-time cell, leniently: Excel dates and serial numbers, 2021-03-04 08:30, 2021/3/4,
    2021年3月4日; None when empty. Local time of the installation; not in the future, not before 1990."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        moment = (_EXCEL_EPOCH + dt.timedelta(days=float(value))).replace(microsecond=0)
    else:
        s = text(value)
        if not s:
            return None
        m = _MOMENT.match(s)
        if not m:
            raise RowInvalid(column, s, f"{label}格式无法识别（应为 2021-03-04 08:30 或 2021/3/4）")
        y, mo, d, h, mi, sec = (int(p) if p else 0 for p in m.groups())
        try:
            moment = dt.datetime(y, mo, d, h, mi, sec)
        except ValueError:
            raise RowInvalid(column, s, f"{label}不存在（请检查日期和时刻）")
    aware = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    if aware > timezone.now() + dt.timedelta(minutes=5):
        raise RowInvalid(column, text(value), f"{label}晚于当前时间")
    if aware.year < 1990:
        raise RowInvalid(column, text(value), f"{label}不合理（早于1990年）")
    return aware


class _Reference:
    """Categories, closed statuses and handling units by name or code, read once per file."""

    def __init__(self) -> None:
        self.categories: dict[str, Category] = {}
        cats = list(Category.objects.filter(active=True).order_by("parent_id", "sort", "code"))
        for c in cats:  # groups first, so a leaf of the same name wins
            self.categories[c.name] = c
        for c in cats:
            self.categories[c.code] = c
        self.statuses: dict[str, Status] = {}
        closed = list(Status.objects.filter(is_closed=True))
        by_code = {s.code: s for s in closed}
        for s in closed:
            self.statuses[s.code] = self.statuses[s.name] = s
        for word, code in _STATUS_ALIASES.items():
            if code in by_code:
                self.statuses.setdefault(word, by_code[code])
        self.closed_names = sorted({s.name for s in closed})
        self.units: dict[str, list[HandlingUnit]] = {}
        for u in HandlingUnit.objects.order_by("-active", "pk"):
            self.units.setdefault(u.name, []).append(u)


def _row(number: int, row: dict[str, Any], crs: str, ref: _Reference) -> _Row:
    case_no = cell_text(row, "case_no", "原系统编号", limit=100)
    content = cell_text(row, "content", "诉求内容", limit=5000, unit="字")
    title = text(row.get("title"))[:200]
    category_text = text(row.get("category"))
    category = ref.categories.get(category_text) if category_text else None
    if category_text and category is None:
        raise RowInvalid("category", category_text, "分类不存在（请填写本平台的分类名称或代码）")
    status_text = text(row.get("status"))
    status = ref.statuses.get(status_text)
    if status is None:
        raise RowInvalid(
            "status",
            status_text,
            f"历史案件的状态只能是已办结或不予受理（可填：{'、'.join(ref.closed_names)}、已办结）",
        )
    reported_at = parse_moment(row.get("reported_at"), "reported_at", "上报时间")
    if reported_at is None:
        raise RowInvalid("reported_at", "", "上报时间不能为空")
    accepted_at = parse_moment(row.get("accepted_at"), "accepted_at", "受理时间")
    closed_at = parse_moment(row.get("closed_at"), "closed_at", "办结时间")
    rejected = status.code == REJECTED_STATUS
    if closed_at is None:
        if not rejected:
            raise RowInvalid("closed_at", "", "已办结的案件须填写办结时间")
        closed_at = accepted_at or reported_at  # a refusal ends when it was decided
    # Old systems often keep only the day of a step: a step on the same day as the one before it is in
    # order (and is not dated before it); an earlier day is an error in the file.
    if accepted_at is not None and accepted_at < reported_at:
        if _day(accepted_at) < _day(reported_at):
            raise RowInvalid("accepted_at", text(row.get("accepted_at")), "受理时间早于上报时间")
        accepted_at = reported_at
    if closed_at < (accepted_at or reported_at):
        if _day(closed_at) < _day(accepted_at or reported_at):
            raise RowInvalid("closed_at", text(row.get("closed_at")), "办结时间早于上报或受理时间")
        closed_at = accepted_at or reported_at
    lng, lat, address = row_location(row, crs, "地址")
    unit_name = text(row.get("unit"))[:100]
    outcome = text(row.get("outcome"))
    if len(outcome) > 5000:
        raise RowInvalid("outcome", outcome[:30], "处置结果不能超过5000字")
    rating_text = text(row.get("rating"))
    rating = _RATINGS.get(rating_text, "") if rating_text else ""
    if rating_text and not rating:
        raise RowInvalid("rating", rating_text, "满意度只能是满意、基本满意或不满意")
    if rating and rejected:
        raise RowInvalid("rating", rating_text, "不予受理的案件没有满意度评价")
    parsed = _Row(
        number,
        case_no,
        title,
        content,
        category,
        reported_at,
        accepted_at,
        closed_at,
        status,
        address,
        lng,
        lat,
        unit_name,
        outcome,
        rating,
    )
    parsed.fingerprint = _fingerprint(parsed)
    return parsed


def _day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _fingerprint(r: _Row) -> str:
    """Keyed hash of what a row says (the text may name people: never a plain hash of it)."""
    canonical = json.dumps(
        [
            r.case_no,
            r.title,
            r.content,
            r.category.code if r.category else "",
            r.reported_at.isoformat(),
            r.accepted_at.isoformat() if r.accepted_at else "",
            r.closed_at.isoformat(),
            r.status.code,
            r.address,
            r.lng,
            r.lat,
            r.unit_name,
            r.outcome,
            r.rating,
        ],
        ensure_ascii=False,
    )
    return crypto.digest(canonical) or ""


def _place(rows: list[_Row]) -> dict[int, tuple[Territory | None, int | None]]:
    """(grid, building id) per row number, by the intake's precedence: point, then address (exact
    building address in one query; a partial address through `triage.locate`)."""
    out: dict[int, tuple[Territory | None, int | None]] = {}
    with_point = [r for r in rows if r.lat is not None and r.lng is not None]
    grid_ids: dict[int, int] = {}
    if with_point:
        found = locate_points([r.lng for r in with_point], [r.lat for r in with_point])
        grid_ids = {r.number: int(g) for r, g in zip(with_point, found, strict=True) if g is not None}
    wanted = {r.address for r in rows if r.address and r.number not in grid_ids}
    addresses: dict[str, list[Building]] = {}
    for b in Building.objects.filter(address__in=wanted) if wanted else ():
        addresses.setdefault(b.address, []).append(b)
    buildings: dict[int, int | None] = {}
    for r in rows:
        if r.number in grid_ids or not r.address:
            continue
        same = addresses.get(r.address, [])
        if len(same) == 1 and same[0].grid_id:
            grid_ids[r.number], buildings[r.number] = same[0].grid_id, same[0].pk
        elif len(same) != 1 and len(r.address) >= 6:
            grid, building, _ = locate(Event(address=r.address))
            if grid is not None:
                grid_ids[r.number] = grid.pk
                buildings[r.number] = building.pk if building is not None else None
    grids = {g.pk: g for g in Territory.objects.filter(pk__in=set(grid_ids.values()))}
    for r in rows:
        gid = grid_ids.get(r.number)
        out[r.number] = (grids.get(gid) if gid else None, buildings.get(r.number))
    return out


def _event(
    r: _Row,
    *,
    grid: Territory | None,
    building_id: int | None,
    home: str,
    unit: HandlingUnit | None,
    meta: dict,
) -> Event:
    rejected = r.status.code == REJECTED_STATUS
    category = r.category
    imported: dict[str, Any] = {**meta, "case": r.case_no, "fp": r.fingerprint}
    if r.unit_name and unit is None:
        imported["unit"] = r.unit_name  # a unit of the old system this installation does not have
    if r.accepted_at is not None:
        imported["accepted_at"] = r.accepted_at.isoformat()
    return Event(
        tracking_code=tracking_code_new(),
        title=(r.title or r.content)[:60].strip(),
        description=r.content,
        event_type=category.default_type if category and category.default_type else EventType.COMPLAINT,
        urgency=Urgency.NORMAL,  # never raised by words: history pages nobody (issue 18 C2)
        channel=Channel.HISTORY,
        category=category,
        needs_triage=False,
        status=r.status,
        lat=r.lat,
        lng=r.lng,
        address=r.address[:200],
        grid=grid,
        building_id=building_id,
        path=grid.code if grid is not None else home,
        handler_unit=unit,
        external_id=r.case_no,
        rating=r.rating,
        reject_reason=r.outcome[:300] if rejected else "",
        triaged_at=r.accepted_at or r.reported_at,
        extra={"imported": imported},
        created_at=r.reported_at,
        closed_at=r.closed_at,
    )


def history_import(*, actor: Any, file: Any, crs: str = WGS84) -> HistoryResult:
    """Import an older system's closed cases (see the module docstring). Bad rows are reported with their
    row numbers and the good ones go in; a rerun adds nothing; one audit row per file.

    Raises Forbidden unless a district admin, InvalidInput for a bad file (type, size, columns, rows)
    before any row is written, Conflict when another import is writing the same cases at this moment.
    """
    require_district_admin(actor, "仅限区级管理员导入历史事件")
    home = user_scope_path(actor)
    if actor is None or (home == "" and not getattr(actor, "is_superuser", False)):
        raise Forbidden("仅限区级管理员导入历史事件", code="permission_denied")
    name, sha256 = upload_check(file=file, crs=crs)
    result = HistoryResult(job=uuid.uuid4().hex)
    ref = _Reference()
    too_many = InvalidInput(f"单个文件最多 {MAX_ROWS} 条历史案件，请按年份拆分后导入", code="too_many_rows")
    parsed: list[_Row] = []
    with upload_path(file, name) as path:
        table = open_table(HISTORY, path, name)
        if table.total_rows > MAX_ROWS:
            raise too_many
        for number, row in table.rows():
            result.total += 1
            if result.total > MAX_ROWS:
                raise too_many
            try:
                parsed.append(_row(number, row, crs, ref))
            except RowInvalid as exc:
                result.reject(number, exc.column, exc.value, exc.message)
    fresh = _known(parsed, actor=actor, result=result)
    places = _place(fresh)
    meta = {"source": name, "job": result.job}
    events: list[Event] = []
    rows: list[_Row] = []
    for r in fresh:
        grid, building_id = places[r.number]
        if grid is not None and not path_in_scope(actor, grid.code):
            result.reject(r.number, "address" if r.lat is None else "lng", "", "位置不在您的辖区内")
            continue
        units = ref.units.get(r.unit_name, []) if r.unit_name else []
        unit = units[0] if len(units) == 1 or (units and units[0].active and not units[1].active) else None
        events.append(_event(r, grid=grid, building_id=building_id, home=home, unit=unit, meta=meta))
        rows.append(r)
    try:
        with transaction.atomic():
            _write(events, rows, actor=actor)
            result.created = len(events)
            audit_record(
                actor=actor,
                action="event.history_import",
                object_type="events.history_import",
                object_repr=f"历史事件导入 {name}"[:200],
                path=home,
                after={
                    "file": name,
                    "sha256": sha256,
                    "job": result.job,
                    "total": result.total,
                    "created": result.created,
                    "unchanged": result.unchanged,
                    "conflicts": result.conflicts,
                    "error_rows": result.error_rows,
                },
            )
    except IntegrityError:
        # Another import wrote one of these case numbers meanwhile; nothing of this one was kept.
        raise Conflict("另一次导入正在写入相同的案件，请稍后重新导入（不会重复登记）", code="import_busy")
    result.errors.sort(key=lambda e: e.row)
    return result


def _known(parsed: list[_Row], *, actor: Any, result: HistoryResult) -> list[_Row]:
    """The rows not imported yet. A case number already imported (earlier, or above in this file) with
    the same content is counted as unchanged, with other content as a conflict; one whose event the
    importer may not see gets the replay answer that names nothing about it."""
    existing: dict[str, Event] = {}
    cases = [r.case_no for r in parsed]
    for start in range(0, len(cases), 1000):
        for e in Event.objects.filter(
            channel=Channel.HISTORY, external_id__in=cases[start : start + 1000]
        ).only(
            "id", "external_id", "extra", "path", "reporter_user_id", "handler_user_id", "handler_unit_id"
        ):
            existing[e.external_id or ""] = e
    allowed = replay_allowed_many(events=list(existing.values()), actor=actor) if existing else set()
    seen: dict[str, str] = {}
    fresh: list[_Row] = []
    for r in parsed:
        before = existing.get(r.case_no)
        if before is not None and before.pk not in allowed:
            result.reject(r.number, "case_no", r.case_no, replay_refused().message)
            continue
        fp = (before.extra.get("imported") or {}).get("fp") if before is not None else seen.get(r.case_no)
        if fp is None:
            seen[r.case_no] = r.fingerprint
            fresh.append(r)
        elif fp == r.fingerprint:
            result.unchanged += 1
        else:
            result.conflicts += 1
            result.reject(
                r.number, "case_no", r.case_no, "该编号已导入，但本行内容不同；已导入的案件不会被覆盖"
            )
    return fresh


def _write(events: list[Event], rows: list[_Row], *, actor: Any) -> None:
    """Insert the events and their one timeline entry each, then put back the file's dates (the models'
    auto_now_add stamps the insert time on `created_at` and `at`). No clocks, notifications, SOS watch
    or workload: nothing but these two tables is written."""
    if not events:
        return
    Event.objects.bulk_create(events, batch_size=WRITE_BATCH)
    for e, r in zip(events, rows, strict=True):
        e.created_at = r.reported_at
    Event.objects.bulk_update(events, ["created_at"], batch_size=WRITE_BATCH)
    who = actor_fields(actor)
    entries = [
        TimelineEntry(
            event=e,
            action=ACTION,
            to_status=r.status.code,
            note=r.outcome,
            public=False,
            data={
                "case": r.case_no,
                "job": e.extra["imported"]["job"],
                "source": e.extra["imported"]["source"],
                "reported_at": r.reported_at.isoformat(),
            },
            **who,
        )
        for e, r in zip(events, rows, strict=True)
    ]
    TimelineEntry.objects.bulk_create(entries, batch_size=WRITE_BATCH)
    for t, r in zip(entries, rows, strict=True):
        t.at = r.closed_at
    TimelineEntry.objects.bulk_update(entries, ["at"], batch_size=WRITE_BATCH)


def history_template() -> bytes:
    """The blank history template (.xlsx with a 填写说明 sheet)."""
    return template_xlsx(HISTORY)
