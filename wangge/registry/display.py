"""The one place where register objects become display dicts. Personal values leave here only masked.

Templates and API serializers use these functions for every personal field: a list row
(`resident_display`) carries no health notes and no party membership; the card (`resident_card`) adds
whether there are health notes and the party membership flag, never the notes themselves.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.utils import timezone

from wangge.core.crypto import decrypt
from wangge.core.masking import mask_id_number, mask_phone

from .models import (
    Facility,
    HouseholdRole,
    KeyGroup,
    Occupancy,
    OccupancyRelation,
    Organisation,
    Place,
    ResidenceType,
    Resident,
    ResidentStatus,
    Sex,
)
from .validation import age_on


def derived_groups() -> list[KeyGroup]:
    """Age-derived key groups (loaded once per request by callers that display many residents)."""
    return list(KeyGroup.objects.filter(kind=KeyGroup.Kind.DERIVED))


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return ""


def _tag(group: KeyGroup) -> dict[str, str]:
    return {"code": group.code, "name": group.name, "colour": group.colour}


def resident_tags(resident: Resident, *, today: date, groups: Iterable[KeyGroup]) -> list[KeyGroup]:
    """Derived tags the resident is in today, then set tags, each once, in key-group order."""
    found: dict[str, KeyGroup] = {}
    if resident.birth_date:
        age = age_on(resident.birth_date, today)
        for g in groups:
            if (g.min_age is None or age >= g.min_age) and (g.max_age is None or age <= g.max_age):
                found[g.code] = g
    for g in resident.tags.all():
        found.setdefault(g.code, g)
    return sorted(found.values(), key=lambda g: (g.sort, g.code))


def resident_display(
    resident: Resident, *, today: date | None = None, groups: list[KeyGroup] | None = None
) -> dict[str, Any]:
    """A list row: masked ID number and phone, age, labels and tags. No health notes, no party membership."""
    today = today or timezone.localdate()
    if groups is None:
        groups = derived_groups()
    building = resident.building if resident.building_id else None
    dwelling = resident.dwelling if resident.dwelling_id else None
    return {
        "id": resident.pk,
        "name": resident.name,
        "id_number": mask_id_number(decrypt(resident.id_number_enc)),
        "phone": mask_phone(decrypt(resident.phone_enc)),
        "age": age_on(resident.birth_date, today) if resident.birth_date else None,
        "sex": resident.sex,
        "sex_label": _label(Sex, resident.sex),
        "ethnicity": resident.ethnicity,
        "household_role": resident.household_role,
        "household_role_label": _label(HouseholdRole, resident.household_role),
        "residence_type": resident.residence_type,
        "residence_type_label": _label(ResidenceType, resident.residence_type),
        "status": resident.status,
        "status_label": _label(ResidentStatus, resident.status),
        "tags": [_tag(g) for g in resident_tags(resident, today=today, groups=groups)],
        "building": {"id": building.pk, "code": building.code, "label": str(building)} if building else None,
        "dwelling": {"id": dwelling.pk, "label": str(dwelling)} if dwelling else None,
        "path": resident.path,
    }


def resident_display_many(
    residents: Iterable[Resident], *, today: date | None = None
) -> list[dict[str, Any]]:
    """resident_display for a page of residents, loading the key groups once."""
    today = today or timezone.localdate()
    groups = derived_groups()
    return [resident_display(r, today=today, groups=groups) for r in residents]


def occupancy_display(occ: Occupancy) -> dict[str, Any]:
    dwelling = occ.dwelling
    return {
        "id": occ.pk,
        "dwelling": {
            "id": dwelling.pk,
            "label": str(dwelling),
            "building_id": dwelling.building_id,
            "building": str(dwelling.building),
        },
        "relation": occ.relation,
        "relation_label": _label(OccupancyRelation, occ.relation),
        "moved_in": occ.moved_in,
        "moved_out": occ.moved_out,
    }


def resident_card(
    resident: Resident, *, today: date | None = None, groups: list[KeyGroup] | None = None
) -> dict[str, Any]:
    """The resident's card (一人一表): the list row plus party membership, whether there are health notes
    (never the notes: they are revealed on purpose, with a reason) and the move-in/move-out history."""
    data = resident_display(resident, today=today, groups=groups)
    data["is_party_member"] = resident.is_party_member
    data["has_health_notes"] = bool(resident.health_notes_enc)
    data["has_phone"] = bool(resident.phone_enc)
    data["birth_year"] = resident.birth_date.year if resident.birth_date else None
    occupancies = resident.occupancies.select_related("dwelling__building__compound").order_by(
        "-moved_in", "-id"
    )
    data["occupancies"] = [occupancy_display(o) for o in occupancies]
    return data


def place_display(place: Place) -> dict[str, Any]:
    """A shop or business with its operator's phone masked."""
    return {
        "id": place.pk,
        "name": place.name,
        "kind": place.kind,
        "credit_code": place.credit_code,
        "licence_status": place.licence_status,
        "licence_status_label": place.get_licence_status_display(),
        "operator_name": place.operator_name,
        "phone": mask_phone(decrypt(place.phone_enc)),
        "address": place.address,
        "building_id": place.building_id,
        "grid_id": place.grid_id,
        "lat": place.lat,
        "lng": place.lng,
        "path": place.path,
    }


def facility_display(facility: Facility) -> dict[str, Any]:
    fc = facility.facility_class
    return {
        "id": facility.pk,
        "code": facility.code,
        "name": facility.name,
        "major": fc.major,
        "major_name": fc.major_name,
        "minor": fc.minor,
        "class_name": fc.name,
        "condition": facility.condition,
        "condition_label": facility.get_condition_display(),
        "owner_unit": facility.owner_unit,
        "address": facility.address,
        "lat": facility.lat,
        "lng": facility.lng,
        "grid_id": facility.grid_id,
        "path": facility.path,
    }


def organisation_display(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.pk,
        "name": org.name,
        "kind": org.kind,
        "kind_label": org.get_kind_display(),
        "community_id": org.community_id,
        "compound_ids": sorted(c.pk for c in org.compounds.all()),
        "contact_name": org.contact_name,
        "contact_phone": org.contact_phone,
        "members_count": org.members_count,
        "founded": org.founded,
        "path": org.path,
    }


def building_display(building: Any) -> dict[str, Any]:
    """A building row (no personal data)."""
    compound = building.compound if building.compound_id else None
    return {
        "id": building.pk,
        "code": building.code,
        "name": building.name,
        "label": str(building),
        "compound": {"id": compound.pk, "name": compound.name} if compound else None,
        "grid_id": building.grid_id,
        "address": building.address,
        "lat": building.lat,
        "lng": building.lng,
        "floors": building.floors,
        "units": building.units,
        "use": building.use,
        "path": building.path,
    }


def dwelling_display(dwelling: Any) -> dict[str, Any]:
    """A dwelling row (no personal data)."""
    return {
        "id": dwelling.pk,
        "building_id": dwelling.building_id,
        "building": str(dwelling.building),
        "unit": dwelling.unit,
        "room": dwelling.room,
        "floor": dwelling.floor,
        "label": str(dwelling),
        "use": dwelling.use,
        "use_label": dwelling.get_use_display(),
        "area_m2": dwelling.area_m2,
        "path": dwelling.path,
    }
