from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from wangge.core.admin import ReadOnlyAdmin
from wangge.core.roles import Role

from .labels import action_label, object_type_label
from .models import AuditEntry


class _LabelledFilter(admin.SimpleListFilter):
    """A filter on a code column that lists the codes present under their Chinese names."""

    label_of: Any = staticmethod(str)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = model_admin.get_queryset(request).order_by().values_list(self.parameter_name, flat=True)
        return sorted(((c, self.label_of(c)) for c in set(codes) if c), key=lambda c: (c[1], c[0]))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class ActionFilter(_LabelledFilter):
    title = "动作"
    parameter_name = "action"
    label_of = staticmethod(action_label)


class ObjectTypeFilter(_LabelledFilter):
    title = "对象类型"
    parameter_name = "object_type"
    label_of = staticmethod(object_type_label)


def _role_label(code: str) -> str:
    try:
        return str(Role(code).label)
    except ValueError:
        return code or "系统"


class RoleFilter(_LabelledFilter):
    title = "角色"
    parameter_name = "actor_role"
    label_of = staticmethod(_role_label)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_name", "role_name", "action_name", "type_name", "object_repr", "ip")
    list_filter = (ActionFilter, ObjectTypeFilter, RoleFilter)
    search_fields = ("actor_name", "object_id", "reason")
    date_hierarchy = "created_at"

    @admin.display(description="角色", ordering="actor_role")
    def role_name(self, obj: AuditEntry) -> str:
        return _role_label(obj.actor_role)

    @admin.display(description="动作", ordering="action")
    def action_name(self, obj: AuditEntry) -> str:
        return action_label(obj.action)

    @admin.display(description="对象类型", ordering="object_type")
    def type_name(self, obj: AuditEntry) -> str:
        return object_type_label(obj.object_type)
