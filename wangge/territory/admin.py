from django.contrib import admin

from .models import Building, Compound, Dwelling, GridAssignment, GridBoundary, GridRedraw, Territory


class GridAssignmentInline(admin.TabularInline):
    model = GridAssignment
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "grid_type", "valid_from", "valid_to")
    list_filter = ("level", "grid_type")
    search_fields = ("code", "name")
    inlines = [GridAssignmentInline]
    # Boundaries and redraws go through services (history, re-pathing); the admin only shows them.
    readonly_fields = ("valid_from", "valid_to")


@admin.register(GridBoundary)
class GridBoundaryAdmin(admin.ModelAdmin):
    list_display = ("grid", "valid_from", "valid_to", "area_m2")
    list_select_related = ("grid",)

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(GridRedraw)
class GridRedrawAdmin(admin.ModelAdmin):
    list_display = ("effective_date", "kind", "path", "old_codes", "new_codes", "note")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Compound)
class CompoundAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "community", "grid")
    search_fields = ("code", "name")


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "compound", "grid", "address")
    search_fields = ("code", "name", "address")


@admin.register(Dwelling)
class DwellingAdmin(admin.ModelAdmin):
    list_display = ("building", "unit", "room", "use")
    search_fields = ("building__code",)
