from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from .models import RolePolicy, User
from .services import role_policy_set


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

    def save_formset(self, request, form, formset, change):  # type: ignore[no-untyped-def]
        # The policy goes through its service (audit row; tokens taken without the code are revoked).
        if formset.model is not RolePolicy:
            return super().save_formset(request, form, formset, change)
        # What the admin's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for policy_form in formset.forms:
            if policy_form.cleaned_data and not policy_form.cleaned_data.get("DELETE"):
                policy = role_policy_set(
                    actor=request.user,
                    group=form.instance,
                    otp_required=bool(policy_form.cleaned_data.get("otp_required")),
                )
                if policy_form.has_changed():
                    formset.changed_objects.append((policy, policy_form.changed_data))


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin signs in through the site's own login page, which asks for the second factor and
    audits failures; the admin's stock form does neither. Signed in but not allowed into the admin: 403
    (sending such an account to the login page would come straight back here)."""
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index"))


admin.site.login = admin_login  # type: ignore[method-assign]
