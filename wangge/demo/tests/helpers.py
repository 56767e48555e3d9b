"""Shared helpers for the demo tests: a digest of the generated data's key columns."""

import hashlib
import json

from wangge.accounts.models import User
from wangge.party.models import MemberUnit, PartyOrg
from wangge.registry.models import Facility, Occupancy, Organisation, Place, Resident
from wangge.territory.models import Building, Compound, Dwelling, GridAssignment, GridBoundary, Territory


def data_digest() -> str:
    """SHA-256 over the natural keys and values of everything the generator writes (no pks, no ciphertext:
    ciphertexts carry a random nonce, their keyed hashes are compared instead)."""
    tags = {}
    for rid, code in Resident.tags.through.objects.values_list("resident_id", "keygroup__code"):
        tags.setdefault(rid, []).append(code)
    parts = {
        "territory": sorted(Territory.objects.values_list("code", "name", "level", "grid_type")),
        "boundaries": sorted(
            (b.grid.code, json.dumps(b.geojson)) for b in GridBoundary.objects.select_related("grid")
        ),
        "compounds": sorted(Compound.objects.values_list("code", "name", "address", "path")),
        "buildings": sorted(
            Building.objects.values_list("code", "name", "address", "lat", "lng", "floors", "units")
        ),
        "dwellings": sorted(Dwelling.objects.values_list("building__code", "unit", "room", "use", "area_m2")),
        "residents": sorted(
            (
                r.id_hash,
                r.name,
                str(r.birth_date),
                r.sex,
                r.phone_hash or "",
                r.path,
                r.household_role,
                r.residence_type,
                r.is_party_member,
                r.ethnicity,
                r.dwelling.building.code,
                r.dwelling.room,
                sorted(tags.get(r.pk, [])),
            )
            for r in Resident.objects.select_related("dwelling__building")
        ),
        "occupancies": sorted(
            (
                o.resident.id_hash,
                o.dwelling.building.code,
                o.dwelling.room,
                str(o.moved_in),
                str(o.moved_out),
                o.relation,
            )
            for o in Occupancy.objects.select_related("resident", "dwelling__building")
        ),
        "places": sorted(
            Place.objects.values_list(
                "natural_key", "name", "kind", "licence_status", "lat", "lng", "phone_hash", "path"
            )
        ),
        "facilities": sorted(Facility.objects.values_list("code", "name", "condition", "lat", "lng", "path")),
        "organisations": sorted(Organisation.objects.values_list("name", "kind", "path", "members_count")),
        "party": sorted(PartyOrg.objects.values_list("name", "level", "path", "secretary", "members_count")),
        "units": sorted(MemberUnit.objects.values_list("name", "path", "zones__code")),
        "users": sorted(User.objects.values_list("username", "role", "territory__code", "display_name")),
        "assignments": sorted(GridAssignment.objects.values_list("grid__code", "user__username", "duty")),
    }
    return hashlib.sha256(json.dumps(parts, default=str, ensure_ascii=False).encode()).hexdigest()
