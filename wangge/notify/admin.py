"""Admin of the notifications: read-only, with the resend action for dead (failed) rows."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from wangge.core.admin import ReadOnlyAdmin
from wangge.core.guards import is_district_admin

from .models import Notification
from .services import notifications_requeue


class NotificationAdmin(ReadOnlyAdmin):
    """Queued by the services, delivered by `notifications_send_pending` (retried with backoff); failed
    (dead) rows are found here by state, with their last error (scrubbed of personal values)."""

    list_display = (
        "id",
        "kind",
        "channel",
        "recipient",
        "content_type",
        "object_id",
        "state",
        "attempts",
        "next_attempt_at",
        "error",
        "created_at",
        "sent_at",
    )
    list_filter = ("state", "channel", "kind")
    list_select_related = ("recipient", "content_type")
    search_fields = ("subject", "path")
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


admin.site.register(Notification, NotificationAdmin)
