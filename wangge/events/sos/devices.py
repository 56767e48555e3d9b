"""Registered sensors and wearables (I3, S6): services (writes) and selectors (reads) in one small module.

A device is bound to a resident (wearable 一键呼叫手环), a place (商户/场所), a building, or a located point;
its `path` (territory scope) comes from that binding, in this order. Wearables and gas/smoke detectors
are life-safety devices by default: their alarms become 特急 events with an SOS watch.
"""

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from wangge.accounts.roles import P_EDIT_REGISTER, P_VIEW_REGISTER
from wangge.audit.services import audit_record
from wangge.core.errors import Conflict, Forbidden, InvalidInput, NotFound, get_or_not_found
from wangge.core.scope import path_in_scope, scope_queryset
from wangge.registry import selectors as registry
from wangge.territory.locator import locate_point

from ..models import Device

# Ids become MQTT topic levels: no "/", "+", "#" or spaces.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
LIFE_SAFETY_KINDS = frozenset({Device.Kind.WEARABLE, Device.Kind.GAS, Device.Kind.SMOKE})


def _require(user: Any, perm: str, message: str) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_perm(perm):
        raise Forbidden(message, code="permission_denied")


def _coords(lat: Any, lng: Any) -> tuple[float | None, float | None]:
    if lat in (None, "") and lng in (None, ""):
        return None, None
    try:
        flat, flng = float(lat), float(lng)
    except (TypeError, ValueError):
        raise InvalidInput("经纬度须同时提供且为数字", code="invalid_location")
    if not (-90 <= flat <= 90 and -180 <= flng <= 180):
        raise InvalidInput("经纬度超出范围", code="invalid_location")
    return flat, flng


def _binding_path(
    actor: Any,
    *,
    resident_id: Any,
    place_id: Any,
    building_id: Any,
    lat: float | None,
    lng: float | None,
) -> tuple[dict[str, Any], str]:
    """Resolve the bound objects through the caller's scope (unknown or outside → 404) and the path."""
    refs: dict[str, Any] = {"resident": None, "place": None, "building": None}
    if resident_id not in (None, ""):
        refs["resident"] = registry.resident_get(user=actor, pk=resident_id)
    if place_id not in (None, ""):
        refs["place"] = registry.place_get(user=actor, pk=place_id)
    if building_id not in (None, ""):
        refs["building"] = registry.building_get(user=actor, pk=building_id)
    for key in ("resident", "place", "building"):
        if refs[key] is not None and refs[key].path:
            return refs, str(refs[key].path)
    if lat is not None and lng is not None:
        grid = locate_point(lat=lat, lng=lng)
        if grid is None:
            raise InvalidInput("该位置不在任何网格内", code="location_outside_grids")
        if not path_in_scope(actor, grid.code):
            raise InvalidInput("该位置不在您的管辖范围内", code="location_out_of_scope")
        return refs, grid.code
    raise InvalidInput("请绑定居民、场所、楼栋或填写设备位置", code="binding_required")


def _device_fields(
    actor: Any,
    *,
    kind: str,
    name: str,
    resident_id: Any,
    place_id: Any,
    building_id: Any,
    lat: Any,
    lng: Any,
    life_safety: bool | None,
) -> dict[str, Any]:
    """The checked type, name, binding (bound objects in the actor's scope), path and life-safety flag
    of a device being registered or corrected, as model field values."""
    if kind not in Device.Kind.values:
        raise InvalidInput("设备类型无效", code="invalid_kind")
    name = (name or "").strip()
    if len(name) > 100:
        raise InvalidInput("设备名称不能超过100字", code="invalid_name")
    flat, flng = _coords(lat, lng)
    refs, path = _binding_path(
        actor, resident_id=resident_id, place_id=place_id, building_id=building_id, lat=flat, lng=flng
    )
    return {
        "kind": kind,
        "name": name,
        "resident_id": refs["resident"].pk if refs["resident"] else None,
        "place_id": refs["place"].pk if refs["place"] else None,
        "building_id": refs["building"].pk if refs["building"] else None,
        "lat": flat,
        "lng": flng,
        "path": path,
        "life_safety": bool(kind in LIFE_SAFETY_KINDS if life_safety is None else life_safety),
    }


def device_register(
    *,
    actor: Any,
    device_id: str,
    kind: str,
    name: str = "",
    resident_id: int | None = None,
    place_id: int | None = None,
    building_id: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
    life_safety: bool | None = None,
) -> Device:
    """Register a sensor or wearable inside the actor's territory; its path comes from its binding."""
    _require(actor, P_EDIT_REGISTER, "没有登记设备的权限")
    device_id = (device_id or "").strip()
    if not _DEVICE_ID.match(device_id):
        raise InvalidInput("设备编号须为1–64位字母、数字或 _ . : -", code="invalid_device_id")
    fields = _device_fields(
        actor,
        kind=kind,
        name=name,
        resident_id=resident_id,
        place_id=place_id,
        building_id=building_id,
        lat=lat,
        lng=lng,
        life_safety=life_safety,
    )
    if Device.objects.filter(device_id=device_id).exists():
        raise Conflict("该设备编号已登记", code="device_exists")
    try:
        with transaction.atomic():
            device = Device.objects.create(device_id=device_id, **fields)
            audit_record(
                actor=actor,
                action="device_register",
                obj=device,
                after={
                    "device_id": device_id,
                    "kind": kind,
                    "resident_id": device.resident_id,
                    "place_id": device.place_id,
                    "building_id": device.building_id,
                    "life_safety": device.life_safety,
                },
            )
    except IntegrityError:
        raise Conflict("该设备编号已登记", code="device_exists")
    return device


def device_update(
    *,
    actor: Any,
    device: Device,
    kind: str,
    name: str = "",
    resident_id: int | None = None,
    place_id: int | None = None,
    building_id: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
    life_safety: bool | None = None,
    active: bool | None = None,
) -> Device:
    """Correct a registered device: type, name, binding (its path follows, inside the actor's territory),
    life-safety flag and whether it is in use. The device id (the MQTT topic) never changes."""
    _require(actor, P_EDIT_REGISTER, "没有维护设备的权限")
    if not path_in_scope(actor, device.path):
        raise NotFound("未找到该设备", code="not_found")
    new = _device_fields(
        actor,
        kind=kind,
        name=name,
        resident_id=resident_id,
        place_id=place_id,
        building_id=building_id,
        lat=lat,
        lng=lng,
        life_safety=life_safety,
    )
    with transaction.atomic():
        current = Device.objects.select_for_update().filter(pk=device.pk).first()
        if current is None:
            raise NotFound("未找到该设备", code="not_found")
        new["active"] = current.active if active is None else bool(active)
        changed = [f for f in new if getattr(current, f) != new[f]]
        if changed:
            Device.objects.filter(pk=current.pk).update(**new)
            # The name may hold a person's name: the audit row records only that it changed.
            shown = [f for f in changed if f != "name"]
            audit_record(
                actor=actor,
                action="device_update",
                obj=current,
                before={f: getattr(current, f) for f in shown},
                after={**{f: new[f] for f in shown}, **({"name_changed": True} if "name" in changed else {})},
            )
    device.refresh_from_db()
    return device


_CORRECTABLE = (
    "kind",
    "name",
    "resident_id",
    "place_id",
    "building_id",
    "lat",
    "lng",
    "life_safety",
    "active",
)


def device_patch(*, actor: Any, device: Device, changes: dict[str, Any]) -> Device:
    """`device_update` of only the fields in `changes` (a subset of the correctable ones); the others keep
    their values, except that a new type without a life-safety flag takes its type's default."""
    unknown = set(changes) - set(_CORRECTABLE)
    if unknown:
        raise InvalidInput(f"不能修改的字段：{'、'.join(sorted(unknown))}", code="invalid_field")
    current = {f: getattr(device, f) for f in _CORRECTABLE}
    if "kind" in changes and "life_safety" not in changes:
        current["life_safety"] = None
    return device_update(actor=actor, device=device, **{**current, **changes})


def device_deactivate(*, actor: Any, device: Device, reason: str = "") -> Device:
    """Stop accepting messages from a device (lost, broken, resident moved). Kept for history."""
    _require(actor, P_EDIT_REGISTER, "没有维护设备的权限")
    if not path_in_scope(actor, device.path):
        raise NotFound("未找到该设备", code="not_found")
    with transaction.atomic():
        updated = Device.objects.filter(pk=device.pk, active=True).update(active=False)
        if updated:
            audit_record(
                actor=actor,
                action="device_deactivate",
                obj=device,
                before={"active": True},
                after={"active": False},
                reason=(reason or "").strip(),
            )
    device.refresh_from_db()
    return device


# --- selectors ---------------------------------------------------------------------------------------


def device_list(
    *, user: Any, path: str = "", kind: str = "", active: bool | None = None, q: str = ""
) -> QuerySet[Device]:
    """Devices inside the caller's territory."""
    _require(user, P_VIEW_REGISTER, "没有查看设备的权限")
    qs = scope_queryset(Device.objects.select_related("place", "building"), user)
    if path:
        qs = qs.filter(path__startswith=path)
    if kind:
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(active=active)
    term = (q or "").strip()
    if term:
        qs = qs.filter(Q(device_id__icontains=term) | Q(name__icontains=term))
    return qs.order_by("path", "device_id")


def device_get(*, user: Any, pk: Any) -> Device:
    """One device in the caller's territory (unknown or outside → 404)."""
    _require(user, P_VIEW_REGISTER, "没有查看设备的权限")
    return get_or_not_found(
        scope_queryset(Device.objects.select_related("place", "building"), user), pk, "设备"
    )


def device_display(device: Device) -> dict[str, Any]:
    """What the API shows of a device: ids of the bound objects, never a resident's personal values."""
    return {
        "id": device.pk,
        "device_id": device.device_id,
        "kind": device.kind,
        "kind_display": device.get_kind_display(),
        "name": device.name,
        "resident_id": device.resident_id,
        "place": {"id": device.place_id, "name": device.place.name} if device.place is not None else None,
        "building": {"id": device.building_id, "name": device.building.name}
        if device.building is not None
        else None,
        "lat": device.lat,
        "lng": device.lng,
        "path": device.path,
        "life_safety": device.life_safety,
        "active": device.active,
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
    }
