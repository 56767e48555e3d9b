"""SOS and devices: the watch over 特急 events (escalation steps, acknowledgement) and the device register."""

from . import devices, watch
from .devices import (
    LIFE_SAFETY_KINDS,
    device_deactivate,
    device_display,
    device_get,
    device_list,
    device_patch,
    device_register,
    device_update,
)
from .watch import (
    OnDuty,
    sos_acknowledge,
    sos_board,
    sos_step_users,
    sos_sweep,
    sos_watch_critical,
    sos_watch_display,
    sos_watch_start,
    sos_watch_wanted,
    watch_if_critical,
)

__all__ = [
    "LIFE_SAFETY_KINDS",
    "OnDuty",
    "device_deactivate",
    "device_display",
    "device_get",
    "device_list",
    "device_patch",
    "device_register",
    "device_update",
    "devices",
    "sos_acknowledge",
    "sos_board",
    "sos_step_users",
    "sos_sweep",
    "sos_watch_critical",
    "sos_watch_display",
    "sos_watch_start",
    "sos_watch_wanted",
    "watch",
    "watch_if_critical",
]
