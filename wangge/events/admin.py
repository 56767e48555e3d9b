"""Admin for the rules an installation changes without code: categories, the status graph (statuses and
transitions), time limits, dispatch rules, handling units and the local calendar (days, per-year
coverage, fixed-date holidays). Events themselves
are changed only through the services (pages/API), so they are read-only here.

Every save and delete writes an audit row in the same transaction.
"""

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from wangge.audit.services import audit_record
from wangge.core.guards import is_district_admin

from .models import (
    CalendarDay,
    CalendarYear,
    Category,
    ClassifierVersion,
    Device,
    DispatchRule,
    Event,
    FixedHoliday,
    HandlingUnit,
    Notification,
    Status,
    TimeLimit,
    Transition,
)
from .notify import notifications_requeue


class AuditedAdmin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=f"events.admin_{'update' if change else 'create'}",
                obj=obj,
                after={k: str(form.cleaned_data.get(k)) for k in form.changed_data if k != "members"},
                path=str(getattr(obj, "path", "") or ""),
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit_record(actor=request.user, action="events.admin_delete", obj=obj, path="")
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, action="events.admin_delete", obj=obj, path="")
            super().delete_queryset(request, queryset)


class ChildCategoryInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    extra = 0
    fields = ("code", "name", "keywords", "default_type", "is_dispute", "active", "sort")
    verbose_name = "子分类"
    verbose_name_plural = "子分类"


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ("code", "name", "parent", "default_type", "is_dispute", "active", "sort")
    list_filter = ("active", "is_dispute", "default_type")
    search_fields = ("code", "name", "keywords")
    list_editable = ("active", "sort")
    autocomplete_fields = ("parent",)
    inlines = [ChildCategoryInline]


class OutgoingInline(admin.TabularInline):
    model = Transition
    fk_name = "source"
    extra = 0
    fields = ("target", "name", "roles", "requires_note", "public")
    verbose_name = "可流转到"
    verbose_name_plural = "可流转到（状态图的边）"


@admin.register(Status)
class StatusAdmin(AuditedAdmin):
    list_display = ("code", "name", "stage", "is_initial", "is_closed", "sort")
    list_editable = ("sort",)
    search_fields = ("code", "name")
    inlines = [OutgoingInline]


@admin.register(Transition)
class TransitionAdmin(AuditedAdmin):
    list_display = ("source", "target", "name", "roles", "requires_note", "public")
    list_filter = ("source", "target", "requires_note")
    list_select_related = ("source", "target")


@admin.register(TimeLimit)
class TimeLimitAdmin(AuditedAdmin):
    list_display = ("stage", "category", "urgency", "amount", "unit", "warn_ratio")
    list_filter = ("stage", "urgency", "unit")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)


@admin.register(DispatchRule)
class DispatchRuleAdmin(AuditedAdmin):
    list_display = (
        "order",
        "category",
        "include_subcategories",
        "path_prefix",
        "urgency",
        "unit",
        "role",
        "level",
        "active",
    )
    list_editable = ("active",)
    list_filter = ("active", "level", "urgency")
    list_select_related = ("category", "unit")
    autocomplete_fields = ("category", "unit")
    ordering = ("order", "id")


@admin.register(HandlingUnit)
class HandlingUnitAdmin(AuditedAdmin):
    list_display = ("name", "kind", "territory", "ack_limit_hours", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    autocomplete_fields = ("territory",)
    readonly_fields = ("path",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.path = obj.territory.code if obj.territory_id else ""
        super().save_model(request, obj, form, change)


class CoverageWarningsMixin:
    """Warn on the changelist about years ahead that the working-day clock does not know."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        from .coverage import coverage_warnings

        if request.method == "GET":
            for message in coverage_warnings():
                self.message_user(request, message, messages.WARNING)  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


@admin.register(CalendarDay)
class CalendarDayAdmin(CoverageWarningsMixin, AuditedAdmin):
    """Single days (holidays, make-up workdays). Entering days does not make a year covered: mark the
    year complete under 日历年度覆盖 once every day of it is in."""

    list_display = ("day", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "day"


@admin.register(CalendarYear)
class CalendarYearAdmin(CoverageWarningsMixin, admin.ModelAdmin):
    """Per-year coverage; saved only through coverage.calendar_year_mark (who, when, audit row)."""

    list_display = ("year", "complete", "source", "local_days", "marked_by", "marked_at", "note")
    list_filter = ("complete",)
    fields = ("year", "complete", "note", "marked_by", "marked_at")
    readonly_fields = ("marked_by", "marked_at")
    list_select_related = ("marked_by",)

    @admin.display(description="日历来源")
    def source(self, obj: CalendarYear) -> str:
        from .calendar import library_knows_year

        if library_knows_year(obj.year):
            return "官方日历（节假日库）"
        return "本地录入（已完整）" if obj.complete else "未覆盖：按周一至周五推算"

    @admin.display(description="本地调整天数")
    def local_days(self, obj: CalendarYear) -> int:
        return CalendarDay.objects.filter(day__year=obj.year).count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The year is the row's identity: another year is another row.
        return ("year", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_district_admin(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_district_admin(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # unmark instead: the row keeps who marked it and when

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from .calendar import library_knows_year
        from .coverage import calendar_year_mark

        row = calendar_year_mark(actor=request.user, year=obj.year, complete=obj.complete, note=obj.note)
        obj.pk, obj.marked_by, obj.marked_at = row.pk, row.marked_by, row.marked_at
        if row.complete and not library_knows_year(row.year):
            days = CalendarDay.objects.filter(day__year=row.year).count()
            if days == 0:
                self.message_user(
                    request,
                    f"{row.year}年已标记为完整，但该年尚未录入任何放假或调休日期："
                    "农历节日（春节、清明、端午、中秋）将按工作日计算。",
                    messages.WARNING,
                )


@admin.register(FixedHoliday)
class FixedHolidayAdmin(AuditedAdmin):
    """Holidays on the same date every year, kept off even when a year's official schedule is unknown."""

    list_display = ("month", "day", "name", "active", "note")
    list_editable = ("active",)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: events change only through the services (timeline, clocks, audit)."""

    list_display = ("tracking_code", "title", "status", "category", "path", "level", "warning", "created_at")
    list_filter = ("status", "channel", "urgency", "level", "warning")
    search_fields = ("tracking_code", "title")
    list_select_related = ("status", "category")
    exclude = ("reporter_name_enc", "reporter_phone_enc", "reporter_phone_hash", "idempotency_key")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services/commands; the admin shows them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(ReadOnlyAdmin):
    """Trained by `wangge train-classifier`; the cross-validated accuracy is shown to admins here."""

    list_display = ("created_at", "samples", "categories", "cv_accuracy", "active")


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    """Registered through the devices API (scope and audit); listed here."""

    list_display = ("device_id", "kind", "name", "path", "life_safety", "active", "last_seen")
    list_filter = ("kind", "active", "life_safety")
    search_fields = ("device_id", "name")
    exclude = ("resident",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Queued by the services, delivered by `notifications_send_pending` (retried with backoff); failed
    (dead) rows are found here by state, with their last error (scrubbed of personal values)."""

    list_display = (
        "id",
        "kind",
        "channel",
        "recipient",
        "event",
        "state",
        "attempts",
        "next_attempt_at",
        "error",
        "created_at",
        "sent_at",
    )
    list_filter = ("state", "channel", "kind")
    list_select_related = ("recipient", "event")
    search_fields = ("subject", "event__tracking_code")
    date_hierarchy = "created_at"
    exclude = ("address_enc", "dedupe_key")
    actions = ["resend"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return is_district_admin(request.user)

    @admin.action(description="重新发送所选的发送失败通知", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        n = notifications_requeue(actor=request.user, ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - n
        self.message_user(
            request,
            f"已重新排队 {n} 条通知" + (f"；{skipped} 条不是发送失败状态，未处理" if skipped else ""),
            messages.SUCCESS if n else messages.WARNING,
        )
