from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from .models import RolePolicy, User


@admin.register(User)
class WanggeUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "territory", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("username", "display_name")
    autocomplete_fields = ("territory",)
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("网格化", {"fields": ("role", "territory", "display_name", "department")}),
    )


class RolePolicyInline(admin.StackedInline):
    """Sign-in rules edited on the role group's own page (second factor on/off)."""

    model = RolePolicy
    can_delete = False
    max_num = 1
    min_num = 1


admin.site.unregister(Group)


@admin.register(Group)
class WanggeGroupAdmin(GroupAdmin):
    inlines = [RolePolicyInline]
    list_display = ("name", "otp_required")

    @admin.display(boolean=True, description="须动态口令")
    def otp_required(self, group: Group) -> bool:
        policy = getattr(group, "policy", None)
        return bool(policy and policy.otp_required)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).select_related("policy")
