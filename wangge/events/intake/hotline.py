"""12345 hotline work orders, imported in bulk from the city platform's .xlsx/.csv export.

Each row becomes one report of a batched intake (`batch.event_intake_many`) with channel "hotline" and
external_id = 工单编号, so a work order is registered once however often the file (or a corrected copy of
it) is imported again. Rows are independent: a bad row is reported (row, column, reason in Chinese;
personal values masked) without stopping the others. The file is read with
wangge.exchange.readers (header row detection, .xlsx/.xls/.csv, encodings).
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from wangge.accounts.roles import P_IMPORT_REGISTER
from wangge.audit.services import audit_record
from wangge.core.errors import Forbidden, InvalidInput
from wangge.core.masking import mask_name, mask_phone
from wangge.exchange.columns import COORD_NOTE, Column, Spec
from wangge.exchange.files import template_xlsx
from wangge.exchange.readers import open_table, upload_path
from wangge.registry.bulk import RowError, RowInvalid, text
from wangge.territory.coords import WGS84

from ..models import Category, Channel, EventType, Urgency
from .batch import event_intake_many
from .report import EventInput
from .uploads import cell_text, row_errors_display, row_location, upload_check

MAX_ROWS = 5000  # per file; the platform's daily export is far smaller
MAX_KEPT_ERRORS = 500

HOTLINE = Spec(
    kind="hotline",
    label="12345工单",
    columns=(
        Column("order_no", "工单编号", ("工单号", "受理编号", "工单流水号"), required=True),
        Column("called_at", "来电时间", ("受理时间", "来电日期", "登记时间"), help="如 2025-10-09 08:30"),
        Column("caller", "来电人", ("来电人姓名", "诉求人", "联系人"), personal=True),
        Column("phone", "联系电话", ("来电号码", "联系方式", "手机号", "电话"), personal=True),
        Column(
            "event_type",
            "诉求类型",
            ("工单类型", "诉求性质"),
            choices=tuple(label for _, label in EventType.choices),
            help="不填则按分类的默认类型",
        ),
        Column(
            "urgency",
            "紧急程度",
            ("紧急度", "缓急程度"),
            choices=tuple(label for _, label in Urgency.choices),
            help="不填为“一般”",
        ),
        Column("content", "诉求内容", ("工单内容", "来电内容", "问题描述", "诉求描述"), required=True),
        Column("address", "事发地址", ("问题地址", "发生地址", "地址"), help="事发地址与经纬度至少填一项"),
        Column("lng", "经度", (), help=COORD_NOTE),
        Column("lat", "纬度", ()),
        Column(
            "category",
            "诉求分类",
            ("问题分类", "工单分类", "事项分类"),
            help="本平台的分类名称或代码；对不上的由系统自动分类",
        ),
    ),
    notes=(
        "以工单编号识别工单：同一工单编号只会登记一次，修改后重新导入整个文件是安全的。",
        "有错误的行不会导入，其余行照常导入；改正后可再次导入。",
    ),
)

_TYPES = {label: value for value, label in EventType.choices} | {v: v for v in EventType.values}
_URGENCIES = {label: value for value, label in Urgency.choices} | {v: v for v in Urgency.values}
_PHONE = re.compile(r"^[\d\-+ ]{5,20}$")
_DATETIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?\s*秒?)?$"
)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Intake's error codes -> the column to blame.
_CODE_COLUMN = {
    "description_required": "content",
    "description_too_long": "content",
    "location_required": "address",
    "invalid_location": "lng",
    "outside_jurisdiction": "lng",  # a point in no grid of this installation
    "invalid_category": "category",
    "duplicate_key": "order_no",  # a work order of an event the importer may not see
}


@dataclass
class HotlineResult:
    total: int = 0
    created: int = 0
    duplicates: int = 0
    error_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    tracking_codes: list[str] = field(default_factory=list)

    def reject(self, number: int, column: str, value: Any, message: str) -> None:
        self.error_rows += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(
                RowError(row=number, column=column, value=_mask(column, value), message=message)
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "duplicates": self.duplicates,
            "error_rows": self.error_rows,
            "errors": row_errors_display(self.errors, HOTLINE),
            "tracking_codes": self.tracking_codes,
        }


def _mask(column: str, value: Any) -> str:
    s = text(value)
    if column == "phone":
        return mask_phone(s)
    if column == "caller":
        return mask_name(s)
    return s[:200]


def parse_called_at(value: Any) -> dt.datetime | None:
    """来电时间: Excel date-time cells and serial numbers, or text like 2025-10-09 08:30 / 2025年10月9日."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        moment = _EXCEL_EPOCH + dt.timedelta(days=float(value))
        moment = moment.replace(microsecond=0)
    else:
        s = text(value)
        if not s:
            return None
        m = _DATETIME.match(s)
        if not m:
            raise RowInvalid("called_at", s, "时间格式无法识别（应为 2025-10-09 08:30 或 2025/10/9 8:30）")
        y, mo, d, h, mi, sec = (int(p) if p else 0 for p in m.groups())
        try:
            moment = dt.datetime(y, mo, d, h, mi, sec)
        except ValueError:
            raise RowInvalid("called_at", s, "时间不存在（请检查日期和时刻）")
    aware = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    if aware > timezone.now() + dt.timedelta(minutes=5):
        raise RowInvalid("called_at", text(value), "来电时间晚于当前时间")
    if aware.year < 2000:
        raise RowInvalid("called_at", text(value), "来电时间不合理（早于2000年）")
    return aware


def _choice(value: Any, column: str, table: dict[str, str], labels: tuple[str, ...]) -> str:
    s = text(value)
    if not s:
        return ""
    found = table.get(s)
    if found is None:
        raise RowInvalid(column, s, f"取值无效，可选：{'、'.join(labels)}")
    return found


class _Categories:
    """Category code or name -> code (leaf categories win over groups of the same name)."""

    def __init__(self) -> None:
        self.table: dict[str, str] = {}
        cats = list(Category.objects.filter(active=True).order_by("parent_id", "sort", "code"))
        for c in cats:  # parents (parent_id None) first, so leaves overwrite them by name
            self.table[c.name] = c.code
        for c in cats:
            self.table[c.code] = c.code

    def get(self, value: str) -> str:
        return self.table.get(value.strip(), "") if value else ""


def _row_input(row: dict[str, Any], crs: str, categories: _Categories) -> EventInput:
    order_no = cell_text(row, "order_no", "工单编号", limit=100)
    content = text(row.get("content"))
    if not content:
        raise RowInvalid("content", "", "诉求内容不能为空")
    called_at = parse_called_at(row.get("called_at"))
    phone = text(row.get("phone"))
    if phone and not _PHONE.match(phone):
        raise RowInvalid("phone", phone, "电话号码格式不正确")
    caller = text(row.get("caller"))
    if len(caller) > 50:
        raise RowInvalid("caller", caller, "来电人不能超过50个字符")
    event_type = _choice(row.get("event_type"), "event_type", _TYPES, HOTLINE.column("event_type").choices)
    urgency = _choice(row.get("urgency"), "urgency", _URGENCIES, HOTLINE.column("urgency").choices)
    lng, lat, address = row_location(row, crs, "事发地址")
    category_text = text(row.get("category"))
    extra: dict[str, Any] = {"work_order": order_no}
    if called_at is not None:
        extra["called_at"] = called_at.isoformat()
    if category_text:
        extra["hotline_category"] = category_text[:100]
    return EventInput(
        description=content,
        channel=Channel.HOTLINE,
        event_type=event_type,
        urgency=urgency or Urgency.NORMAL,
        category_code=categories.get(category_text),
        lat=lat,
        lng=lng,
        address=address,
        reporter_name=caller,
        reporter_phone=phone,
        external_id=order_no,
        extra=extra,
    )


def hotline_import(*, actor: Any, file: Any, crs: str = WGS84) -> HotlineResult:
    """Import a 12345 work-order file through the batched intake (a bad row never undoes the good ones);
    the import itself is audited once, with its counts.

    Raises Forbidden without accounts.import_register, InvalidInput for a bad file (type, size, missing
    columns, too many rows) before any row is read.
    """
    if not actor.has_perm(P_IMPORT_REGISTER):
        raise Forbidden("没有导入12345工单的权限", code="permission_denied")
    name, sha256 = upload_check(file=file, crs=crs)
    result = HotlineResult()
    categories = _Categories()
    with upload_path(file, name) as path:
        table = open_table(HOTLINE, path, name)  # missing columns: one clear error, nothing imported
        if table.total_rows > MAX_ROWS:
            raise InvalidInput(f"单个文件最多 {MAX_ROWS} 条工单，请拆分后导入", code="too_many_rows")
        parsed: list[tuple[int, dict[str, Any], EventInput]] = []
        for number, row in table.rows():
            result.total += 1
            if result.total > MAX_ROWS:
                raise InvalidInput(f"单个文件最多 {MAX_ROWS} 条工单，请拆分后导入", code="too_many_rows")
            try:
                parsed.append((number, row, _row_input(row, crs, categories)))
            except RowInvalid as exc:
                result.reject(number, exc.column, exc.value, exc.message)
    outcomes = event_intake_many(items=[data for _, _, data in parsed], actor=actor)
    for (number, row, _), outcome in zip(parsed, outcomes, strict=True):
        if outcome.error is not None:
            column = _CODE_COLUMN.get(outcome.error.code, "")
            result.reject(number, column, row.get(column) if column else "", outcome.error.message)
        elif outcome.created:
            result.created += 1
            result.tracking_codes.append(outcome.tracking_code)
        else:
            result.duplicates += 1
    result.errors.sort(key=lambda e: e.row)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="event.hotline_import",
            object_type="events.hotline_import",
            object_repr=f"12345工单导入 {name}"[:200],
            after={
                "file": name,
                "sha256": sha256,
                "total": result.total,
                "created": result.created,
                "duplicates": result.duplicates,
                "error_rows": result.error_rows,
            },
        )
    return result


def hotline_template() -> bytes:
    """The blank work-order template (.xlsx with a 填写说明 sheet)."""
    return template_xlsx(HOTLINE)
