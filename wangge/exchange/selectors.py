"""Reads for import jobs and exports, always bounded by the caller's territory."""

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.db.models import Q, QuerySet

from wangge.core import crypto
from wangge.core.errors import NotFound
from wangge.core.masking import mask_id_number, mask_phone
from wangge.core.scope import scope_q, scope_queryset
from wangge.registry.models import (
    Facility,
    HouseholdRole,
    KeyGroup,
    LicenceStatus,
    Occupancy,
    Place,
    ResidenceType,
    Resident,
    ResidentStatus,
)
from wangge.territory.models import Building

from .models import ImportJob

BATCH = 2000


def import_jobs_visible(user: Any) -> QuerySet[ImportJob]:
    """The caller's own jobs and the jobs of people inside the caller's territory."""
    if not getattr(user, "is_authenticated", False):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(Q(created_by=user) | scope_q(user)).select_related("created_by")


def import_jobs_recent(user: Any, *, limit: int = 20) -> list[ImportJob]:
    return list(ImportJob.objects.filter(created_by=user).order_by("-id")[:limit])


def import_job_get(user: Any, job_id: int | str) -> ImportJob:
    try:
        return import_jobs_visible(user).get(pk=int(job_id))
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise NotFound("导入任务不存在", code="not_found")


def _batches(it: Iterator[Any], size: int = BATCH) -> Iterator[list[Any]]:
    while batch := list(islice(it, size)):
        yield batch


def export_queryset(user: Any, kind: str) -> QuerySet[Any]:
    if kind == "residents":
        qs: QuerySet[Any] = Resident.objects.filter(status=ResidentStatus.ACTIVE)
    elif kind == "buildings":
        qs = Building.objects.all()
    elif kind == "places":
        qs = Place.objects.all()
    else:
        qs = Facility.objects.all()
    return scope_queryset(qs, user).order_by("pk")


def export_count(user: Any, kind: str) -> int:
    return export_queryset(user, kind).count()


def _reveal(token: str, masker: Any, full: bool) -> str:
    if not token:
        return ""
    plain = crypto.decrypt(token)
    return plain if full else masker(plain)


def export_rows(user: Any, kind: str, *, full_personal: bool) -> Iterator[list[Any]]:
    """Rows in the import column order (wangge.exchange.columns), so an export re-imports cleanly.

    Personal values are decrypted only when `full_personal`; otherwise they are masked.
    """
    qs = export_queryset(user, kind)
    if kind == "residents":
        yield from _resident_rows(qs, full_personal)
    elif kind == "buildings":
        for b in qs.select_related("compound", "grid").iterator(chunk_size=BATCH):
            yield [
                b.code,
                b.name,
                b.compound.name if b.compound else "",
                b.path,
                b.address,
                b.lng,
                b.lat,
                b.floors,
                b.units,
            ]
    elif kind == "places":
        licence = dict(LicenceStatus.choices)
        for p in qs.select_related("building").iterator(chunk_size=BATCH):
            yield [
                p.name,
                p.credit_code,
                p.kind,
                licence.get(p.licence_status, ""),
                p.operator_name,
                _reveal(p.phone_enc, mask_phone, full_personal),
                p.address,
                p.building.code if p.building else "",
                p.lng,
                p.lat,
            ]
    else:
        condition = dict(Facility._meta.get_field("condition").choices or [])
        for f in qs.iterator(chunk_size=BATCH):
            yield [f.code, f.name, condition.get(f.condition, ""), f.owner_unit, f.address, f.lng, f.lat]


def _resident_rows(qs: QuerySet[Any], full: bool) -> Iterator[list[Any]]:
    roles = dict(HouseholdRole.choices)
    types = dict(ResidenceType.choices)
    tag_names = dict(KeyGroup.objects.filter(kind=KeyGroup.Kind.SET).values_list("id", "name"))
    through = Resident.tags.through
    fields = (
        "id",
        "name",
        "id_number_enc",
        "phone_enc",
        "building__code",
        "dwelling__unit",
        "dwelling__room",
        "household_role",
        "residence_type",
        "ethnicity",
    )
    for batch in _batches(qs.values_list(*fields).iterator(chunk_size=BATCH)):
        ids = [r[0] for r in batch]
        tags: dict[int, list[str]] = {}
        for rid, kid in (
            through.objects.filter(resident_id__in=ids, keygroup_id__in=tag_names)
            .values_list("resident_id", "keygroup_id")
            .order_by("keygroup__sort", "keygroup_id")
        ):
            tags.setdefault(rid, []).append(tag_names[kid])
        moved_in = dict(
            Occupancy.objects.filter(resident_id__in=ids, moved_out__isnull=True).values_list(
                "resident_id", "moved_in"
            )
        )
        for rid, name, id_enc, phone_enc, bcode, unit, room, role, rtype, eth in batch:
            yield [
                name,
                _reveal(id_enc, mask_id_number, full),
                _reveal(phone_enc, mask_phone, full),
                bcode or "",
                unit or "",
                room or "",
                roles.get(role, ""),
                types.get(rtype, ""),
                eth,
                "、".join(tags.get(rid, [])),
                moved_in[rid].isoformat() if rid in moved_in else "",
            ]
