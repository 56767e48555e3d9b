from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


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
