"""Admin for the rules an installation changes without code: categories, the status graph (statuses and
transitions), time limits, dispatch rules, handling units, urgency words, the whistle and supervisor roles
and the local calendar (days, per-year coverage, fixed-date holidays). Events themselves
are changed only through the services (pages/API), so they are read-only here.

Every save and delete writes an audit row in the same transaction.
"""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from wangge.audit.services import audit_record
from wangge.clock import admin as clock_admin
from wangge.clock import models as clock_models
from wangge.core.admin import ReadOnlyAdmin
from wangge.core.guards import is_district_admin
from wangge.core.roles import Role
from wangge.notify import admin as notify_admin
from wangge.notify import models as notify_models

from .models import (
    CalendarDay,
    CalendarYear,
    Category,
    ClassifierSchedule,
    ClassifierTraining,
    ClassifierVersion,
    Device,
    DispatchRule,
    Event,
    EventRoleRule,
    FixedHoliday,
    HandlingUnit,
    Notification,
    Status,
    TimeLimit,
    Transition,
    UrgencyWord,
)
from .triage import classifier_live_accuracy, classifier_trainings


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
    list_display = ("source", "target", "name", "role_names", "requires_note", "public")
    list_filter = ("source", "target", "requires_note")
    list_select_related = ("source", "target")

    @admin.display(description="允许的角色")
    def role_names(self, obj: Transition) -> str:
        """The role codes stored in `roles`, by name (empty: every staff role)."""
        names = {str(code): str(label) for code, label in Role.choices}
        return "、".join(names.get(r, r) for r in obj.roles or []) or "所有工作人员"


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


@admin.register(UrgencyWord)
class UrgencyWordAdmin(AuditedAdmin):
    """The words that make triage propose 特急/紧急 (and the words that only look like them)."""

    list_display = ("word", "level", "active", "note")
    list_editable = ("level", "active")
    list_filter = ("level", "active")
    search_fields = ("word", "note")


@admin.register(EventRoleRule)
class EventRoleRuleAdmin(AuditedAdmin):
    """Which roles may blow the whistle (吹哨), which supervise (督办), which verify others' work (核查)."""

    list_display = ("role", "may_whistle", "supervises", "may_verify", "note")
    list_editable = ("may_whistle", "supervises", "may_verify")


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


# The calendar and the notifications live in wangge.clock / wangge.notify; their admin pages stay at the
# addresses they had under 事件 (bookmarks, docs), through the events' proxy models, and are not listed
# twice.
for _model in (
    clock_models.CalendarDay,
    clock_models.CalendarYear,
    clock_models.FixedHoliday,
    notify_models.Notification,
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(CalendarDay)
class CalendarDayAdmin(clock_admin.CalendarDayAdmin):
    audit_prefix = "events"


@admin.register(CalendarYear)
class CalendarYearAdmin(clock_admin.CalendarYearAdmin):
    mark_action = "events.calendar_year_mark"


@admin.register(FixedHoliday)
class FixedHolidayAdmin(clock_admin.FixedHolidayAdmin):
    audit_prefix = "events"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Read-only: events change only through the services (timeline, clocks, audit)."""

    list_display = ("tracking_code", "title", "status", "category", "path", "level", "warning", "created_at")
    list_filter = ("status", "channel", "urgency", "level", "warning")
    search_fields = ("tracking_code", "title")
    list_select_related = ("status", "category")
    exclude = ("reporter_name_enc", "reporter_phone_enc", "reporter_phone_hash", "idempotency_key")


@admin.register(ClassifierVersion)
class ClassifierVersionAdmin(ReadOnlyAdmin):
    """Trained by `wangge train-classifier` or the background training; the cross-validated accuracy is
    shown here, above the list the live accuracy per month (suggestion vs final category) and the last
    trainings with their progress (issue 18 C5)."""

    list_display = ("created_at", "samples", "categories", "cv_accuracy", "active")
    change_list_template = "admin/events/classifierversion_change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = dict(extra_context or {})
        if is_district_admin(request.user):
            context["live_accuracy"] = classifier_live_accuracy(user=request.user)
            context["trainings"] = classifier_trainings(actor=request.user, limit=5)
        return super().changelist_view(request, extra_context=context)


def _recall_table(report: dict[str, Any]) -> Any:
    recall = report.get("per_class_recall") or {}
    names = dict(Category.objects.filter(code__in=list(recall)).values_list("code", "name"))
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((code, names.get(code, ""), f"{value:.1%}") for code, value in sorted(recall.items())),
    )
    return format_html(
        "<table><thead><tr><th>分类代码</th><th>分类名称</th><th>召回率</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


@admin.register(ClassifierTraining)
class ClassifierTrainingAdmin(ReadOnlyAdmin):
    """Written by the background training as it runs (progress, report, failure); listed here."""

    list_display = (
        "created_at",
        "status",
        "progress_bar",
        "step",
        "accuracy",
        "suggested_threshold",
        "version",
        "scheduled",
        "created_by",
    )
    list_filter = ("status", "scheduled")
    fields = (
        "task_id",
        "status",
        "progress_bar",
        "step",
        "params",
        "report_view",
        "error_code",
        "error",
        "version",
        "scheduled",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description="进度")
    def progress_bar(self, obj: ClassifierTraining) -> Any:
        total = max(obj.total, 1)
        done = total if obj.status == ClassifierTraining.State.DONE else min(obj.done, total)
        return format_html('<progress value="{}" max="{}"></progress> {}/{}', done, total, done, total)

    @admin.display(description="交叉验证准确率")
    def accuracy(self, obj: ClassifierTraining) -> str:
        value = (obj.report or {}).get("cv_accuracy")
        return f"{value:.1%}" if isinstance(value, int | float) else "—"

    @admin.display(description="建议阈值")
    def suggested_threshold(self, obj: ClassifierTraining) -> str:
        value = (obj.report or {}).get("suggested_threshold")
        return f"{value:.2f}" if isinstance(value, int | float) else "—"

    @admin.display(description="训练报告")
    def report_view(self, obj: ClassifierTraining) -> Any:
        report = obj.report or {}
        if not report:
            return "—"
        threshold = report.get("suggested_threshold")
        return format_html(
            "<p>样本数 {}（其中人工纠正 {}），分类数 {}，交叉验证 {} 折，准确率 {}；"
            "目标准确率 {} 时建议置信度阈值 {}</p>{}",
            report.get("samples", 0),
            report.get("corrections", 0),
            report.get("classes", 0),
            report.get("folds", 0),
            self.accuracy(obj),
            report.get("target_precision", ""),
            f"{threshold:.2f}" if isinstance(threshold, int | float) else "无（达不到目标）",
            _recall_table(report),
        )


@admin.register(ClassifierSchedule)
class ClassifierScheduleAdmin(AuditedAdmin):
    """When the periodic sweep retrains the classifier: one row, seeded by migration 0013."""

    list_display = ("enabled", "every_days", "min_new_labels", "target_precision", "last_enqueued_at")
    readonly_fields = ("last_enqueued_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ClassifierSchedule.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    """Registered through the devices API (scope and audit); listed here."""

    list_display = ("device_id", "kind", "name", "path", "life_safety", "active", "last_seen")
    list_filter = ("kind", "active", "life_safety")
    search_fields = ("device_id", "name")
    exclude = ("resident",)


@admin.register(Notification)
class NotificationAdmin(notify_admin.NotificationAdmin):
    pass
