"""Events (事件/工单): intake → triage → dispatch → handling → verification → closure → rating.

The current state lives on the Event row (status, handler, stage clock, warning level, version); every
change appends a TimelineEntry in the same transaction (services.py is the only writer). The status
graph, categories, time limits and dispatch rules are data, seeded by migrations and editable.
"""

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_noop

from wangge.clock import models as clock_models
from wangge.clock.models import Warning
from wangge.core.roles import Role
from wangge.notify import models as notify_models


class EventType(models.TextChoices):
    CONSULT = "consult", "咨询"
    HELP = "help", "求助"
    COMPLAINT = "complaint", "投诉"
    REPORT = "report", "举报"
    SUGGESTION = "suggestion", "建议"


class Urgency(models.TextChoices):
    NORMAL = "normal", "一般"
    URGENT = "urgent", "紧急"
    CRITICAL = "critical", "特急"


class Channel(models.TextChoices):
    RESIDENT = "resident", "居民上报(我要说)"
    HOTLINE = "hotline", "12345热线"
    PATROL = "patrol", "网格员巡查"
    API = "api", "接口"
    OPEN311 = "open311", "Open311"
    SENSOR = "sensor", "传感器告警"
    SOS = "sos", "一键呼叫"
    WALK_IN = "walk_in", "来访"
    # Closed cases of an older system brought in by the history import (intake/history.py).
    HISTORY = "history", "历史导入"


class Stage(models.TextChoices):
    ACCEPT = "accept", gettext_noop("受理")
    DISPATCH = "dispatch", gettext_noop("派遣")
    HANDLE = "handle", gettext_noop("处置")
    VERIFY = "verify", gettext_noop("核查")


class Level(models.TextChoices):
    GRID = "grid", gettext_noop("网格")
    COMMUNITY = "community", gettext_noop("社区")
    STREET = "street", gettext_noop("街道")
    DISTRICT = "district", gettext_noop("区")


class Category(models.Model):
    """Category tree (GB/T 30428 event classes + community matters). `keywords` seed the classifier."""

    code = models.CharField("代码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=50)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name="上级分类",
    )
    keywords = models.TextField("关键词(逗号分隔)", blank=True)
    default_type = models.CharField("默认类型", max_length=16, choices=EventType.choices, blank=True)
    is_dispute = models.BooleanField("矛盾纠纷类", default=False)
    active = models.BooleanField("启用", default=True)
    sort = models.PositiveIntegerField(default=0, verbose_name="排序")

    class Meta:
        verbose_name = "事件分类"
        verbose_name_plural = "事件分类"
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.replace("，", ",").split(",") if k.strip()]


class Status(models.Model):
    """A node of the status graph. `stage` says which clock runs while an event is in this status."""

    code = models.CharField("代码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=50)
    stage = models.CharField("计时环节", max_length=16, choices=Stage.choices, blank=True)
    is_initial = models.BooleanField("初始状态", default=False)
    is_closed = models.BooleanField("已办结(对外显示为closed)", default=False)
    sort = models.PositiveIntegerField(default=0, verbose_name="排序")

    class Meta:
        verbose_name = "事件状态"
        verbose_name_plural = "事件状态"
        ordering = ["sort"]

    def __str__(self) -> str:
        return self.name


class Transition(models.Model):
    """An allowed edge of the status graph, with the roles that may take it."""

    source = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="outgoing", verbose_name="从")
    target = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="incoming", verbose_name="到")
    name = models.CharField("操作名称", max_length=50)
    roles = models.JSONField("允许的角色(空=所有工作人员)", default=list, blank=True)
    requires_note = models.BooleanField("须填写说明", default=False)
    public = models.BooleanField("对上报人公开", default=True)

    class Meta:
        verbose_name = "状态流转"
        verbose_name_plural = "状态流转"
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="uniq_transition")]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"


class HandlingUnit(models.Model):
    """Who can be sent an event: a department, the law-enforcement team, a community office, a property
    company or member unit. Members are the accounts that act for it."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", gettext_noop("职能部门")
        ENFORCEMENT = "enforcement", gettext_noop("综合行政执法")
        COMMUNITY = "community", gettext_noop("社区")
        STREET = "street", gettext_noop("街道")
        PROPERTY = "property", gettext_noop("物业公司")
        MEMBER_UNIT = "member_unit", gettext_noop("成员单位")

    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    territory = models.ForeignKey(
        "territory.Territory", on_delete=models.PROTECT, related_name="+", verbose_name="所属区划"
    )
    path = models.CharField(max_length=15, db_index=True, verbose_name="区划路径")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="handling_units", verbose_name="成员"
    )
    ack_limit_hours = models.PositiveIntegerField("吹哨报到时限(工作小时)", default=2)
    active = models.BooleanField(default=True, verbose_name="启用")

    class Meta:
        verbose_name = "处置单位"
        verbose_name_plural = "处置单位"

    def __str__(self) -> str:
        return self.name


class TimeLimit(models.Model):
    """Time limit of a stage for a category (null = any) and urgency (blank = any). Most specific wins."""

    class Unit(models.TextChoices):
        WORKDAY = "workday", "工作日"
        WORKHOUR = "workhour", "工作小时"
        MINUTE = "minute", "自然分钟"

    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, verbose_name="分类"
    )
    urgency = models.CharField("紧急程度", max_length=16, choices=Urgency.choices, blank=True)
    stage = models.CharField("环节", max_length=16, choices=Stage.choices)
    amount = models.PositiveIntegerField("时限")
    unit = models.CharField("单位", max_length=16, choices=Unit.choices, default=Unit.WORKDAY)
    warn_ratio = models.FloatField("预警比例", default=0.8)

    class Meta:
        verbose_name = "处置时限"
        verbose_name_plural = "处置时限"

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


# The local calendar lives in wangge.clock (same tables). These proxies keep the calendar's admin pages
# at their addresses under 事件 and its audit labels ("events.calendaryear").
class CalendarDay(clock_models.CalendarDay):
    class Meta:
        proxy = True
        verbose_name = "工作日历调整"
        verbose_name_plural = "工作日历调整"


class CalendarYear(clock_models.CalendarYear):
    class Meta:
        proxy = True
        verbose_name = "日历年度覆盖"
        verbose_name_plural = "日历年度覆盖"
        ordering = ("-year",)


class FixedHoliday(clock_models.FixedHoliday):
    class Meta:
        proxy = True
        verbose_name = "固定日期节假日"
        verbose_name_plural = "固定日期节假日"
        ordering = ("month", "day")


class DispatchRule(models.Model):
    """category × territory × urgency → unit or role; the first active match by `order` wins."""

    order = models.PositiveIntegerField("顺序", default=100)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, verbose_name="分类"
    )
    include_subcategories = models.BooleanField("含子分类", default=True)
    path_prefix = models.CharField("区划编码前缀(空=全部)", max_length=15, blank=True)
    urgency = models.CharField("紧急程度", max_length=16, choices=Urgency.choices, blank=True)
    unit = models.ForeignKey(
        HandlingUnit, null=True, blank=True, on_delete=models.PROTECT, verbose_name="处置单位"
    )
    role = models.CharField("角色(无单位时: 本网格的该角色)", max_length=32, blank=True)
    level = models.CharField("处置层级", max_length=16, choices=Level.choices, default=Level.GRID)
    active = models.BooleanField(default=True, verbose_name="启用")

    class Meta:
        verbose_name = "分拨规则"
        verbose_name_plural = "分拨规则"
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class UrgencyWordLevel(models.TextChoices):
    CRITICAL = "critical", "特急"
    URGENT = "urgent", "紧急"
    IGNORE = "ignore", "排除(不算紧急)"


class UrgencyWord(models.Model):
    """A word in a report's text that makes triage propose 特急 or 紧急; `ignore` words are removed from the
    text first (火锅 contains 火 but is not a fire). Matched case-insensitively anywhere in the text."""

    word = models.CharField("词语", max_length=50, unique=True)
    level = models.CharField("紧急程度", max_length=16, choices=UrgencyWordLevel.choices)
    active = models.BooleanField("启用", default=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "紧急程度关键词"
        verbose_name_plural = "紧急程度关键词"
        ordering = ["level", "word"]

    def __str__(self) -> str:
        return f"{self.word}（{self.get_level_display()}）"


class EventRoleRule(models.Model):
    """What a role may do in the event loop beyond its permissions: blow the whistle (吹哨), supervise
    (督办 notices, deciding pending matters on the event pages), verify (核查) work someone else did (never
    one's own: the handler and whoever gave the feedback may not). A role without a row may do none."""

    role = models.CharField("角色", max_length=32, choices=Role.choices, unique=True)
    may_whistle = models.BooleanField("可以吹哨", default=False)
    supervises = models.BooleanField("督办(接收督办通知、决定待办事项)", default=False)
    may_verify = models.BooleanField("可以核查(他人的处置结果)", default=False)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "角色事件规则"
        verbose_name_plural = "角色事件规则"
        ordering = ["role"]

    def __str__(self) -> str:
        return self.get_role_display()


class Event(models.Model):
    tracking_code = models.CharField("查询码", max_length=16, unique=True)
    title = models.CharField("标题", max_length=200)
    description = models.TextField("描述")
    event_type = models.CharField(
        "类型", max_length=16, choices=EventType.choices, default=EventType.COMPLAINT
    )
    urgency = models.CharField("紧急程度", max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    channel = models.CharField("来源渠道", max_length=16, choices=Channel.choices)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="events", verbose_name="分类"
    )
    suggested_category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="系统建议分类",
    )
    confidence = models.FloatField("分类置信度", null=True, blank=True)
    needs_triage = models.BooleanField("待人工分拣", default=False, db_index=True)
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="events", verbose_name="状态")
    # Location: WGS-84 point and/or address; grid and path as they were when the event happened.
    lat = models.FloatField(null=True, blank=True, verbose_name="纬度")
    lng = models.FloatField(null=True, blank=True, verbose_name="经度")
    address = models.CharField("地址", max_length=200, blank=True)
    grid = models.ForeignKey(
        "territory.Territory",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="网格",
    )
    building = models.ForeignKey(
        "territory.Building", null=True, blank=True, on_delete=models.SET_NULL, verbose_name="楼栋"
    )
    path = models.CharField(max_length=15, db_index=True, blank=True, verbose_name="区划路径")
    level = models.CharField("当前层级", max_length=16, choices=Level.choices, default=Level.GRID)
    # Reporter: contact encrypted (as residents' personal data); anonymous allowed.
    anonymous = models.BooleanField("匿名", default=False)
    reporter_name_enc = models.TextField(blank=True, verbose_name="上报人姓名(加密)")
    reporter_phone_enc = models.TextField(blank=True, verbose_name="上报人电话(加密)")
    reporter_phone_hash = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, db_index=True, verbose_name="上报人电话(检索用摘要)"
    )
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_events",
        verbose_name="上报账号",
    )
    handler_unit = models.ForeignKey(
        HandlingUnit, null=True, blank=True, on_delete=models.PROTECT, verbose_name="处置单位"
    )
    handler_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handled_events",
        verbose_name="处置人",
    )
    # Clock of the current stage: stored deadlines, not timers.
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, verbose_name="环节")
    stage_started_at = models.DateTimeField(null=True, blank=True, verbose_name="环节开始时间")
    warn_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name="预警时间")
    deadline = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name="时限")
    warning = models.CharField(
        max_length=8, choices=Warning.choices, default=Warning.NONE, verbose_name="预警"
    )
    calendar_fallback = models.BooleanField("日历按周一至周五推算", default=False)
    master = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged", verbose_name="合并到"
    )
    # Idempotency: one key per retried submission; external ids (work-order number, device message id).
    idempotency_key = models.CharField(
        max_length=100, null=True, blank=True, unique=True, verbose_name="幂等键"
    )  # noqa: DJ001
    external_id = models.CharField(max_length=100, null=True, blank=True, verbose_name="外部编号")  # noqa: DJ001
    rating = models.CharField(max_length=16, blank=True, verbose_name="评价")
    reject_reason = models.CharField("不予受理理由", max_length=300, blank=True)
    triaged_at = models.DateTimeField("分拣完成时间", null=True, blank=True)
    # Channel-specific details (Open311 attributes, device payload summary, hotline order fields …).
    extra = models.JSONField(default=dict, blank=True, verbose_name="附加数据")
    version = models.PositiveIntegerField(default=0, verbose_name="版本")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="创建时间")
    updated_at = models.DateTimeField(auto_now=True, verbose_name="更新时间")
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name="办结时间")

    class Meta:
        verbose_name = "事件"
        verbose_name_plural = "事件"
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="uniq_event_external_id"),
        ]
        indexes = [
            models.Index(fields=["path", "status"]),
            models.Index(fields=["grid", "status"]),
            # Dashboards count open events per grid: a small partial index (open = closed_at IS NULL).
            models.Index(
                fields=["grid", "deadline"],
                condition=models.Q(closed_at__isnull=True, master__isnull=True),
                name="event_open_grid_idx",
            ),
            # Duplicate search: time window plus a lat/lng box.
            models.Index(fields=["created_at", "lat", "lng"], name="event_dedupe_idx"),
            # …and of one category (or, unclassified, one suggested category), with the place columns in
            # the key: each arm of the candidate query (`dedupe.open_candidates`) is answered inside the
            # index, and only the reports actually near are read from the table, however long the history
            # and however many recent reports the category has. The building arm uses the building's index.
            models.Index(
                fields=["category", "created_at", "lat", "lng", "address"], name="event_dedupe_place_idx"
            ),
            models.Index(
                fields=["suggested_category", "created_at", "lat", "lng", "address"],
                condition=models.Q(category__isnull=True),
                name="event_dedupe_sugg_place_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} {self.title}"

    def audit_label(self) -> str:
        return f"事件 {self.tracking_code}"


class StageDeadline(models.Model):
    """Every stage clock an event ran (history of deadlines, extensions and how each ended)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="clocks", verbose_name="事件")
    stage = models.CharField(max_length=16, choices=Stage.choices, verbose_name="环节")
    started_at = models.DateTimeField(verbose_name="开始时间")
    warn_at = models.DateTimeField(verbose_name="预警时间")
    deadline = models.DateTimeField(verbose_name="时限")
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name="结束时间")
    overdue = models.BooleanField(default=False, verbose_name="是否超期")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class TimelineEntry(models.Model):
    """Append-only: one row per step of an event."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeline", verbose_name="事件")
    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="时间")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="操作人账号"
    )
    actor_name = models.CharField(max_length=150, blank=True, verbose_name="操作人")
    actor_role = models.CharField(max_length=32, blank=True, verbose_name="操作人角色")
    action = models.CharField(max_length=32, verbose_name="动作")
    from_status = models.CharField(max_length=32, blank=True, verbose_name="原状态")
    to_status = models.CharField(max_length=32, blank=True, verbose_name="新状态")
    note = models.TextField(blank=True, verbose_name="说明")
    public = models.BooleanField(default=True, verbose_name="对外公开")
    data = models.JSONField(default=dict, blank=True, verbose_name="数据")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("事件时间线只能追加")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Attachment(models.Model):
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="attachments", verbose_name="事件"
    )
    entry = models.ForeignKey(
        TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="办理步骤"
    )
    file = models.FileField(upload_to="events/%Y/%m/", verbose_name="文件")
    content_type = models.CharField(max_length=50, verbose_name="文件类型")
    size = models.PositiveIntegerField(verbose_name="大小(字节)")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")

    # --- whistle (吹哨报到), extensions, notifications -------------------------------------------------

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class Whistle(models.Model):
    """A community or street summons departments to one event; each must report in within its limit."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="whistles", verbose_name="事件")
    blown_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="吹哨人",
    )
    level = models.CharField(max_length=16, choices=Level.choices, verbose_name="层级")
    note = models.TextField(blank=True, verbose_name="说明")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class WhistleSummon(models.Model):
    class State(models.TextChoices):
        SUMMONED = "summoned", gettext_noop("已吹哨")
        ACKNOWLEDGED = "acknowledged", gettext_noop("已报到")
        MISSED = "missed", gettext_noop("超时未报到")

    whistle = models.ForeignKey(
        Whistle, on_delete=models.CASCADE, related_name="summons", verbose_name="吹哨"
    )
    unit = models.ForeignKey(HandlingUnit, on_delete=models.PROTECT, verbose_name="处置单位")
    deadline = models.DateTimeField(verbose_name="时限")
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.SUMMONED, verbose_name="状态"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name="确认时间")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="确认人",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["whistle", "unit"], name="uniq_summon")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class ExtensionRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", gettext_noop("待审批")
        APPROVED = "approved", gettext_noop("已批准")
        REJECTED = "rejected", gettext_noop("已驳回")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="extensions", verbose_name="事件")
    stage = models.CharField(max_length=16, choices=Stage.choices, verbose_name="环节")
    amount = models.PositiveIntegerField(verbose_name="时长")
    unit = models.CharField(
        max_length=16, choices=TimeLimit.Unit.choices, default=TimeLimit.Unit.WORKDAY, verbose_name="处置单位"
    )
    reason = models.TextField(verbose_name="理由")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="申请人",
    )
    requested_at = models.DateTimeField(auto_now_add=True, verbose_name="申请时间")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, verbose_name="状态")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="审批人",
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name="审批时间")
    old_deadline = models.DateTimeField(null=True, blank=True, verbose_name="原时限")
    new_deadline = models.DateTimeField(null=True, blank=True, verbose_name="新时限")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


def _event_lookups(kwargs: dict[str, Any]) -> dict[str, Any]:
    """event= / event_id= lookups of the former Event foreign key, as the generic subject's columns."""
    keys = [k for k in ("event", "event_id", "event__pk", "event__id") if k in kwargs]
    if not keys:
        return kwargs
    out = dict(kwargs)
    for key in keys:
        value = out.pop(key)
        pk = getattr(value, "pk", value)
        if pk is None:
            out["content_type__isnull"] = True
        else:
            out["content_type"] = ContentType.objects.get_for_model(Event)
            out["object_id"] = int(pk)
    return out


class EventNotificationQuerySet(models.QuerySet["Notification"]):
    def _filter_or_exclude(self, negate: bool, args: Any, kwargs: Any) -> Any:
        return super()._filter_or_exclude(negate, args, _event_lookups(kwargs))  # type: ignore[misc]


class Notification(notify_models.Notification):
    """wangge.notify's notifications seen from the events: `event` is the subject when it is an event
    (filter(event=…) / filter(event_id=…) still work). The admin page stays under 事件."""

    objects = EventNotificationQuerySet.as_manager()  # type: ignore[misc]  # a proxy's own manager

    class Meta:
        proxy = True
        verbose_name = "通知"
        verbose_name_plural = "通知"

    @property
    def event_id(self) -> int | None:
        if self.content_type_id is None:
            return None
        if self.content_type_id != ContentType.objects.get_for_model(Event).pk:
            return None
        return self.object_id

    @property
    def event(self) -> "Event | None":
        if "_event" in self.__dict__:  # loaded for a page at once (notify.notifications_attach_events)
            return self.__dict__["_event"]
        pk = self.event_id
        event = None if pk is None else Event.objects.filter(pk=pk).first()
        self.__dict__["_event"] = event
        return event

    # --- closure, return visits, disputes, merge --------------------------------------------------------


class ReturnVisit(models.Model):
    """回访 task, created when a reporter is not satisfied."""

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="return_visits", verbose_name="事件"
    )
    reason = models.CharField(max_length=300, verbose_name="理由")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="回访人",
    )
    due = models.DateTimeField(null=True, blank=True, verbose_name="应完成时间")
    done_at = models.DateTimeField(null=True, blank=True, verbose_name="完成时间")
    outcome = models.TextField(blank=True, verbose_name="回访情况")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class DisputeParty(models.Model):
    class Side(models.TextChoices):
        APPLICANT = "applicant", "申请方"
        RESPONDENT = "respondent", "被申请方"
        OTHER = "other", "其他"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="parties", verbose_name="事件")
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.PROTECT, verbose_name="居民"
    )
    name = models.CharField(max_length=50, blank=True, verbose_name="名称")
    side = models.CharField(max_length=16, choices=Side.choices, verbose_name="当事方")
    note = models.CharField(max_length=200, blank=True, verbose_name="说明")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class MediationSession(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="mediations", verbose_name="事件")
    held_at = models.DateTimeField(verbose_name="调解时间")
    place = models.CharField(max_length=100, blank=True, verbose_name="地点")
    mediator = models.CharField(max_length=50, verbose_name="调解人")
    summary = models.TextField(verbose_name="调解摘要")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="创建人",
    )

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class DisputeOutcome(models.Model):
    class Result(models.TextChoices):
        AGREED = "agreed", "调解成功"
        FAILED = "failed", "调解不成"
        REFERRED = "referred", "转司法/诉讼"

    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, related_name="dispute_outcome", verbose_name="事件"
    )
    agreement_text = models.TextField(blank=True, verbose_name="协议内容")
    result = models.CharField(max_length=16, choices=Result.choices, verbose_name="调解结果")
    decided_at = models.DateTimeField(verbose_name="审批时间")

    # --- devices and SOS watch --------------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class Device(models.Model):
    """A registered sensor or wearable, bound to a place or a resident (I3, S6)."""

    class Kind(models.TextChoices):
        WEARABLE = "wearable", "智能手环(一键呼叫)"
        SMOKE = "smoke", "烟感"
        GAS = "gas", "燃气报警"
        WATER = "water", "水浸"
        DOOR = "door", "门磁"
        OTHER = "other", "其他"

    device_id = models.CharField(max_length=64, unique=True, verbose_name="设备编号")
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name="类型")
    name = models.CharField(max_length=100, blank=True, verbose_name="名称")
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.PROTECT, verbose_name="居民"
    )
    place = models.ForeignKey(
        "registry.Place", null=True, blank=True, on_delete=models.PROTECT, verbose_name="地点"
    )
    building = models.ForeignKey(
        "territory.Building", null=True, blank=True, on_delete=models.PROTECT, verbose_name="楼栋"
    )
    lat = models.FloatField(null=True, blank=True, verbose_name="纬度")
    lng = models.FloatField(null=True, blank=True, verbose_name="经度")
    path = models.CharField(max_length=15, db_index=True, blank=True, verbose_name="区划路径")
    life_safety = models.BooleanField("生命安全类(按一键呼叫处理)", default=False)
    active = models.BooleanField(default=True, verbose_name="启用")
    last_seen = models.DateTimeField(null=True, blank=True, verbose_name="最近上报时间")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class DeviceMessage(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="messages", verbose_name="设备")
    message_id = models.CharField(max_length=100, verbose_name="消息编号")
    received_at = models.DateTimeField(auto_now_add=True, verbose_name="接收时间")
    payload = models.JSONField(default=dict, verbose_name="消息内容")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="事件")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "message_id"], name="uniq_device_message")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class SosStep(models.Model):
    """The on-duty chain: who is alerted at each step and how many minutes they have to acknowledge."""

    order = models.PositiveIntegerField(unique=True, verbose_name="顺序")
    level = models.CharField(max_length=16, choices=Level.choices, verbose_name="层级")
    role = models.CharField(max_length=32, verbose_name="角色")
    minutes = models.PositiveIntegerField(default=5, verbose_name="时限(分钟)")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class SosWatch(models.Model):
    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, related_name="sos_watch", verbose_name="事件"
    )
    step = models.PositiveIntegerField(default=1, verbose_name="当前层级")
    step_deadline = models.DateTimeField(db_index=True, verbose_name="本层级时限")
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name="确认时间")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="确认人",
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")

    # --- Open311 and the classifier -------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class ApiKey(models.Model):
    """Open311 api_key for an outside client; only a keyed hash of the key is stored."""

    name = models.CharField(max_length=100, verbose_name="名称")
    key_hash = models.CharField(max_length=64, unique=True, verbose_name="密钥摘要")
    active = models.BooleanField(default=True, verbose_name="启用")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class ClassifierVersion(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, verbose_name="创建时间")
    file = models.FileField(upload_to="classifier/", verbose_name="文件")
    samples = models.PositiveIntegerField(verbose_name="样本数")
    categories = models.PositiveIntegerField(verbose_name="分类数")
    cv_accuracy = models.FloatField(verbose_name="交叉验证准确率")
    active = models.BooleanField(default=True, verbose_name="启用")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


def _training_id() -> str:
    import uuid

    return f"local-{uuid.uuid4().hex}"


class ClassifierTraining(models.Model):
    """One training of the classifier (issue 18 C5): written by the background task as it runs, each
    progress step committed on its own, so the web process (and the admin page) see it from the database
    whatever cache or worker the installation has."""

    class State(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "训练中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    # The background task's id once enqueued (a local placeholder until then).
    task_id = models.CharField("任务编号", max_length=64, unique=True, default=_training_id)
    status = models.CharField("状态", max_length=16, choices=State.choices, default=State.QUEUED)
    step = models.CharField("当前步骤", max_length=100, blank=True)
    done = models.PositiveIntegerField("已完成步数", default=0)
    total = models.PositiveIntegerField("总步数", default=0)
    params = models.JSONField("训练参数", default=dict, blank=True)
    report = models.JSONField("训练报告", default=dict, blank=True)
    error_code = models.CharField("错误代码", max_length=64, blank=True)
    error = models.CharField("失败原因", max_length=500, blank=True)
    version = models.ForeignKey(
        ClassifierVersion, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="模型版本"
    )
    scheduled = models.BooleanField("定期训练", default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="发起人"
    )
    created_at = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    updated_at = models.DateTimeField("最近进展", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "分类模型训练"
        verbose_name_plural = "分类模型训练"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class ClassifierSchedule(models.Model):
    """When the periodic sweep retrains the classifier (one row, seeded by migration, edited in the
    admin): every `every_days` days, once at least `min_new_labels` more person-confirmed categories
    exist than at the last training."""

    enabled = models.BooleanField("定期重新训练", default=False)
    every_days = models.PositiveIntegerField("间隔天数", default=30, validators=[MinValueValidator(1)])
    min_new_labels = models.PositiveIntegerField("至少新增人工确认分类数", default=100)
    min_samples_per_class = models.PositiveIntegerField(
        "每个分类最少样本数", default=5, validators=[MinValueValidator(2), MaxValueValidator(1000)]
    )
    folds = models.PositiveIntegerField(
        "交叉验证折数", default=5, validators=[MinValueValidator(2), MaxValueValidator(20)]
    )
    target_precision = models.FloatField(
        "目标准确率", default=0.97, validators=[MinValueValidator(0.5), MaxValueValidator(0.999)]
    )
    last_enqueued_at = models.DateTimeField("上次定期训练", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "分类模型定期训练"
        verbose_name_plural = "分类模型定期训练"

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
