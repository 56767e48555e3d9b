"""Admin of the installation calendar (local days, per-year coverage, fixed-date holidays) and of the
generic deadlines (read-only: written by the services and the sweep). Every calendar save and delete
writes an audit row in the same transaction."""

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from wangge.audit.services import audit_record
from wangge.core.admin import ReadOnlyAdmin
from wangge.core.guards import is_district_admin

from .calendar import library_knows_year
from .coverage import calendar_year_mark, coverage_warnings
from .models import CalendarDay, CalendarYear, Deadline, FixedHoliday


class AuditedAdmin(admin.ModelAdmin):
    audit_prefix = "clock"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=f"{self.audit_prefix}.admin_{'update' if change else 'create'}",
                obj=obj,
                after={k: str(form.cleaned_data.get(k)) for k in form.changed_data},
                path="",
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit_record(actor=request.user, action=f"{self.audit_prefix}.admin_delete", obj=obj, path="")
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, action=f"{self.audit_prefix}.admin_delete", obj=obj, path="")
            super().delete_queryset(request, queryset)


class CoverageWarningsMixin:
    """Warn on the changelist about years ahead that the working-day clock does not know."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "GET":
            for message in coverage_warnings():
                self.message_user(request, message, messages.WARNING)  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


class CalendarDayAdmin(CoverageWarningsMixin, AuditedAdmin):
    """Single days (holidays, make-up workdays). Entering days does not make a year covered: mark the
    year complete under 日历年度覆盖 once every day of it is in."""

    list_display = ("day", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "day"


class CalendarYearAdmin(CoverageWarningsMixin, admin.ModelAdmin):
    """Per-year coverage; saved only through coverage.calendar_year_mark (who, when, audit row)."""

    mark_action = "clock.calendar_year_mark"
    list_display = ("year", "complete", "source", "local_days", "marked_by", "marked_at", "note")
    list_filter = ("complete",)
    fields = ("year", "complete", "note", "marked_by", "marked_at")
    readonly_fields = ("marked_by", "marked_at")
    list_select_related = ("marked_by",)

    @admin.display(description="日历来源")
    def source(self, obj: CalendarYear) -> str:
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
        row = calendar_year_mark(
            actor=request.user,
            year=obj.year,
            complete=obj.complete,
            note=obj.note,
            model=self.model,
            action=self.mark_action,
        )
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


class FixedHolidayAdmin(AuditedAdmin):
    """Holidays on the same date every year, kept off even when a year's official schedule is unknown."""

    list_display = ("month", "day", "name", "active", "note")
    list_editable = ("active",)


@admin.register(Deadline)
class DeadlineAdmin(ReadOnlyAdmin):
    """Read-only: deadlines change only through clock.services and the sweep."""

    list_display = (
        "id",
        "kind",
        "content_type",
        "object_id",
        "path",
        "due_at",
        "level",
        "state",
        "escalated_at",
    )
    list_filter = ("state", "level", "kind")
    search_fields = ("kind", "path")
    list_select_related = ("content_type",)
    date_hierarchy = "due_at"


admin.site.register(CalendarDay, CalendarDayAdmin)
admin.site.register(CalendarYear, CalendarYearAdmin)
admin.site.register(FixedHoliday, FixedHolidayAdmin)
