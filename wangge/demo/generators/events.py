"""Six months of events in the demo district (E1–E7, S6): every page has something true to show.

How many: `--events N`, default round(residents × 6,000 / 14,300) — for Liuhe's 14,300 residents about
33 reports a day, 0.84 per resident a year. That is the order of Beijing's 12345 hotline (≈ 20 million
calls a year for 21.8 million people, consultations included) and half a report per grid per day, which
is what a grid worker's daily patrol quota plus the hotline produce in the published community figures.

What the reports look like: channels (patrol 36 %, 12345 hotline 27 %, resident page 22 %, Open311 6 %,
sensors 6 %, wearable SOS 3 %), categories from the seeded tree with a city's usual mix (environment,
parking, noise, cooking fumes, street trading first), a weekly rhythm (Monday peak, weekends and official
holidays lower), daytime hours (noise in the evening, SOS and sensor alarms any time), three hot spots
(cooking fumes around one restaurant in 六合社区's first grid, evening square-dance noise in one compound,
parking at the dedicated grid's school or market gate), points strictly inside the grid polygons (half of
them at a building, with its address), encrypted reporter contacts, Open311/hotline/device identifiers.

How they move: each event is simulated along the seeded status graph (report → triage → accept → dispatch
→ sign → feedback → verify → close → rate, with rejects, rework, suspension, escalation, whistles with
acknowledged and missed summons, merged duplicates, disputes with mediation and an outcome). Every step
is a working-time delay drawn as a share of the stage's limit (a few run late), so actions fall in working
hours of real working days. Steps that would fall after the reference moment (00:00 of `--today`) are not
taken: recent events are still open, some with yellow or red warnings that are true at that moment.

Stored fields are computed exactly as wangge.events.services computes them — the stage clock through
`time_limit_for` and WorkCalendar (official calendar with 调休), StageDeadline history closed with its
overdue flag, a TimelineEntry per step with the edge's name and public flag, version +1 per transition —
but written in bulk with the past timestamps (auto_now/auto_now_add are switched off while writing, so
created_at and `at` hold the simulated times). Deterministic from the seed (random stream "events"),
except ciphertexts (random nonces; their keyed hashes are stable). Also creates the handling units
(per street: 城管执法中队, 市场监管所, 司法所 — together the comprehensive law-enforcement team — and the
street office's sections; per community: the residents' committee; every property company of the
register) and the dispatch rules, and the sensors and wearables the device events came from.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings
from django.db import connection, models

import wangge.demo.generators.names as names
from wangge.clock.calendar import WorkCalendar
from wangge.core import crypto
from wangge.events.common import LEVEL_DEFAULT_ROLE, time_limit_for
from wangge.events.common import RATINGS as RATING_LABELS
from wangge.events.models import (
    CalendarDay,
    Category,
    Channel,
    Device,
    DeviceMessage,
    DispatchRule,
    DisputeOutcome,
    DisputeParty,
    Event,
    EventType,
    HandlingUnit,
    Level,
    MediationSession,
    ReturnVisit,
    SosWatch,
    StageDeadline,
    Status,
    TimelineEntry,
    Transition,
    Urgency,
    Warning,
    Whistle,
    WhistleSummon,
)
from wangge.events.triage import propose_urgency
from wangge.events.triage.classifier import keyword_classify
from wangge.events.workflow import EDGE_ACTIONS, TARGET_ACTIONS
from wangge.registry.models import OrganisationKind, Place, Resident
from wangge.territory.models import Building

from .base import DemoContext, GridPlan, point_in

LIUHE_RESIDENTS = 14300
EVENTS_PER_LIUHE = 6000
MONTHS = 6
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # as services.tracking_code_new

CHANNEL_WEIGHTS = {
    Channel.PATROL: 36,
    Channel.HOTLINE: 27,
    Channel.RESIDENT: 22,
    Channel.OPEN311: 6,
    Channel.SENSOR: 6,
    Channel.SOS: 3,
}
# Monday peak, weekend dip (index = weekday()).
WEEKDAY_WEIGHTS = [1.32, 1.12, 1.05, 1.0, 0.94, 0.58, 0.5]
# Reports by hour of the day: morning and afternoon peaks, some evening, little at night.
HOUR_WEIGHTS = [
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.45, 1.1, 1.6, 1.7, 1.3,
    0.6, 0.7, 1.3, 1.5, 1.4, 1.0, 0.6, 0.7, 0.7, 0.5, 0.3, 0.12,
]  # fmt: skip
PATROL_HOURS = [8, 9, 9, 10, 10, 10, 11, 14, 15, 15, 16, 16, 17]

# Usual mix of a Chinese city district (digital city management and 12345 statistics), by leaf code.
CATEGORY_WEIGHTS = {
    "0101": 14, "0102": 8, "0103": 5, "0104": 8, "0105": 1, "0201": 5, "0301": 3,
    "0401": 6, "0402": 5, "0403": 2, "0404": 11, "0501": 3, "0502": 0, "0503": 0.5,
    "0601": 3, "0602": 3, "0603": 3, "0604": 2, "0605": 3, "0606": 2, "0607": 3, "0608": 1.5,
    "0701": 2, "0702": 3, "0703": 0.5, "0704": 2, "99": 1,
}  # fmt: skip
CHANNEL_CATEGORIES: dict[str, dict[str, float] | None] = {
    Channel.PATROL: {
        c: CATEGORY_WEIGHTS[c]
        for c in "0101 0102 0103 0105 0201 0301 0401 0402 0403 0404 0501 0603 0701 0702 0703 0704".split()
    },
    Channel.HOTLINE: None,  # everything but device alarms
    Channel.RESIDENT: None,
    Channel.OPEN311: {c: CATEGORY_WEIGHTS[c] for c in "0101 0102 0201 0404 0401 0701 0702 0703 0704".split()},
    Channel.SENSOR: {"0501": 6, "0503": 3, "0604": 2, "0603": 1},
    Channel.SOS: {"0502": 1},
}

TEMPLATES: dict[str, list[str]] = {
    "0101": [
        "{road}{n}号附近垃圾桶满溢，垃圾散落一地，气味很臭，请尽快清运",
        "{compound}{bldg}楼下有人倒污水，路面很脏，希望安排清扫",
        "{road}公厕卫生差，地面脏乱，长时间无人清扫",
        "{compound}门口垃圾堆了两天没人清理，天热发臭",
    ],
    "0102": [
        "{compound}{bldg}楼道堆放杂物，占用楼道，存在安全隐患",
        "{road}{n}号旁堆积建筑垃圾，长期无人清理",
        "{compound}{bldg}一楼住户在公共区域堆放废品杂物",
    ],
    "0103": [
        "{place}油烟直排，楼上住户窗户都不敢开，呛得人咳嗽",
        "{place}晚上烧烤排烟很大，油烟扰民",
        "{place}没有安装油烟净化设备，油烟把外墙都熏黑了",
    ],
    "0104": [
        "{compound}广场舞音响声音太大，晚上九点多还在跳，噪音扰民",
        "{compound}{bldg}有住户装修，中午休息时间电钻声不断",
        "{place}门口喇叭循环播放促销广告，噪声很吵",
        "{compound}{bldg}楼上深夜吵闹，影响休息",
    ],
    "0105": ["{road}附近空地有人露天焚烧垃圾，烟很大", "{compound}后面有人烧树叶和废品"],
    "0201": ["{compound}{bldg}单元门和墙上贴满小广告", "{road}{n}号附近电线杆上有人喷涂办证小广告"],
    "0301": ["{road}工地夜间施工，晚上十一点还有噪声", "{road}工地渣土车未覆盖，扬尘严重"],
    "0401": [
        "{road}{n}号附近有流动摊贩占道摆摊卖水果，影响通行",
        "{road}早市摊点占道经营，人行道走不通",
    ],
    "0402": ["{place}出店经营，桌椅摆到人行道上", "{place}把货物摆在店外，越门经营"],
    "0403": ["{road}{n}号有无证经营的小作坊，没有执照", "{compound}附近有人无照经营黑作坊加工食品"],
    "0404": [
        "{compound}门口车辆乱停，堵住消防通道",
        "{road}{n}号附近电动车乱放，堵门",
        "{road}共享单车乱停放，占用盲道",
    ],
    "0501": [
        "{compound}{bldg}有人飞线充电，电线从楼上垂下来给电动车充电",
        "{compound}{bldg}消防通道被杂物堵塞",
        "{place}灭火器过期，消防通道被货物占用",
    ],
    "0502": ["一键呼叫：{compound}{bldg}独居老人按下手环呼救按钮"],
    "0503": ["{compound}{bldg}楼道有煤气味，疑似燃气漏气"],
    "0601": [
        "{compound}{bldg}邻里因漏水问题发生争执，双方吵架，请社区调解",
        "{compound}两户因楼道堆放杂物发生纠纷",
        "{compound}{bldg}楼上楼下因噪音问题矛盾激化，差点打架",
    ],
    "0602": [
        "{compound}物业公司乱收停车费，业主不满",
        "{compound}物业服务差，保安不在岗，要求物业整改",
        "{compound}业主与物业公司因物业费问题发生纠纷",
    ],
    "0603": ["{compound}{bldg}顶楼漏水，墙皮脱落", "{compound}{bldg}外墙瓷砖脱落，存在安全隐患"],
    "0604": ["{compound}{bldg}电梯故障停运，老人上下楼困难", "{compound}{bldg}电梯困人，请尽快处理"],
    "0605": ["{compound}停车位不够，停车难，希望规划车位", "{compound}停车收费不合理"],
    "0606": [
        "{compound}{bldg}独居老人行动不便，需要帮助，希望社区上门看看",
        "家里有困难，想求助社区，请问能否申请临时救助",
    ],
    "0607": ["请问居住证怎么办理，需要哪些材料", "咨询高龄津贴如何申请", "请问在社区如何办理老年优待证"],
    "0608": ["建议在{compound}增设电动车充电桩", "希望{road}增设公交站台座椅", "建议{compound}增设健身器材"],
    "0701": ["{road}{n}号附近井盖破损，有安全隐患", "{road}下水道盖丢失，晚上很危险"],
    "0702": ["{road}路灯不亮，晚上一片漆黑", "{compound}内路灯坏了好几盏"],
    "0703": ["{road}{n}号附近消防栓漏水", "{road}消火栓被车撞歪"],
    "0704": ["{compound}健身器材损坏，老人锻炼不安全", "{road}护栏损坏"],
}
SENSOR_TEXT = {
    "0501": "烟感报警：{where}，设备{device}",
    "0503": "燃气报警器告警：{where}，设备{device}",
    "0604": "电梯物联网告警（停运）：{where}，设备{device}",
    "0603": "水浸告警：{where}，设备{device}",
}
FEEDBACK = {
    "0101": "已安排保洁人员清运完毕，垃圾桶已清空",
    "0102": "已联系住户清理楼道杂物，现已畅通",
    "0103": "已责令商户安装油烟净化设备并整改",
    "0104": "已上门劝导，噪音已停止",
    "0201": "小广告已清除",
    "0401": "已劝离占道摊贩",
    "0402": "已责令商户将物品收回店内",
    "0403": "已联合市场监管依法查处",
    "0404": "已联系车主挪车并张贴提示",
    "0501": "已拆除飞线，清理通道，开展消防宣传",
    "0502": "已上门确认老人安全，联系家属",
    "0601": "经调解双方达成一致",
    "0602": "已约谈物业公司限期整改",
    "0603": "已联系维修单位完成修缮",
    "0604": "维保单位已修复电梯，恢复运行",
    "0607": "已电话答复办理流程",
    "0702": "路灯已修复",
}
REJECT_REASONS = [
    "不属于本平台受理范围，已告知反映人向相关部门咨询",
    "反映内容不具体，无法核实，已告知反映人补充",
    "现场核实无此情况",
]
SENSOR_REJECT = "现场核实为设备误报，无异常"
REWORK_NOTES = ["现场核查未整改到位，请重新处置", "反映人表示问题仍存在，返工处理"]
ESCALATE_NOTES = ["涉及执法事项，本级无法解决，请上级协调", "需多部门联合处置，本级无法解决"]
SUSPEND_NOTES = ["需等待维修配件到货", "当事人外出，待其返回后处理"]
RATINGS = [("satisfied", 80), ("basically", 14), ("unsatisfied", 6)]


def default_count(residents: int) -> int:
    return round(residents * EVENTS_PER_LIUHE / LIUHE_RESIDENTS)


def months_before(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise ValueError(day)


@contextmanager
def explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk_create keep the simulated times in auto_now/auto_now_add fields (restored afterwards)."""
    saved: list[tuple[Any, bool, bool]] = []
    for model in model_classes:
        for f in model._meta.concrete_fields:
            if isinstance(f, (models.DateField, models.TimeField)) and (f.auto_now or f.auto_now_add):
                saved.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, now_, add in saved:
            f.auto_now, f.auto_now_add = now_, add


# --- the world the simulation reads -----------------------------------------------------------------


@dataclass
class Unit:
    obj: HandlingUnit
    members: list[Any]


@dataclass
class World:
    ctx: DemoContext
    rng: random.Random
    now: datetime
    overrides: dict[date, bool]
    statuses: dict[str, Status]
    edges: dict[tuple[str, str], Transition]
    categories: dict[str, Category]
    ancestors: dict[int, list[int]]
    rules: list[DispatchRule]
    units: dict[int, Unit]
    street_units: dict[int, dict[str, HandlingUnit]]  # street pk → role → unit
    committee: dict[int, HandlingUnit]  # community pk → 居委会
    worker: dict[str, Any]
    leader: dict[str, Any]
    street_staff: dict[str, Any]
    residents: dict[str, list[tuple[int, str]]]
    fake: Any
    threshold: float
    sos_steps: list[tuple[str, str, int]]
    dedupe_hours: float
    reopen_days: int
    fumes_master: Sim | None = None
    _limits: dict[tuple[int | None, str, str], Any] = field(default_factory=dict)
    _cal: WorkCalendar | None = None

    def limit(self, category: Category | None, urgency: str, stage: str) -> Any:
        key = (category.pk if category else None, urgency, stage)
        if key not in self._limits:
            self._limits[key] = time_limit_for(category=category, urgency=urgency, stage=stage)
        return self._limits[key]

    def cal(self) -> WorkCalendar:
        """A calendar with the local overrides (one instance, its fallback flag reset for each use)."""
        if self._cal is None:
            self._cal = WorkCalendar(overrides=self.overrides)
        self._cal.fallback_used = False
        return self._cal

    def later(self, start: datetime, limit: Any, share: float) -> datetime:
        """`share` of a stage limit after `start` (working time unless the limit is in minutes)."""
        if limit is None:
            return self.cal().add_working_minutes(start, 120 * share)
        if limit.unit == "minute":
            return start + timedelta(minutes=limit.amount * share)
        return self.cal().deadline(start, limit.amount * share, limit.unit)

    def work_minutes(self, start: datetime, minutes: float) -> datetime:
        return self.cal().add_working_minutes(start, minutes)

    def share(self, late: float = 0.06) -> float:
        """How much of a limit a step takes: mostly well within it, some close to it, a few late."""
        r = self.rng.random()
        if r < 1 - late - 0.1:
            return self.rng.uniform(0.04, 0.7)
        if r < 1 - late:
            return self.rng.uniform(0.7, 0.98)
        return self.rng.uniform(1.05, 2.5)

    def resolve(self, category: Category, urgency: str, level: str, grid_code: str) -> tuple[Any, Any, Any]:
        """As services.dispatch_resolve: (rule, unit, user) — the first active rule by order matching the
        event's level, category (or an ancestor), territory prefix and urgency; else the level's default
        role (the grid's worker at grid level)."""
        chain = [category.pk, *self.ancestors.get(category.pk, [])]
        for rule in self.rules:
            if not rule.active or rule.level != level:
                continue
            if rule.category_id is not None:
                if rule.include_subcategories and rule.category_id not in chain:
                    continue
                if not rule.include_subcategories and rule.category_id != chain[0]:
                    continue
            if rule.path_prefix and not grid_code.startswith(rule.path_prefix):
                continue
            if rule.urgency and rule.urgency != urgency:
                continue
            unit = rule.unit if rule.unit is not None and rule.unit.active else None
            user = None if unit is not None else self.user_for(rule.role, level, grid_code)
            if unit is None and user is None:
                continue
            return rule, unit, user
        return None, None, self.user_for(LEVEL_DEFAULT_ROLE[Level(level)], level, grid_code)

    def user_for(self, role: str, level: str, grid_code: str) -> Any:
        """The demo account with `role` at the event's node of `level` (as workflow.user_for_role)."""
        table: dict[tuple[str, str], dict[str, Any]] = {
            (Level.GRID, "grid_worker"): self.worker,
            (Level.GRID, "community_staff"): self.leader,
            (Level.COMMUNITY, "community_staff"): self.leader,
            (Level.STREET, "street_staff"): self.street_staff,
        }
        if (level, role) in table:
            return table[(level, role)].get(grid_code)
        if level == Level.DISTRICT and role == "district_admin":
            return self.ctx.users.get("admin")
        return None


def _actor(user: Any, name: str = "") -> dict[str, Any]:
    """Timeline actor fields, as common.actor_fields (a unit without accounts acts by its name)."""
    if user is not None:
        return {"actor": user, "actor_name": str(user)[:150], "actor_role": user.role}
    return {"actor": None, "actor_name": name or "system", "actor_role": ""}


# --- one event's life -----------------------------------------------------------------------------


class Ref:
    """A reference to a row written later: replaced by its primary key when the timeline is written."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj


@dataclass
class Spec:
    at: datetime
    channel: str
    code: str
    grid: GridPlan
    hotspot: str = ""
    duplicate_of: Spec | None = None  # an earlier report of the same problem
    lnglat: tuple[float, float] | None = None
    building: Any = None
    place: Any = None
    device: Any = None
    reporter: tuple[str, str] | None = None


@dataclass
class Sim:
    """One event being simulated; stores what the event services would store, at past moments."""

    w: World
    ev: Event
    grid: GridPlan
    t: datetime  # the moment of the last step taken
    entries: list[TimelineEntry] = field(default_factory=list)
    clocks: list[StageDeadline] = field(default_factory=list)
    open_clock: StageDeadline | None = None
    stopped: bool = False
    master: Sim | None = None
    whistles: list[tuple[Whistle, list[WhistleSummon]]] = field(default_factory=list)
    parties: list[DisputeParty] = field(default_factory=list)
    mediations: list[MediationSession] = field(default_factory=list)
    outcome: DisputeOutcome | None = None
    pending_outcome: DisputeOutcome | None = None
    visits: list[ReturnVisit] = field(default_factory=list)
    sos: SosWatch | None = None
    message: DeviceMessage | None = None

    def log(self, at: datetime, action: str, actor: dict[str, Any], **kw: Any) -> None:
        """services.timeline_append at `at`."""
        kw.setdefault("data", {})
        self.entries.append(TimelineEntry(at=at, action=action, **actor, **kw))
        if self.ev.updated_at is None or at > self.ev.updated_at:
            self.ev.updated_at = at

    def clock(self, stage: str, start: datetime) -> None:
        """common.clock_fields + open_clock."""
        ev = self.ev
        ev.stage, ev.warning = stage, Warning.NONE
        ev.stage_started_at = start if stage else None
        ev.warn_at = ev.deadline = None
        if not stage:
            return
        limit = self.w.limit(ev.category, ev.urgency, stage)
        if limit is None:
            return
        cal = self.w.cal()
        ev.deadline = cal.deadline(start, limit.amount, limit.unit)
        ev.warn_at = cal.warn_time(start, limit.amount, limit.unit, limit.warn_ratio)
        ev.calendar_fallback = cal.fallback_used
        self.open_clock = StageDeadline(
            stage=stage, started_at=start, warn_at=ev.warn_at, deadline=ev.deadline
        )
        self.clocks.append(self.open_clock)

    def close_clock(self, at: datetime) -> None:
        """common.close_clock."""
        if self.open_clock is not None:
            self.open_clock.finished_at = at
            self.open_clock.overdue = at > self.open_clock.deadline
            self.open_clock = None

    def due(self, at: datetime) -> bool:
        """May a step at `at` happen? Not at or after the reference moment; once stopped, nothing more."""
        if self.stopped or at >= self.w.now:
            self.stopped = True
            return False
        return True

    def move(
        self,
        target: str,
        at: datetime,
        actor: dict[str, Any],
        note: str = "",
        *,
        action: str = "",
        fields: dict[str, Any] | None = None,
        **data: Any,
    ) -> bool:
        """workflow.transition_apply at a past moment (False, and nothing stored, if `at` is not reached)."""
        if not self.due(at):
            return False
        ev, w = self.ev, self.w
        source = ev.status.code
        edge = w.edges[(source, target)]
        status = w.statuses[target]
        for name, value in (fields or {}).items():
            setattr(ev, name, value)
        was_closed = ev.status.is_closed
        ev.status = status
        ev.version += 1
        self.close_clock(at)
        self.clock(status.stage, at)
        if status.is_closed:
            ev.closed_at = ev.closed_at if was_closed and ev.closed_at else at
        else:
            ev.closed_at = None
        action = action or EDGE_ACTIONS.get((source, target)) or TARGET_ACTIONS.get(target, "transition")
        self.log(
            at,
            action,
            actor,
            from_status=source,
            to_status=target,
            note=note,
            public=edge.public,
            data={"name": edge.name, **data},
        )
        self.t = at
        return True

    def update(
        self, at: datetime, action: str, actor: dict[str, Any], note: str, public: bool, **data: Any
    ) -> bool:
        """workflow.event_fields_update (a change without a status change) at a past moment."""
        if not self.due(at):
            return False
        self.ev.version += 1
        code = self.ev.status.code
        self.log(at, action, actor, from_status=code, to_status=code, note=note, public=public, data=data)
        self.t = at
        return True


# --- setup: handling units, rules, devices ------------------------------------------------------------


def _units(
    ctx: DemoContext,
) -> tuple[dict[int, Unit], dict[int, dict[str, HandlingUnit]], dict[int, HandlingUnit]]:
    units: dict[int, Unit] = {}
    street_units: dict[int, dict[str, HandlingUnit]] = {}
    committee: dict[int, HandlingUnit] = {}
    dept1 = ctx.users.get("dept1")

    def make(name: str, kind: str, node: Any, members: list[Any], ack: int = 2) -> HandlingUnit:
        unit = HandlingUnit.objects.create(
            name=name, kind=kind, territory=node, path=node.code, ack_limit_hours=ack
        )
        members = [m for m in members if m is not None]
        if members:
            unit.members.add(*members)
        units[unit.pk] = Unit(unit, members)
        return unit

    for i, street in enumerate(ctx.streets, start=1):
        staff = ctx.users.get(f"street{i}")
        stem = street.name
        street_units[street.pk] = {
            "chengguan": make(f"{stem}城管执法中队", HandlingUnit.Kind.ENFORCEMENT, street, [dept1]),
            "market": make(f"{stem}市场监管所", HandlingUnit.Kind.ENFORCEMENT, street, [], ack=4),
            "justice": make(f"{stem}司法所", HandlingUnit.Kind.ENFORCEMENT, street, [], ack=4),
            "urban": make(f"{stem}办事处城市管理办公室", HandlingUnit.Kind.STREET, street, [staff]),
            "social": make(f"{stem}办事处社会事务办公室", HandlingUnit.Kind.STREET, street, [staff]),
            "safety": make(f"{stem}办事处平安建设办公室", HandlingUnit.Kind.STREET, street, [staff]),
        }
    for j, community in enumerate(ctx.communities, start=1):
        staff = ctx.users.get(f"community{j}")
        committee[community.pk] = make(
            f"{community.name}居民委员会", HandlingUnit.Kind.COMMUNITY, community, [staff]
        )
    from wangge.registry.models import Organisation

    for org in (
        Organisation.objects.filter(kind=OrganisationKind.PROPERTY)
        .select_related("community")
        .order_by("path", "name")
    ):
        make(org.name, HandlingUnit.Kind.PROPERTY, org.community, [], ack=4)
    return units, street_units, committee


def _rules(ctx: DemoContext, street_units, committee, categories: dict[str, Category]) -> list[DispatchRule]:
    """Dispatch rules (data): a rule applies to events at its level (services.dispatch_resolve).

    street level: 占道经营/出店经营/无证经营 → the street's 城管执法中队; community level: 矛盾纠纷 → the
    residents' committee (人民调解); grid level: 物业纠纷 → the community's property company; everything
    else at grid level → the grid's worker (the default, written as a rule so it shows in the admin);
    anything escalated to a community or street → that level's staff."""
    rules: list[DispatchRule] = []
    for street in ctx.streets:
        for code in ("0401", "0402", "0403"):
            if code in categories:
                rules.append(
                    DispatchRule(
                        order=10,
                        category=categories[code],
                        path_prefix=street.code,
                        unit=street_units[street.pk]["chengguan"],
                        level=Level.STREET,
                    )
                )
    property_units: dict[str, HandlingUnit] = {}
    for u in HandlingUnit.objects.filter(kind=HandlingUnit.Kind.PROPERTY).order_by("path", "name"):
        property_units.setdefault(u.path, u)
    for community in ctx.communities:
        if "0602" in categories and community.code in property_units:
            rules.append(
                DispatchRule(
                    order=20,
                    category=categories["0602"],
                    path_prefix=community.code,
                    unit=property_units[community.code],
                    level=Level.GRID,
                )
            )
        if "0601" in categories:
            rules.append(
                DispatchRule(
                    order=30,
                    category=categories["0601"],
                    path_prefix=community.code,
                    unit=committee[community.pk],
                    level=Level.COMMUNITY,
                )
            )
    rules.append(DispatchRule(order=1000, role="grid_worker", level=Level.GRID))
    # What a grid escalates (上报) lands with the community's staff, and from there with the street's:
    # 小事不出网格、大事不出社区.
    rules.append(DispatchRule(order=1000, role="community_staff", level=Level.COMMUNITY))
    rules.append(DispatchRule(order=1000, role="street_staff", level=Level.STREET))
    DispatchRule.objects.bulk_create(rules)
    return sorted(DispatchRule.objects.select_related("unit"), key=lambda r: (r.order, r.pk))


def _devices(ctx: DemoContext, rng: random.Random, grids: dict[str, GridPlan]) -> dict[str, list[Device]]:
    """Smoke and gas detectors in restaurants, lift monitors in towers, water sensors, wearables for
    elderly residents living alone."""
    out: dict[str, list[Device]] = defaultdict(list)
    devices: list[Device] = []
    restaurants = list(Place.objects.filter(kind="餐饮").order_by("natural_key"))
    for kind, n, code in ((Device.Kind.SMOKE, 14, "0501"), (Device.Kind.GAS, 8, "0503")):
        for p in rng.sample(restaurants, min(n, len(restaurants))):
            d = Device(
                device_id=f"{kind.upper()}-{len(devices) + 1:05d}",
                kind=kind,
                name=f"{p.name}{kind.label}",
                place=p,
                building_id=p.building_id,
                lat=p.lat,
                lng=p.lng,
                path=p.path,
                life_safety=True,
            )
            devices.append(d)
            out[code].append(d)
    towers = [b for b in ctx.buildings if b.floors >= 8] or list(ctx.buildings)
    for kind, n, code in ((Device.Kind.OTHER, 10, "0604"), (Device.Kind.WATER, 6, "0603")):
        for b in rng.sample(towers, min(n, len(towers))):
            label = "电梯监测" if code == "0604" else kind.label
            d = Device(
                device_id=f"{'LIFT' if code == '0604' else 'WATER'}-{len(devices) + 1:05d}",
                kind=kind,
                name=f"{b.compound.name}{b.name}{label}",
                building=b,
                lat=b.lat,
                lng=b.lng,
                path=b.path,
            )
            devices.append(d)
            out[code].append(d)
    alone = list(
        Resident.objects.filter(tags__code="living_alone", building__isnull=False)
        .select_related("building__compound")
        .order_by("id_hash")
    )
    for r in rng.sample(alone, min(12, len(alone))):
        b = r.building
        assert b is not None  # filtered on building__isnull=False
        d = Device(
            device_id=f"SOS-{len(devices) + 1:05d}",
            kind=Device.Kind.WEARABLE,
            name=f"{r.name}的一键呼叫手环",
            resident=r,
            building=b,
            lat=b.lat,
            lng=b.lng,
            path=b.path,
            life_safety=True,
        )
        devices.append(d)
        out["0502"].append(d)
    Device.objects.bulk_create(devices)
    # Only devices inside a known grid produce events.
    return {code: [d for d in ds if d.path in grids] for code, ds in out.items()}


# --- the specs (what was reported, where, when) --------------------------------------------------------


def _day_weights(days: list[date]) -> list[float]:
    out = []
    for d in days:
        w = WEEKDAY_WEIGHTS[d.weekday()]
        try:
            if chinese_calendar.is_holiday(d) and d.weekday() < 5:
                w = WEEKDAY_WEIGHTS[6]  # a holiday on a weekday is quiet like a Sunday
        except NotImplementedError:
            pass
        out.append(w)
    return out


def _moment(rng: random.Random, day: date, channel: str, code: str, tz: ZoneInfo) -> datetime:
    if channel == Channel.PATROL:
        hour = rng.choice(PATROL_HOURS)
    elif channel in (Channel.SENSOR, Channel.SOS):
        hour = rng.randrange(24)
    elif code == "0104" and rng.random() < 0.6:
        hour = rng.choice([19, 20, 20, 21, 21, 22, 23])
    else:
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tz)


def _specs(w: World, n: int, devices: dict[str, list[Device]]) -> list[Spec]:
    ctx, rng = w.ctx, w.rng
    tz = ZoneInfo(settings.TIME_ZONE)
    first = months_before(ctx.today, MONTHS)
    days = [first + timedelta(days=i) for i in range((ctx.today - first).days)]
    day_w = _day_weights(days)
    grids = ctx.grids
    grid_w = [g.weight for g in grids]
    leaves = {
        code: c
        for code, c in w.categories.items()
        if not any(o.parent_id == c.pk for o in w.categories.values())
    }
    general = {c: CATEGORY_WEIGHTS.get(c, 1.0) for c in leaves if c not in ("0502",)}
    general = {c: wt for c, wt in general.items() if wt > 0 and c != "0503"} | (
        {"0503": 0.5} if "0503" in leaves else {}
    )
    devices_by_code = {c: ds for c, ds in devices.items() if ds}
    channels = list(CHANNEL_WEIGHTS)
    ch_w = [CHANNEL_WEIGHTS[c] for c in channels]
    specs: list[Spec] = []

    # Hot spots first (a fixed share), then the ordinary reports.
    specs.extend(_hotspots(w, days, day_w, tz, n)[: n // 5])
    while len(specs) < n:
        channel = rng.choices(channels, ch_w)[0]
        table = CHANNEL_CATEGORIES[channel]
        if channel in (Channel.SENSOR, Channel.SOS):
            pool = {c: wt for c, wt in (table or {}).items() if c in devices_by_code and c in leaves}
            if not pool:
                continue
        else:
            pool = {c: wt for c, wt in (table or general).items() if c in leaves and wt > 0} or general
        code = rng.choices(list(pool), list(pool.values()))[0]
        day = rng.choices(days, day_w)[0]
        if channel == Channel.PATROL and not w.cal().is_workday(day) and rng.random() < 0.7:
            continue  # grid workers patrol on working days, a few on weekend duty
        device = None
        if channel in (Channel.SENSOR, Channel.SOS):
            device = rng.choice(devices_by_code[code])
            grid = ctx.grid(device.path)
        else:
            grid = rng.choices(grids, grid_w)[0]
        spec = Spec(
            at=_moment(rng, day, channel, code, tz), channel=channel, code=code, grid=grid, device=device
        )
        specs.append(spec)
    # A few repeated reports of the same problem by someone else (merged when the first is still open);
    # each replaces an ordinary report, so the total stays n.
    usual = (Channel.HOTLINE, Channel.RESIDENT, Channel.PATROL)
    candidates = [i for i, s in enumerate(specs) if not s.hotspot and s.channel in usual]
    k = min(len(candidates) // 2, max(1, n // 100))
    picked = rng.sample(candidates, 2 * k)
    for orig, slot in zip(picked[:k], picked[k:], strict=True):
        s = specs[orig]
        again = s.at + timedelta(minutes=rng.randint(30, 36 * 60))
        if again < w.now:
            specs[slot] = Spec(
                at=again,
                channel=rng.choice([Channel.HOTLINE, Channel.RESIDENT, Channel.OPEN311]),
                code=s.code,
                grid=s.grid,
                duplicate_of=s,
            )
    return specs


def _hotspots(w: World, days: list[date], day_w: list[float], tz: ZoneInfo, n: int) -> list[Spec]:
    """Repeated cooking-fume complaints about one restaurant in 六合社区's first grid, square-dance noise in
    one compound in the evening, parking chaos at the dedicated grid's gate on school/market mornings."""
    ctx, rng = w.ctx, w.rng
    out: list[Spec] = []
    first_grid = ctx.grids[0]
    restaurant = (
        Place.objects.filter(kind="餐饮", path=first_grid.node.code).order_by("natural_key").first()
        or Place.objects.filter(kind="餐饮").order_by("natural_key").first()
    )
    neighbours = [(w.ctx.faker("events:hotspot").name(), _mobile(rng)) for _ in range(4)]
    if restaurant is not None:
        grid = ctx.grid(restaurant.path)
        spot = (
            (restaurant.lng, restaurant.lat)
            if restaurant.lng is not None and restaurant.lat is not None
            else None
        )
        for _ in range(max(6, round(n * 0.008))):
            # Bursts: a complaint, then neighbours on the next days.
            day = rng.choices(days, day_w)[0]
            for k in range(rng.choice([1, 1, 2, 3])):
                at = datetime.combine(
                    day + timedelta(days=rng.choice([0, 0, 1, 2]) if k else 0),
                    time(rng.choice([11, 12, 17, 18, 19, 20]), rng.randrange(60), rng.randrange(60)),
                    tz,
                )
                if at.date() >= ctx.today:
                    continue
                out.append(
                    Spec(
                        at=at,
                        channel=rng.choice([Channel.HOTLINE, Channel.HOTLINE, Channel.RESIDENT]),
                        code="0103",
                        grid=grid,
                        hotspot="fumes",
                        place=restaurant,
                        lnglat=point_in(rng, grid, near=spot, radius=0.0004),
                        reporter=rng.choice(neighbours),
                    )
                )
    compounds = sorted(ctx.compounds, key=lambda c: c.code)
    if len(compounds) > 3:
        square = compounds[3]
        grid = ctx.grid(square.path)
        for _ in range(max(4, round(n * 0.005))):
            day = rng.choices(days, day_w)[0]
            out.append(
                Spec(
                    at=datetime.combine(day, time(rng.choice([19, 20, 21]), rng.randrange(60)), tz),
                    channel=rng.choice([Channel.HOTLINE, Channel.RESIDENT]),
                    code="0104",
                    grid=grid,
                    hotspot="dance",
                    lnglat=point_in(rng, grid, near=_compound_point(ctx, square), radius=0.0003),
                )
            )
    dedicated = next((g for g in ctx.grids if g.dedicated_unit), None)
    if dedicated is not None:
        weekdays = [d for d in days if d.weekday() < 5]
        for _ in range(max(4, round(n * 0.005))):
            day = rng.choice(weekdays)
            out.append(
                Spec(
                    at=datetime.combine(day, time(rng.choice([7, 7, 8, 16, 17]), rng.randrange(60)), tz),
                    channel=rng.choice([Channel.PATROL, Channel.RESIDENT, Channel.OPEN311]),
                    code="0404",
                    grid=dedicated,
                    hotspot="gate",
                )
            )
    return [s for s in out if s.code in w.categories]


def _compound_point(ctx: DemoContext, compound: Any) -> tuple[float, float] | None:
    for b in ctx.buildings:
        if b.compound_id == compound.pk and b.lng is not None:
            return (b.lng, b.lat)
    return None


def _mobile(rng: random.Random) -> str:
    return rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


# --- the simulation ---------------------------------------------------------------------------------


class Places:
    """What a report can talk about in each grid: buildings, compounds, shops, roads."""

    def __init__(self, ctx: DemoContext) -> None:
        self.compounds = {c.pk: c for c in ctx.compounds}
        self.buildings: dict[str, list[Building]] = defaultdict(list)
        for b in ctx.buildings:
            if b.lat is not None:
                self.buildings[b.path].append(b)
        self.compounds_in: dict[str, list[Any]] = defaultdict(list)
        for c in ctx.compounds:
            self.compounds_in[c.path].append(c)
        self.shops: dict[str, list[Place]] = defaultdict(list)
        for p in Place.objects.order_by("natural_key").only("pk", "name", "kind", "path", "lat", "lng"):
            self.shops[p.path].append(p)


def _text(rng: random.Random, code: str, spec: Spec, where: Places, building: Any, compound: Any) -> str:
    grid = spec.grid
    road = rng.choice(grid.roads)
    place = spec.place
    if place is None:
        shops = where.shops.get(grid.node.code) or []
        place = rng.choice(shops) if shops else None
    template = rng.choice(TEMPLATES.get(code) or ["{road}附近有问题需要处理"])
    text = template.format(
        road=road,
        n=rng.randint(1, 300),
        compound=compound.name if compound is not None else road,
        bldg=building.name if building is not None else "",
        place=place.name if place is not None else f"{road}一家店铺",
    )
    if spec.hotspot == "fumes" and rng.random() < 0.5:
        text += rng.choice(["，已经反映过好几次了", "，希望彻底解决", "，天天如此"])
    return text


def _new_event(w: World, spec: Spec, where: Places, codes: set[str], seq: dict[str, int]) -> Sim:
    """The Event as services.event_create stores it (report entry, accept clock)."""
    rng, ctx = w.rng, w.ctx
    category = w.categories[spec.code]
    grid = spec.grid
    building = spec.building
    place = spec.place
    compound = None
    address = ""
    lnglat: tuple[float, float] | None
    if spec.device is not None:
        d = spec.device
        lnglat = (d.lng, d.lat)
        building, place = d.building, d.place
    else:
        lnglat = spec.lnglat
        if lnglat is None and building is None and rng.random() < 0.5:
            in_grid = where.buildings.get(grid.node.code)
            building = rng.choice(in_grid) if in_grid else None
        if lnglat is None:
            lnglat = (building.lng, building.lat) if building is not None else point_in(rng, grid)
    if building is not None:
        compound = where.compounds.get(building.compound_id)
        address = building.address
    elif where.compounds_in.get(grid.node.code):
        compound = rng.choice(where.compounds_in[grid.node.code])
    if place is not None and not address:
        address = getattr(place, "address", "") or ""
    if not address and spec.channel != Channel.RESIDENT:
        address = f"{rng.choice(grid.roads)}{rng.randint(1, 300)}号附近"
    if spec.device is not None:
        label = place.name if place is not None else ""
        if not label:
            label = f"{compound.name if compound else ''}{building.name if building else ''}"
        if spec.code == "0502":
            description = f"一键呼叫：{spec.device.name}在{label}呼救"
        else:
            template = SENSOR_TEXT.get(spec.code, "设备告警：{where}，设备{device}")
            description = template.format(where=label, device=spec.device.device_id)
    else:
        description = _text(rng, spec.code, spec, where, building, compound)

    # Devices (as mqtt.py): SOS and life-safety alarms are 特急 and watched; others 紧急; no reporter.
    urgency = Urgency.NORMAL
    if spec.device is not None:
        urgency = Urgency.CRITICAL if spec.device.life_safety else Urgency.URGENT
    elif spec.code in ("0501", "0701") and rng.random() < 0.15:
        urgency = Urgency.URGENT

    # Reporter: the grid worker on patrol, nobody for a device, else a person (some anonymous).
    reporter_user = None
    name = phone = ""
    anonymous = False
    if spec.device is not None:
        anonymous = True
    elif spec.channel == Channel.PATROL:
        reporter_user = w.worker[grid.node.code]
    elif spec.channel in (Channel.HOTLINE, Channel.RESIDENT, Channel.OPEN311):
        if spec.channel == Channel.RESIDENT and spec.reporter is None and rng.random() < 0.12:
            anonymous = True
        elif spec.reporter is not None:
            name, phone = spec.reporter
        else:
            name, phone = w.fake.name(), _mobile(rng)
        first = ctx.communities[0].code if ctx.communities else "-"
        if spec.channel == Channel.RESIDENT and not anonymous and grid.node.code.startswith(first):
            if rng.random() < 0.25 and "resident1" in ctx.users:
                reporter_user = ctx.users["resident1"]

    code = "".join(rng.choice(ALPHABET) for _ in range(10))
    while code in codes:
        code = "".join(rng.choice(ALPHABET) for _ in range(10))
    codes.add(code)
    extra: dict[str, Any] = {}
    external_id = None
    title = description
    if spec.channel == Channel.HOTLINE:
        day = spec.at.strftime("%Y%m%d")
        seq[day] = seq.get(day, 0) + 1
        external_id = f"JM12345-{day}-{seq[day]:04d}"
        extra = {"work_order": external_id, "called_at": spec.at.isoformat()}
        title = f"关于{compound.name if compound else grid.roads[0]}{category.name}的诉求"
    elif spec.channel == Channel.OPEN311:
        extra = {"client": "荆门市民通App", "media_url": "", "attributes": {}}
    elif spec.device is not None:
        message_id = f"{spec.at:%Y%m%d%H%M%S}-{rng.randrange(16**6):06x}"
        external_id = f"{spec.device.device_id}:{message_id}"
        d = spec.device
        extra = {
            "device": {
                "id": d.pk,
                "device_id": d.device_id,
                "kind": d.kind,
                "kind_display": d.get_kind_display(),
                "life_safety": d.life_safety,
                "resident_id": d.resident_id,
                "place_id": d.place_id,
                "building_id": d.building_id,
                "path": d.path,
                "message_id": message_id,
                "type": "sos" if spec.channel == Channel.SOS else d.kind,
                "ts": spec.at.isoformat(),
                "battery": None,
                "location_source": "registered",
            }
        }

    initial = next(st for st in sorted(w.statuses.values(), key=lambda st: st.sort) if st.is_initial)
    given = spec.channel in (Channel.PATROL, Channel.OPEN311, Channel.SENSOR, Channel.SOS)
    ev = Event(
        tracking_code=code,
        title=title.strip()[:60].strip(),
        description=description,
        event_type=(
            EventType.HELP
            if spec.device is not None and spec.device.life_safety
            else category.default_type or EventType.COMPLAINT
        ),
        urgency=urgency,
        channel=spec.channel,
        category=category if given else None,
        status=initial,
        lat=lnglat[1],
        lng=lnglat[0],
        address=address[:200],
        building=building,
        anonymous=anonymous,
        reporter_name_enc="" if anonymous else crypto.encrypt(name),
        reporter_phone_enc="" if anonymous else crypto.encrypt(phone),
        reporter_phone_hash=None if anonymous else crypto.digest(phone),
        reporter_user=reporter_user,
        external_id=external_id,
        needs_triage=True,
        extra=extra,
        created_at=spec.at,
        updated_at=spec.at,
    )
    sim = Sim(w=w, ev=ev, grid=grid, t=spec.at)
    if spec.device is not None:
        sim.message = DeviceMessage(
            device=spec.device,
            message_id=extra["device"]["message_id"],
            received_at=spec.at,
            payload={"type": "sos" if spec.channel == Channel.SOS else "alarm", "code": spec.code},
        )
    sim.clock(initial.stage, spec.at)
    sim.log(spec.at, "report", _actor(reporter_user), to_status=initial.code, data={"channel": spec.channel})
    return sim


def _triage(w: World, sim: Sim, spec: Spec) -> bool:
    """services.event_triage, seconds after the report: grid from the point, keyword suggestion,
    urgency proposal; unsure or unlocated → the human triage queue."""
    ev = sim.ev
    t = spec.at + timedelta(seconds=w.rng.randint(2, 40))
    if not sim.due(t):
        return False
    suggested, confidence = keyword_classify(f"{ev.title}\n{ev.description}")
    urgency = propose_urgency(f"{ev.title}\n{ev.description}", ev.urgency)
    category = ev.category or (suggested if suggested and confidence >= w.threshold else None)
    changed = category != ev.category or urgency != ev.urgency
    ev.category, ev.urgency = category, urgency
    ev.suggested_category, ev.confidence = suggested, (confidence if suggested else None)
    ev.grid, ev.path = spec.grid.node, spec.grid.node.code
    ev.needs_triage = category is None
    ev.triaged_at = None if ev.needs_triage else t
    ev.version += 1
    if changed and ev.stage and ev.stage_started_at and sim.open_clock is not None:
        limit = w.limit(ev.category, ev.urgency, ev.stage)
        if limit is not None:
            cal = w.cal()
            ev.deadline = cal.deadline(ev.stage_started_at, limit.amount, limit.unit)
            ev.warn_at = cal.warn_time(ev.stage_started_at, limit.amount, limit.unit, limit.warn_ratio)
            ev.calendar_fallback = cal.fallback_used
            sim.open_clock.deadline, sim.open_clock.warn_at = ev.deadline, ev.warn_at
    sim.log(
        t,
        "triage",
        _actor(None),
        public=False,
        data={
            "located_by": "point",
            "grid": ev.path,
            "suggested_category": suggested.code if suggested else "",
            "confidence": confidence,
            "urgency": urgency,
            "needs_triage": ev.needs_triage,
        },
    )
    sim.t = t
    return True


def _sos(w: World, sim: Sim, spec: Spec, worker: Any, leader: Any) -> Any:
    """The SOS watch: step 1 (grid worker) alerted at once, step 2 (community) if nobody confirms in
    time; every step on the timeline. Returns who acknowledged (None: not yet at the reference moment)."""
    rng = w.rng
    start = sim.t + timedelta(seconds=1)
    steps = w.sos_steps
    step = 1 if rng.random() < 0.85 else 2
    sim.sos = SosWatch(step=1, step_deadline=start + timedelta(minutes=steps[0][2]), created_at=start)
    for k in range(step):
        level, role, minutes = steps[k]
        at = start + timedelta(minutes=sum(m for _, _, m in steps[:k]))
        if not sim.due(at):
            return None
        deadline = at + timedelta(minutes=minutes)
        sim.sos.step, sim.sos.step_deadline = k + 1, deadline
        action = "sos_start" if k == 0 else "sos_escalate"
        label = Level(level).label
        note = (
            f"一键呼叫值守开始：通知第{k + 1}级（{label}）"
            if k == 0
            else f"超时未确认，升级到第{k + 1}级（{label}）"
        )
        sim.log(
            at,
            action,
            _actor(None),
            note=note,
            public=False,
            data={
                "from_step": k or None,
                "step": k + 1,
                "role": role,
                "level": level,
                "minutes": minutes,
                "at": at.isoformat(),
                "deadline": deadline.isoformat(),
                "notified": 1,
            },
        )
    acker = worker if step == 1 else leader
    ack = start + timedelta(minutes=sum(m for _, _, m in steps[: step - 1]) + rng.uniform(0.5, 4.5))
    if not sim.due(ack):
        return None
    elapsed = int((ack - start).total_seconds())
    sim.sos.acknowledged_at, sim.sos.acknowledged_by = ack, acker
    sim.log(
        ack,
        "sos_ack",
        _actor(acker),
        note=f"已确认一键呼叫（用时{elapsed}秒）",
        public=False,
        data={"step": step, "elapsed_seconds": elapsed, "at": ack.isoformat()},
    )
    sim.t = ack
    return acker


def _merge(w: World, sim: Sim, master: Sim, leader: Any) -> bool:
    """merge.event_merge (default graph): the duplicate keeps its status, follows the master, its clock
    stops; the master's reporters-to-tell list grows. False if the master is no longer open."""
    m = master.ev
    at = w.work_minutes(sim.t, w.rng.uniform(15, 100))
    if master.master is not None or m.created_at >= sim.ev.created_at:
        return False
    if m.closed_at is not None and m.closed_at <= at:
        return False  # closed (or rejected) before anyone looked: a new report, handled on its own
    if sim.ev.created_at - m.created_at > timedelta(hours=w.dedupe_hours):
        return False
    if not sim.due(at):
        return False
    ev = sim.ev
    ev.version += 1
    m.version += 1
    ev.stage, ev.stage_started_at, ev.warn_at, ev.deadline, ev.warning = "", None, None, None, Warning.NONE
    sim.close_clock(at)
    sim.master = master
    sim.log(
        at,
        "merged_into",
        _actor(leader),
        note="已与反映同一问题的事件合并处理，处理结果将同步告知您",
        data={"master": Ref(m), "via": None},
    )
    master.log(
        at,
        "merge",
        _actor(leader),
        public=False,
        data={"duplicates": [Ref(ev)], "tracking_codes": [ev.tracking_code]},
    )
    sim.t = at
    if m.closed_at is not None and m.closed_at < w.now and m.status.is_closed:
        _tell_outcome(w, sim, master)
    return True


def _tell_outcome(w: World, dup: Sim, master: Sim) -> None:
    """merge.merge_followers_notify when the master closes: a public entry on the duplicate."""
    m = master.ev
    assert m.closed_at is not None  # called once the master has closed
    status = w.statuses["closed"]
    feedback = next((e.note for e in reversed(master.entries) if e.action == "feedback"), "")
    outcome = status.name + (f"。处理情况：{feedback[:200]}" if feedback else "")
    if m.status.code == "rejected":
        status = m.status
        outcome = f"不予受理，理由：{m.reject_reason}"
    dup.log(
        m.closed_at,
        "master_outcome",
        _actor(None),
        to_status=status.code,
        note=f"合并处理的事件{outcome}",
        data={"master": Ref(m), "key": "outcome"},
    )


def _live(w: World, sim: Sim, spec: Spec, sims_of: dict[int, Sim]) -> None:
    """Walk one event along the graph until it is done or the reference moment is reached."""
    rng, ev = w.rng, sim.ev
    category = w.categories[spec.code]
    grid_code = spec.grid.node.code
    worker, leader = w.worker[grid_code], w.leader[grid_code]
    if not _triage(w, sim, spec):
        return
    acker = None
    if spec.device is not None and spec.device.life_safety:
        acker = _sos(w, sim, spec, worker, leader)
        if acker is None:
            return

    # Merge: a repeat of a problem that is still open joins the first report.
    master = sims_of.get(id(spec.duplicate_of)) if spec.duplicate_of is not None else None
    if spec.hotspot == "fumes" and master is None:
        master = w.fumes_master
    if master is not None and _merge(w, sim, master, leader):
        return
    if sim.stopped:
        return
    if spec.hotspot == "fumes":
        w.fumes_master = sim

    # Accept (the category fixed by a person when triage was unsure) or reject with a reason.
    staff = _actor(acker or leader)
    t = w.later(sim.t, w.limit(ev.category, ev.urgency, "accept"), w.share())
    if (spec.channel == Channel.SENSOR and rng.random() < 0.25) or (
        spec.channel in (Channel.HOTLINE, Channel.RESIDENT, Channel.OPEN311) and rng.random() < 0.03
    ):
        reason = SENSOR_REJECT if spec.channel == Channel.SENSOR else rng.choice(REJECT_REASONS)
        sim.move("rejected", t, staff, reason, fields={"reject_reason": reason, "needs_triage": False})
        return
    data = {}
    if ev.category != category and ev.suggested_category is not None:
        data["corrected_from"] = ev.suggested_category.code
    if not sim.move(
        "accepted", t, staff, fields={"category": category, "needs_triage": False, "triaged_at": t}, **data
    ):
        return

    stuck = spec.at > w.now - timedelta(days=30) and rng.random() < 0.1
    # Street trading goes to the street's enforcement team when persuasion at the grid fails; disputes
    # the grid worker cannot settle go to the community's mediation committee.
    climb = {"0401": 0.35, "0402": 0.35, "0403": 0.6, "0601": 0.4}.get(category.code, 0.02)
    target_level = Level.STREET if category.code.startswith("04") else Level.COMMUNITY
    escalated = reworked = False
    while True:
        rule, unit, user = w.resolve(category, ev.urgency, ev.level, grid_code)
        level = ev.level
        dispatcher = _actor(w.street_staff[grid_code] if level in (Level.STREET, Level.DISTRICT) else leader)
        if acker is not None:
            dispatcher = _actor(acker)
        t = w.later(sim.t, w.limit(ev.category, ev.urgency, "dispatch"), w.share())
        who = (
            "、".join([*([f"处置单位“{unit.name}”"] if unit else []), *([f"人员“{user}”"] if user else [])])
            or "无"
        )
        explanation = (
            f"按分拨规则#{rule.pk}（顺序{rule.order}，{Level(rule.level).label}层级）派给{who}"
            if rule is not None
            else f"没有匹配的分拨规则，默认派给{who}"
        )
        if not sim.move(
            "dispatched",
            t,
            dispatcher,
            action="dispatch",
            fields={"handler_unit": unit, "handler_user": user},
            rule=rule.pk if rule else None,
            explanation=explanation,
            unit=Ref(unit) if unit else None,
            user=user.pk if user else None,
            to=who,
        ):
            return
        members = w.units[unit.pk].members if unit is not None else []
        handler = _actor(user) if user is not None else _actor(members[0] if members else None, unit.name)

        handle_limit = w.limit(ev.category, ev.urgency, "handle")
        if not sim.move("handling", w.later(sim.t, handle_limit, rng.uniform(0.005, 0.08)), handler):
            return

        # Escalation: "cannot solve here" → back to accepted one level up (again in place if needed).
        if not escalated and level == Level.GRID and rng.random() < climb:
            escalated = True
            note = rng.choice(ESCALATE_NOTES)
            at = w.later(sim.t, handle_limit, rng.uniform(0.05, 0.4))
            if not sim.move(
                "accepted",
                at,
                handler,
                note,
                action="escalate",
                fields={"level": Level.COMMUNITY, "handler_unit": None, "handler_user": None},
                from_level=Level.GRID,
                level=Level.COMMUNITY,
            ):
                return
            if target_level == Level.STREET:
                at = w.work_minutes(sim.t, rng.uniform(10, 90))
                if not sim.update(
                    at,
                    "escalate",
                    _actor(leader),
                    "涉及执法事项，提请街道综合执法",
                    True,
                    from_level=Level.COMMUNITY,
                    level=Level.STREET,
                ):
                    return
                ev.level, ev.version = Level.STREET, ev.version
            continue
        if level in (Level.STREET, Level.COMMUNITY) and unit is not None and rng.random() < 0.3:
            blower = w.street_staff[grid_code] if level == Level.STREET else leader
            if not _whistle(w, sim, spec, blower):
                return
        if category.is_dispute:
            if not _mediate(w, sim, spec, leader, handle_limit):
                return
        if rng.random() < 0.015:
            at = w.later(sim.t, handle_limit, rng.uniform(0.05, 0.3))
            if not sim.move("suspended", at, handler, rng.choice(SUSPEND_NOTES)):
                return
            if not sim.move("handling", w.work_minutes(sim.t, rng.uniform(1, 5) * 420), handler):
                return

        # Feedback, verification (sometimes rework), close.
        share = rng.uniform(1.5, 4.0) if stuck else w.share(late=0.07)
        feedback = FEEDBACK.get(category.code, "已到现场处置完毕")
        if not sim.move("handled", w.later(sim.t, handle_limit, share), handler, feedback, photos=0):
            return
        if sim.pending_outcome is not None:
            sim.outcome, sim.pending_outcome = sim.pending_outcome, None
            sim.outcome.decided_at = sim.t
            label = DisputeOutcome.Result(sim.outcome.result).label
            sim.log(
                sim.t,
                "dispute_outcome",
                _actor(leader),
                note=f"调解结果：{label}",
                data={"result": sim.outcome.result, "decided_at": sim.t.isoformat()},
            )
        verify_limit = w.limit(ev.category, ev.urgency, "verify")
        # 核查 by someone other than whoever did the work (issue 18 A2): community staff check the grid
        # worker's own work, the grid worker checks community staff's and (mostly) a department's.
        if user is not None and user == worker:
            checker = leader
        elif user is not None and user == leader:
            checker = worker
        else:
            checker = worker if rng.random() < 0.6 else leader
        verifier = _actor(checker)
        if not reworked and rng.random() < 0.06:
            reworked = True
            at = w.later(sim.t, verify_limit, w.share())
            if not sim.move("handling", at, verifier, rng.choice(REWORK_NOTES), verified=False):
                return
            if not sim.move(
                "handled", w.later(sim.t, handle_limit, rng.uniform(0.1, 0.6)), handler, feedback, photos=0
            ):
                return
        if rng.random() < 0.3:
            if not sim.move("verifying", w.later(sim.t, verify_limit, rng.uniform(0.02, 0.3)), verifier):
                return
        if not sim.move("closed", w.later(sim.t, verify_limit, w.share()), verifier, verified=True):
            return
        break

    # The reporter rates through the tracking link; 不满意 starts a return visit, some reopen.
    has_contact = not ev.anonymous and (bool(ev.reporter_phone_hash) or ev.reporter_user_id is not None)
    if spec.channel == Channel.PATROL or not has_contact or rng.random() > 0.72:
        return
    rating = rng.choices([r for r, _ in RATINGS], [wt for _, wt in RATINGS])[0]
    at = sim.t + timedelta(hours=rng.uniform(0.5, 60))
    label = RATING_LABELS[rating]
    if not sim.move(
        "rated", at, _actor(None), action="rate", fields={"rating": rating}, rating=rating, label=label
    ):
        return
    if rating != "unsatisfied":
        return
    visit = ReturnVisit(
        reason="上报人评价不满意",
        assigned_to=leader,
        due=w.cal().deadline(at, 3, "workday"),
        created_at=at,
    )
    sim.visits.append(visit)
    sim.log(
        at, "return_visit", _actor(None), public=False, data={"visit": Ref(visit), "assigned_to": leader.pk}
    )
    done = w.work_minutes(at, rng.uniform(60, 3 * 420))
    if not sim.due(done):
        return
    visit.done_at = done
    assert ev.closed_at is not None  # "rated" is a closed status
    reopen = rng.random() < 0.4 and done <= ev.closed_at + timedelta(days=w.reopen_days)
    visit.outcome = (
        "回访核实问题仍存在，重新打开处置" if reopen else "已电话回访，向反映人说明处置情况，反映人表示理解"
    )
    sim.log(
        done,
        "return_visit_done",
        _actor(leader),
        note=visit.outcome,
        public=False,
        data={"visit": Ref(visit)},
    )
    if not reopen:
        return
    if not sim.move("handling", done, _actor(leader), visit.outcome, action="reopen", fields={"rating": ""}):
        return
    if ev.handler_user:
        handler = _actor(ev.handler_user)
    else:
        # Dispatched above to a user or a unit (a dispatch to neither fails at the handling step).
        assert ev.handler_unit is not None
        handler = _actor(None, ev.handler_unit.name)
    if sim.move("handled", w.later(sim.t, handle_limit, w.share()), handler, feedback, photos=0):
        sim.move("closed", w.later(sim.t, verify_limit, w.share()), verifier, verified=True)


def _whistle(w: World, sim: Sim, spec: Spec, blower: Any) -> bool:
    """whistle.whistle_blow: the comprehensive law-enforcement team (城管, 市场监管, 司法) is summoned;
    each unit reports in (report_in, becomes a co-handler) or is marked missed by the sweep."""
    rng = w.rng
    at = w.work_minutes(sim.t, rng.uniform(20, 240))
    if not sim.due(at):
        return False
    units = w.street_units[spec.grid.community.parent_id]
    summoned = [units["chengguan"], units["market"], units["justice"]][: rng.choice([2, 3, 3])]
    level = Level.STREET if blower.role == "street_staff" else Level.COMMUNITY
    whistle = Whistle(blown_by=blower, level=level, note="联合执法，请相关部门到场", created_at=at)
    summons = [
        WhistleSummon(unit=u, deadline=w.cal().deadline(at, u.ack_limit_hours, "workhour")) for u in summoned
    ]
    sim.log(
        at,
        "whistle",
        _actor(blower),
        note=whistle.note,
        public=False,
        data={
            "whistle": Ref(whistle),
            "summons": [
                {"unit": u.name, "unit_id": u.pk, "deadline": s.deadline.isoformat()}
                for u, s in zip(summoned, summons, strict=True)
            ],
        },
    )
    sim.ev.version += 1
    last = at
    for unit, s in zip(summoned, summons, strict=True):
        members = w.units[unit.pk].members
        if rng.random() < 0.75:
            ack = w.cal().add_working_minutes(at, rng.uniform(0.05, 1.2) * unit.ack_limit_hours * 60)
            if ack >= w.now:
                continue
            late = ack > s.deadline
            s.state, s.acknowledged_at = WhistleSummon.State.ACKNOWLEDGED, ack
            s.acknowledged_by = members[0] if members else None
            co = list(sim.ev.extra.get("co_handlers") or [])
            sim.ev.extra = {**sim.ev.extra, "co_handlers": [*co, unit.pk]}
            sim.ev.version += 1
            sim.log(
                ack,
                "report_in",
                _actor(s.acknowledged_by, unit.name),
                note=f"{unit.name}报到" + ("（超时）" if late else ""),
                public=False,
                data={
                    "summon_id": Ref(s),
                    "unit_id": unit.pk,
                    "unit": unit.name,
                    "late": late,
                    "deadline": s.deadline.isoformat(),
                },
            )
            last = max(last, ack)
        else:
            swept = s.deadline + timedelta(minutes=rng.uniform(0, 5))
            if swept < w.now:
                s.state = WhistleSummon.State.MISSED
                sim.log(
                    swept,
                    "report_in_missed",
                    _actor(None),
                    note=f"{unit.name}未按时报到",
                    public=False,
                    data={
                        "summon_id": Ref(s),
                        "unit_id": unit.pk,
                        "unit": unit.name,
                        "deadline": s.deadline.isoformat(),
                    },
                )
    sim.whistles.append((whistle, summons))
    sim.t = last  # joint handling goes on once the units have reported in
    return True


def _mediate(w: World, sim: Sim, spec: Spec, leader: Any, handle_limit: Any) -> bool:
    """disputes.py: parties from the register, one to three mediation sessions, an outcome at feedback."""
    rng = w.rng
    people = w.residents.get(spec.grid.node.code) or []
    at = w.work_minutes(sim.t, rng.uniform(10, 120))
    if not sim.due(at):
        return False
    if not sim.parties and len(people) >= 2:
        a, b = rng.sample(people, 2)
        parties = [DisputeParty(resident_id=a[0], name=a[1], side=DisputeParty.Side.APPLICANT)]
        if spec.code == "0602" and sim.ev.handler_unit is not None:
            parties.append(
                DisputeParty(name=sim.ev.handler_unit.name[:50], side=DisputeParty.Side.RESPONDENT)
            )
        else:
            parties.append(DisputeParty(resident_id=b[0], name=b[1], side=DisputeParty.Side.RESPONDENT))
        for p in parties:
            sim.parties.append(p)
            sim.log(
                at,
                "dispute_party",
                _actor(leader),
                note=f"登记当事人（{DisputeParty.Side(p.side).label}）",
                public=False,
                data={"party": Ref(p), "side": p.side, "resident": p.resident_id},
            )
    community = spec.grid.community
    for k in range(rng.choice([1, 1, 2, 3])):
        at = w.later(at, handle_limit, rng.uniform(0.05, 0.2))
        if not sim.due(at):
            return False
        session = MediationSession(
            held_at=at,
            place=f"{community.name}人民调解室",
            mediator=f"{w.fake.name()}（{community.name}人民调解委员会）"[:50],
            summary=["听取双方陈述，释法说理", "组织双方面对面协商", "双方基本达成一致意见"][min(k, 2)],
            created_by=leader,
        )
        sim.mediations.append(session)
        sim.log(
            at,
            "mediation",
            _actor(leader),
            note=f"第{k + 1}次调解",
            public=False,
            data={"session": Ref(session), "held_at": at.isoformat()},
        )
    sim.t = at
    result = rng.choices(list(DisputeOutcome.Result), [75, 15, 10])[0]
    text = "双方自愿达成协议：责任方负责维修并赔偿损失，双方今后互谅互让" if result == "agreed" else ""
    sim.pending_outcome = DisputeOutcome(result=result, agreement_text=text, decided_at=at)
    return True


# --- the step ----------------------------------------------------------------------------------------


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng("events")
    n = ctx.events if ctx.events is not None else default_count(ctx.residents)
    tz = ZoneInfo(settings.TIME_ZONE)
    categories = {c.code: c for c in Category.objects.filter(active=True).order_by("sort", "code")}
    units, street_units, committee = _units(ctx)
    rules = _rules(ctx, street_units, committee, categories)
    community_no = {c.pk: j for j, c in enumerate(ctx.communities, start=1)}
    street_no = {s.pk: k for k, s in enumerate(ctx.streets, start=1)}
    worker, leader, street_staff = {}, {}, {}
    for i, g in enumerate(ctx.grids, start=1):
        code = g.node.code
        worker[code] = ctx.users[f"grid{i}"]
        leader[code] = ctx.users[f"community{community_no[g.community.pk]}"]
        street_staff[code] = ctx.users[f"street{street_no[g.community.parent_id]}"]
    residents: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, name, path in Resident.objects.order_by("id_hash").values_list("pk", "name", "path"):
        residents[path].append((pk, name))
    from wangge.events.models import SosStep

    by_code: dict[int | None, Category] = {c.pk: c for c in categories.values()}
    ancestors: dict[int, list[int]] = {}
    for c in categories.values():
        chain, node = [], by_code.get(c.parent_id)
        while node is not None:
            chain.append(node.pk)
            node = by_code.get(node.parent_id)
        ancestors[c.pk] = chain
    w = World(
        ctx=ctx,
        rng=rng,
        now=datetime.combine(ctx.today, time.min, tz),
        overrides=dict(CalendarDay.objects.values_list("day", "is_workday")),
        statuses={st.code: st for st in Status.objects.all()},
        edges={
            (e.source.code, e.target.code): e for e in Transition.objects.select_related("source", "target")
        },
        categories=categories,
        ancestors=ancestors,
        rules=rules,
        units=units,
        street_units=street_units,
        committee=committee,
        worker=worker,
        leader=leader,
        street_staff=street_staff,
        residents=residents,
        fake=ctx.faker("events"),
        threshold=float(settings.WANGGE_CLASSIFY_THRESHOLD),
        sos_steps=list(SosStep.objects.order_by("order").values_list("level", "role", "minutes"))
        or [("grid", "grid_worker", 5), ("community", "community_staff", 5)],
        dedupe_hours=float(getattr(settings, "WANGGE_DEDUPE_HOURS", 72.0)),
        reopen_days=int(getattr(settings, "WANGGE_REOPEN_DAYS", 7)),
    )
    if n <= 0 or not ctx.grids:
        ctx.counts.update(handling_units=len(units), dispatch_rules=len(rules), events=0)
        return
    grids = {g.node.code: g for g in ctx.grids}
    devices = _devices(ctx, rng, grids)
    specs = sorted(_specs(w, n, devices), key=lambda s: s.at)
    where = Places(ctx)
    codes: set[str] = set()
    seq: dict[str, int] = {}
    sims: list[Sim] = []
    sims_of: dict[int, Sim] = {}
    for spec in specs:
        sim = _new_event(w, spec, where, codes, seq)
        sims_of[id(spec)] = sim
        _live(w, sim, spec, sims_of)
        sims.append(sim)
    # Reporters of merged duplicates are told the master's outcome when it closes.
    for sim in sims:
        m = sim.master
        if m is not None and m.ev.closed_at is not None and m.ev.closed_at < w.now:
            if not any(e.action == "master_outcome" for e in sim.entries):
                _tell_outcome(w, sim, m)
    for sim in sims:
        ev = sim.ev
        if not ev.status.is_closed and ev.deadline is not None:
            # What the sweep would say at the reference moment.
            if ev.deadline <= w.now:
                ev.warning = Warning.RED
            elif ev.warn_at is not None and ev.warn_at <= w.now:
                ev.warning = Warning.YELLOW
        if sim.open_clock is not None:
            sim.open_clock.overdue = sim.open_clock.deadline <= w.now
    _write(sims)
    ctx.counts.update(
        handling_units=len(units),
        dispatch_rules=len(rules),
        devices=Device.objects.count(),
        events=len(sims),
        timeline=sum(len(s.entries) for s in sims),
    )


def _raw_insert(model: type[models.Model], objs: list[Any], batch: int = 5000) -> None:
    """INSERT … executemany for the big append-only tables (timeline, clock history): the values the
    ORM would write (datetimes and JSON adapted by the backend), without bulk_create's per-value cost."""
    ops = connection.ops
    cols = [f for f in model._meta.concrete_fields if not f.primary_key]
    adapt: list[Any] = []
    for f in cols:
        if isinstance(f, models.DateTimeField):
            adapt.append(ops.adapt_datetimefield_value)
        elif isinstance(f, models.JSONField):
            adapt.append(lambda v: ops.adapt_json_value(v, None))
        else:
            adapt.append(None)
    columns = []
    for f in cols:
        assert f.column is not None  # a concrete field has a column
        columns.append(ops.quote_name(f.column))
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - identifiers from the model
        ops.quote_name(model._meta.db_table),
        ", ".join(columns),
        ", ".join(["%s"] * len(cols)),
    )
    rows = []
    for o in objs:
        row = []
        for f, fn in zip(cols, adapt, strict=True):
            v = getattr(o, f.attname)
            row.append(fn(v) if fn is not None and v is not None else v)
        rows.append(row)
    with connection.cursor() as cursor:
        for i in range(0, len(rows), batch):
            cursor.executemany(sql, rows[i : i + batch])


def _resolve_refs(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.obj.pk
    if isinstance(value, list):
        return [_resolve_refs(v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_refs(v) for k, v in value.items()}
    return value


def _write(sims: list[Sim]) -> None:
    """Bulk writes in dependency order; the timeline last, once every row it names has its key."""
    with explicit_timestamps(Event, TimelineEntry, Whistle, ReturnVisit, SosWatch, DeviceMessage):
        Event.objects.bulk_create([s.ev for s in sims], batch_size=1000)
        merged = []
        for s in sims:
            if s.master is not None:
                s.ev.master = s.master.ev
                merged.append(s.ev)
        Event.objects.bulk_update(merged, ["master"], batch_size=500)

        def rows(attr: str) -> list[Any]:
            out = []
            for s in sims:
                items = getattr(s, attr)
                for item in items if isinstance(items, list) else [items] if items is not None else []:
                    item.event = s.ev
                    out.append(item)
            return out

        _raw_insert(StageDeadline, rows("clocks"))
        DisputeParty.objects.bulk_create(rows("parties"))
        MediationSession.objects.bulk_create(rows("mediations"))
        DisputeOutcome.objects.bulk_create(rows("outcome"))
        ReturnVisit.objects.bulk_create(rows("visits"))
        SosWatch.objects.bulk_create(rows("sos"))
        DeviceMessage.objects.bulk_create(rows("message"))
        whistles = [(wh, summons, s.ev) for s in sims for wh, summons in s.whistles]
        for wh, _, ev in whistles:
            wh.event = ev
        Whistle.objects.bulk_create([wh for wh, _, _ in whistles])
        summons = []
        for wh, items, _ in whistles:
            for item in items:
                item.whistle = wh
                summons.append(item)
        WhistleSummon.objects.bulk_create(summons)
        entries = []
        for s in sims:
            for e in sorted(s.entries, key=lambda e: e.at):
                e.event = s.ev
                e.data = _resolve_refs(e.data)
                entries.append(e)
        _raw_insert(TimelineEntry, entries)
