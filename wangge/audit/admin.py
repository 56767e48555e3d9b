from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_name", "actor_role", "action", "object_type", "object_repr", "ip")
    list_filter = ("action", "object_type", "actor_role")
    search_fields = ("actor_name", "object_id", "reason")
    date_hierarchy = "created_at"
