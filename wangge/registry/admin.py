"""Admin for the register's reference data (rules that differ between cities are data).

Residents, places and other personal records are deliberately not in the admin: they are written only
through wangge.registry.services (validation, encryption, audit) and read through masked views.
"""

from django.contrib import admin

from .models import FacilityClass, KeyGroup


@admin.register(KeyGroup)
class KeyGroupAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "min_age", "max_age", "colour", "sensitive", "sort")
    list_editable = ("name", "min_age", "max_age", "colour", "sensitive", "sort")
    list_filter = ("kind", "sensitive")
    search_fields = ("code", "name")


@admin.register(FacilityClass)
class FacilityClassAdmin(admin.ModelAdmin):
    list_display = ("major", "major_name", "minor", "name")
    list_filter = ("major_name",)
    search_fields = ("name", "major_name")
