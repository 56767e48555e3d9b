"""The installation calendar (local days, per-year coverage, fixed-date holidays), the warning levels of
any clock, and generic deadlines on any object.

The three calendar tables were created by the events app and keep their names (Meta.db_table): moving
them here changed no row.
"""

from datetime import date

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_noop


class Warning(models.TextChoices):
    NONE = "none", gettext_noop("正常")
    YELLOW = "yellow", gettext_noop("黄色预警")
    RED = "red", gettext_noop("红色超期")


class CalendarDay(models.Model):
    """Local override of the official calendar (extra holidays or make-up workdays, or years the
    holiday library does not know yet)."""

    day = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否工作日")
    note = models.CharField("说明", max_length=100, blank=True)

    class Meta:
        db_table = "events_calendarday"
        verbose_name = "工作日历调整"
        verbose_name_plural = "工作日历调整"

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class CalendarYear(models.Model):
    """Coverage of one year that the official calendar library does not know: `complete` means an
    administrator has entered every holiday and make-up workday of the year as CalendarDay rows, so
    the working-day clock no longer flags that year as assumed. Marked through
    coverage.calendar_year_mark (admin), which records who and when and writes an audit row."""

    year = models.PositiveSmallIntegerField(
        "年份", unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    complete = models.BooleanField("本地日历已完整录入", default=False)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="标记人",
    )
    marked_at = models.DateTimeField("标记时间", null=True, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        db_table = "events_calendaryear"
        verbose_name = "日历年度覆盖"
        verbose_name_plural = "日历年度覆盖"
        ordering = ("-year",)

    def __str__(self) -> str:
        return f"{self.year}年"


class FixedHoliday(models.Model):
    """A public holiday on the same solar date every year (元旦, 劳动节, 国庆节): the working-day clock
    keeps it off even in years whose official schedule is not known yet. Lunar holidays (春节, 清明,
    端午, 中秋) move every year and are not listed here: they need the official calendar or CalendarDay
    rows."""

    month = models.PositiveSmallIntegerField("月", validators=[MinValueValidator(1), MaxValueValidator(12)])
    day = models.PositiveSmallIntegerField("日", validators=[MinValueValidator(1), MaxValueValidator(31)])
    name = models.CharField("节日", max_length=50)
    active = models.BooleanField("启用", default=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        db_table = "events_fixedholiday"
        verbose_name = "固定日期节假日"
        verbose_name_plural = "固定日期节假日"
        ordering = ("month", "day")
        constraints = [models.UniqueConstraint(fields=["month", "day"], name="fixed_holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.name}（{self.month}月{self.day}日）"

    def clean(self) -> None:
        try:
            date(2024, self.month, self.day)  # a leap year: 2月29日 is a date, 2月30日 is not
        except (TypeError, ValueError):
            raise ValidationError({"day": "日期无效"}) from None


class Deadline(models.Model):
    """A time limit on any object (an instruction, a home visit, a service order …): `kind` names what
    is timed and selects the sweep hooks registered for it (clock.sweep.register). Written only by
    clock.services; raised by clock.sweep."""

    class State(models.TextChoices):
        OPEN = "open", "进行中"
        MET = "met", "已按时完成"  # closed: in time or late (level red) — the level says which
        CANCELLED = "cancelled", "已取消"

    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, related_name="+", verbose_name="对象类型"
    )
    object_id = models.PositiveBigIntegerField("对象编号")
    subject = GenericForeignKey("content_type", "object_id")
    kind = models.CharField("类型", max_length=64)
    path = models.CharField("区划路径", max_length=15, db_index=True, blank=True)
    amount = models.FloatField("时限")
    unit = models.CharField("单位", max_length=16)
    started_at = models.DateTimeField("开始时间")
    warn_at = models.DateTimeField("预警时间")
    due_at = models.DateTimeField("到期时间")
    escalate_at = models.DateTimeField("上报时间", null=True, blank=True)  # empty: never escalated
    level = models.CharField("预警", max_length=8, choices=Warning.choices, default=Warning.NONE)
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.OPEN)
    calendar_fallback = models.BooleanField("日历按周一至周五推算", default=False)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)
    escalated_at = models.DateTimeField("已上报时间", null=True, blank=True)
    data = models.JSONField("附加数据", default=dict, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "时限"
        verbose_name_plural = "时限"
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="clock_deadline_subject"),
            models.Index(fields=["state", "warn_at"], name="clock_deadline_warn"),
            models.Index(fields=["state", "due_at"], name="clock_deadline_due"),
            models.Index(fields=["state", "escalate_at"], name="clock_deadline_escalate"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "kind"],
                condition=Q(state="open"),
                name="clock_deadline_one_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"
