"""Admin for the rules an installation changes without code: categories, the status graph (statuses and
transitions), time limits, dispatch rules, handling units and local calendar days. Events themselves
are changed only through the services (pages/API), so they are read-only here.

Every save and delete writes an audit row in the same transaction.
"""

from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from wangge.audit.services import audit_record
from wangge.core.guards import is_district_admin

from .models import (
    CalendarDay,
    Category,
    ClassifierVersion,
    Device,
    DispatchRule,
    Event,
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


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedAdmin):
    list_display = ("day", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "day"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Say which years the official calendar library does not know yet (Mon–Fri fallback)."""
        from .calendar import _library_day

        this_year = date.today().year
        unknown = [y for y in (this_year, this_year + 1) if _library_day(date(y, 6, 1))[1]]
        local = set(CalendarDay.objects.filter(day__year__in=unknown).values_list("day__year", flat=True))
        for year in unknown:
            if year not in local:
                self.message_user(
                    request,
                    f"{year}年的法定节假日尚未收录：时限暂按周一至周五推算。请在此录入当年放假和调休上班日期。",
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)


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
