"""MQTT intake (E1, I3): sensor alarms and wearable SOS messages from registered devices.

Topics: `{prefix}/{device_id}/alarm` and `{prefix}/{device_id}/sos` (prefix: settings.WANGGE_MQTT_TOPIC_PREFIX).
Payload (JSON object): {"msg_id": "...", "type": "smoke|gas|water|sos|…", "ts": ISO-8601 or epoch,
"lat"?, "lng"?, "crs"? ("wgs84"|"gcj02"|"bd09"), "battery"?, "text"?}.

`mqtt_handle` is the whole message handling as one function of (topic, payload) — testable without a
broker. It never raises: unknown or inactive devices, bad JSON and messages without msg_id are logged
(device id and reason only, never the payload) and dropped. A redelivered message (QoS 1 duplicates,
reconnects) never makes a second event: DeviceMessage is unique per (device, msg_id) and the event is
created with channel + external id `{device_id}:{msg_id}`, which event intake treats as idempotent.

`MqttSubscriber` is the loop of `wangge mqtt`: paho-mqtt 2.x, QoS 1 subscriptions, a persistent session
(messages published while the subscriber is down are delivered when it returns), manual acknowledgement
after the message is stored (a database failure leaves it unacknowledged and the broker redelivers it
after a reconnect), reconnect with exponential backoff, clean stop on SIGTERM.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from wangge.core import parsers as bounded_json
from wangge.core.errors import ServiceError
from wangge.territory.coords import to_wgs84
from wangge.territory.models import Territory

from ..models import Category, Channel, Device, DeviceMessage, Event, EventType, Urgency
from ..sos import sos_watch_start
from .batch import event_intake
from .report import EventInput

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024

# Alarm type → category code. An installation can override it with settings.WANGGE_MQTT_ALARM_CATEGORIES;
# a type not listed (or a code that no longer exists) is left to the classifier.
ALARM_CATEGORIES = {
    "smoke": "0501",
    "fire": "0501",
    "heat": "0501",
    "gas": "0503",
    "co": "0503",
    "sos": "0502",
    "fall": "0502",
    "water": "0603",
    "leak": "0603",
    "door": "0606",
}
ALARM_LABELS = {
    "smoke": "烟雾报警",
    "fire": "火警",
    "heat": "高温报警",
    "gas": "燃气泄漏报警",
    "co": "一氧化碳报警",
    "sos": "一键呼叫求助",
    "fall": "跌倒报警",
    "water": "水浸报警",
    "leak": "漏水报警",
    "door": "门磁异常",
}
HEARTBEAT_TYPES = frozenset({"heartbeat", "ping", "status"})
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class Result:
    """Outcome of one message. `status`: created | duplicate | heartbeat | dropped | error."""

    status: str
    reason: str = ""
    event_id: int | None = None
    device_id: str = ""
    sos_watch: bool = False

    @property
    def ack(self) -> bool:
        """Acknowledge to the broker unless a transient failure means it should be redelivered."""
        return self.status != "error"


def topic_prefix() -> str:
    return str(getattr(settings, "WANGGE_MQTT_TOPIC_PREFIX", "wangge/devices") or "wangge/devices").strip("/")


def topic_filters(prefix: str | None = None) -> list[str]:
    prefix = (prefix if prefix is not None else topic_prefix()).strip("/")
    return [f"{prefix}/+/alarm", f"{prefix}/+/sos"]


def parse_topic(topic: str, prefix: str | None = None) -> tuple[str, str] | None:
    """`{prefix}/{device_id}/{alarm|sos}` → (device_id, kind), else None."""
    prefix = (prefix if prefix is not None else topic_prefix()).strip("/")
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head) :].split("/")
    if len(rest) != 2 or not rest[0] or rest[1] not in ("alarm", "sos"):
        return None
    return rest[0], rest[1]


def _drop(reason: str, device_id: str = "") -> Result:
    # Only the device id and the reason: never the payload (it can carry a resident's words or position).
    log.warning("mqtt message dropped reason=%s device=%s", reason, device_id[:64] or "-")
    return Result(status="dropped", reason=reason, device_id=device_id)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _timestamp(value: Any) -> datetime | None:
    """ISO-8601 (naive = local time) or epoch seconds / milliseconds; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value)
    if isinstance(value, (int, float)):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000.0
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _payload_point(data: dict[str, Any]) -> tuple[float, float] | None:
    lat, lng = _float(data.get("lat")), _float(data.get("lng"))
    if lat is None or lng is None:
        return None
    crs = str(data.get("crs") or "wgs84").lower()
    try:
        lng, lat = to_wgs84(lng, lat, crs)
    except (TypeError, ValueError, KeyError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None
    return lat, lng


def _device_location(device: Device, point: tuple[float, float] | None) -> dict[str, Any]:
    """Where the alarm is: the message's own fix, else the device's registered point, else the bound
    resident's home, the place, or the building. Always with an address line for people."""
    lat = lng = None
    if point is not None:
        lat, lng = point
    elif device.lat is not None and device.lng is not None:
        lat, lng = device.lat, device.lng
    building = None
    address = ""
    resident = device.resident if device.resident_id else None
    if resident is not None:
        building = resident.building or (
            resident.dwelling.building if resident.dwelling is not None else None
        )
    place = device.place if device.place_id else None
    if building is None and place is not None:
        building = place.building
        address = place.address
        if lat is None and place.lat is not None and place.lng is not None:
            lat, lng = place.lat, place.lng
    if building is None and device.building_id:
        building = device.building
    if building is not None:
        address = address or building.address or str(building)
        if lat is None and building.lat is not None and building.lng is not None:
            lat, lng = building.lat, building.lng
    if not address:
        node = Territory.objects.filter(code=device.path).first() if device.path else None
        address = f"{node.name}（设备登记区域）" if node else f"设备 {device.device_id} 登记位置"
    return {
        "lat": lat,
        "lng": lng,
        "building_id": building.pk if building else None,
        "address": address[:200],
    }


def _category_code(alarm_type: str) -> str:
    mapping = getattr(settings, "WANGGE_MQTT_ALARM_CATEGORIES", None) or ALARM_CATEGORIES
    code = mapping.get(alarm_type, "")
    if code and Category.objects.filter(code=code, active=True).exists():
        return code
    return ""


def _intake(data: Any) -> tuple[Event, bool]:
    return event_intake(data=data, actor=None)


def mqtt_handle(*, topic: str, payload: bytes) -> Result:
    """Handle one MQTT message; never raises. See the module docstring for topics and payload."""
    parsed = parse_topic(topic)
    if parsed is None:
        return _drop("bad_topic")
    device_id, kind = parsed
    if len(payload) > MAX_PAYLOAD_BYTES:
        return _drop("payload_too_large", device_id)
    try:
        # Bounded: a deeply nested payload is a ValueError here, not a RecursionError (core.parsers).
        data = bounded_json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _drop("bad_json", device_id)
    if not isinstance(data, dict):
        return _drop("bad_json", device_id)
    msg_id = data.get("msg_id")
    if isinstance(msg_id, bool) or not isinstance(msg_id, (str, int)) or not str(msg_id).strip():
        return _drop("missing_msg_id", device_id)
    msg_id = str(msg_id).strip()
    if len(msg_id) > 100 or len(device_id) + len(msg_id) + 1 > 100:
        return _drop("msg_id_too_long", device_id)
    try:
        return _handle(device_id=device_id, kind=kind, msg_id=msg_id, data=data)
    except DatabaseError:
        # Database down or busy: do not acknowledge; the broker redelivers after a reconnect.
        log.exception("mqtt message not stored (database) device=%s", device_id)
        return Result(status="error", reason="database", device_id=device_id)
    except ServiceError as exc:
        return _drop(f"rejected:{exc.code}", device_id)
    except Exception:  # noqa: BLE001 - one bad message must not stop the subscriber
        log.exception("mqtt message failed device=%s", device_id)
        return Result(status="dropped", reason="internal_error", device_id=device_id)


def _handle(*, device_id: str, kind: str, msg_id: str, data: dict[str, Any]) -> Result:
    device = (
        Device.objects.select_related(
            "resident",
            "resident__building",
            "resident__dwelling__building",
            "place",
            "place__building",
            "building",
        )
        .filter(device_id=device_id)
        .first()
    )
    if device is None:
        return _drop("unknown_device", device_id)
    if not device.active:
        return _drop("inactive_device", device_id)
    now = timezone.now()
    alarm_type = str(data.get("type") or ("sos" if kind == "sos" else device.kind)).strip().lower()[:32]
    if kind == "alarm" and alarm_type in HEARTBEAT_TYPES:
        Device.objects.filter(pk=device.pk).update(last_seen=now)
        return Result(status="heartbeat", device_id=device_id)
    seen = DeviceMessage.objects.filter(device=device, message_id=msg_id).first()
    if seen is not None:
        log.info("mqtt duplicate device=%s", device_id)
        return Result(status="duplicate", event_id=seen.event_id, device_id=device_id)

    is_sos = kind == "sos" or alarm_type == "sos"
    watch = is_sos or device.life_safety
    ts = _timestamp(data.get("ts"))
    battery = _float(data.get("battery"))
    text = str(data.get("text") or "").strip()[:500]
    point = _payload_point(data)
    where = _device_location(device, point)
    label = ALARM_LABELS.get(alarm_type, f"设备告警（{alarm_type}）")
    device_label = device.name or device.get_kind_display()
    title = f"{label}：{device_label}"
    lines = [
        f"{label}。设备：{device.get_kind_display()} {device.device_id}"
        + (f"（{device.name}）" if device.name else "")
    ]
    if text:
        lines.append(f"留言：{text}")
    if battery is not None:
        lines.append(f"电量：{battery:g}%")
    stored = {
        "msg_id": msg_id,
        "type": alarm_type,
        "ts": ts.isoformat() if ts else None,
        "lat": point[0] if point else None,
        "lng": point[1] if point else None,
        "battery": battery,
        "text": text,
    }
    event_input = EventInput(
        description="\n".join(lines),
        title=title[:60],
        channel=Channel.SOS if kind == "sos" else Channel.SENSOR,
        event_type=EventType.HELP if watch else "",
        urgency=Urgency.CRITICAL if watch else Urgency.URGENT,
        category_code=_category_code("sos" if is_sos else alarm_type),
        lat=where["lat"],
        lng=where["lng"],
        address=where["address"],
        building_id=where["building_id"],
        anonymous=True,
        external_id=f"{device_id}:{msg_id}",
        extra={
            "device": {
                "id": device.pk,
                "device_id": device.device_id,
                "kind": device.kind,
                "kind_display": device.get_kind_display(),
                "life_safety": device.life_safety,
                "resident_id": device.resident_id,
                "place_id": device.place_id,
                "building_id": device.building_id,
                "path": device.path,
                "message_id": msg_id,
                "type": alarm_type,
                "ts": stored["ts"],
                "battery": battery,
                "location_source": "message" if point else "registered",
            }
        },
    )
    try:
        event, created = _intake(event_input)
    except ServiceError as exc:
        if exc.code != "duplicate_key":
            raise
        # "<device_id>:<msg_id>" belongs to an event this device did not send (an account registered
        # one under it): the device may not see that event (services.replay_allowed), and its alarm must
        # neither be lost nor land on someone else's event. It goes in without the external id; the
        # per-device DeviceMessage row below still makes a redelivery a duplicate.
        log.warning("mqtt message id taken by another event device=%s", device_id)
        event_input.external_id = None
        event, created = _intake(event_input)
    with transaction.atomic():
        try:
            with transaction.atomic():
                DeviceMessage.objects.create(device=device, message_id=msg_id, payload=stored, event=event)
        except IntegrityError:
            return Result(status="duplicate", event_id=event.pk, device_id=device_id)
        Device.objects.filter(pk=device.pk).update(last_seen=now)
    started = False
    if watch:
        try:
            _, started = sos_watch_start(event=event)
        except ServiceError as exc:
            log.error("sos watch not started event=%s reason=%s", event.pk, exc.code)
    log.info(
        "mqtt event %s event=%s device=%s type=%s",
        "created" if created else "matched",
        event.pk,
        device_id,
        alarm_type,
    )
    return Result(
        status="created" if created else "duplicate", event_id=event.pk, device_id=device_id, sos_watch=watch
    )


# --- the subscriber ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_certs: str | None = None
    insecure: bool = False

    def safe(self) -> str:
        """For logs: never the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def broker_from_url(url: str) -> Broker:
    """mqtt://[user[:password]@]host[:port] or mqtts://…[?ca=/path/ca.pem&insecure=1]."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError("MQTT URL must start with mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    query = parse_qs(parts.query)
    ca = query.get("ca")
    return Broker(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
        ca_certs=ca[0] if ca else None,
        insecure=(query.get("insecure") or ["0"])[0] in ("1", "true", "yes"),
    )


def default_client_id() -> str:
    return f"wangge-mqtt-{socket.gethostname()}"[:64]


class MqttSubscriber:
    """The `wangge mqtt` loop. `run()` returns the counts of results when stopped (stop(), SIGTERM via
    the command, `once` messages handled, or `timeout` seconds)."""

    def __init__(
        self,
        *,
        url: str | None = None,
        prefix: str | None = None,
        client_id: str | None = None,
        clean_session: bool = False,
        once: int | None = None,
        handler: Callable[..., Result] = mqtt_handle,
        on_ready: Callable[[], None] | None = None,
        min_delay: float = 1.0,
        max_delay: float = 60.0,
        keepalive: int = 60,
    ) -> None:
        default_url: str = getattr(settings, "WANGGE_MQTT_URL", "mqtt://127.0.0.1:1883")
        self.broker = broker_from_url(url or default_url)
        self.prefix = (prefix if prefix is not None else topic_prefix()).strip("/")
        self.client_id = client_id or default_client_id()
        self.clean_session = clean_session
        self.once = once
        self.handler = handler
        self.on_ready = on_ready
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.keepalive = keepalive
        self.counts: Counter[str] = Counter()
        self.handled = 0
        self._stop = threading.Event()
        self._session_ok = False
        self._drop_connection = False

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _client(self) -> Any:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=self.clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,  # our loop reconnects, with backoff
            manual_ack=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.broker.ca_certs, cert_reqs=ssl.CERT_REQUIRED)
            if self.broker.insecure:
                client.tls_insecure_set(True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    # paho callbacks (VERSION2 signatures) -----------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("mqtt broker refused the connection: %s", reason_code)
            self._drop_connection = True
            return
        self._session_ok = True
        log.info("mqtt connected to %s as %s", self.broker.safe(), self.client_id)
        client.subscribe([(f, 1) for f in topic_filters(self.prefix)])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("mqtt subscription refused: %s", [str(rc) for rc in reason_codes])
            self._drop_connection = True
            return
        log.info("mqtt subscribed to %s (QoS 1)", ", ".join(topic_filters(self.prefix)))
        if self.on_ready is not None:
            self.on_ready()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if not self._stop.is_set():
            log.warning("mqtt disconnected: %s", reason_code)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if self._stop.is_set():
            return  # not acknowledged: the broker delivers it again to the next session
        if not connection.in_atomic_block:
            close_old_connections()  # a long-running process: drop dead or expired connections
        result = self.handler(topic=message.topic, payload=bytes(message.payload))
        self.counts[result.status] += 1
        if result.ack:
            client.ack(message.mid, message.qos)
            self.handled += 1
        else:
            # Leave it unacknowledged and reconnect: a persistent session gets it redelivered.
            self._drop_connection = True
        if self.once is not None and self.handled >= self.once:
            self._stop.set()

    # the loop -----------------------------------------------------------------------------------------

    def run(self, *, timeout: float | None = None) -> Counter[str]:
        import paho.mqtt.client as mqtt

        deadline = time.monotonic() + timeout if timeout else None
        client = self._client()
        delay = self.min_delay

        def expired() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        log.info("mqtt subscriber starting: %s", self.broker.safe())
        while not self._stop.is_set() and not expired():
            self._session_ok = self._drop_connection = False
            try:
                client.connect(self.broker.host, self.broker.port, keepalive=self.keepalive)
            except (OSError, ValueError) as exc:
                log.warning(
                    "mqtt broker %s unreachable (%s); retry in %.0fs",
                    self.broker.safe(),
                    type(exc).__name__,
                    delay,
                )
                self._stop.wait(
                    delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic()))
                )
                delay = min(delay * 2, self.max_delay)
                continue
            while not self._stop.is_set() and not expired() and not self._drop_connection:
                rc = client.loop(timeout=0.2)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    break
            if self._stop.is_set() or expired():
                break
            # Connection lost or dropped on purpose: back off (reset once a session had been accepted).
            delay = self.min_delay if self._session_ok else min(delay * 2, self.max_delay)
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
            log.warning("mqtt reconnecting in %.0fs", delay)
            self._stop.wait(delay)
        self._shutdown(client)
        log.info("mqtt subscriber stopped: %s", dict(self.counts))
        return self.counts

    def _shutdown(self, client: Any) -> None:
        import paho.mqtt.client as mqtt

        try:
            # Read what the broker already sent (messages arriving now stay unacknowledged and are
            # redelivered next time) and write the queued acknowledgements: closing a socket with unread
            # data makes the kernel reset the connection, and the broker could lose the last PUBACKs.
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
            client.disconnect()
            for _ in range(10):
                if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        except Exception:  # noqa: BLE001, S110 - shutting down anyway
            pass


def mqtt_run(
    *,
    url: str | None = None,
    once: int | None = None,
    client_id: str | None = None,
    timeout: float | None = None,
    on_ready: Callable[[], None] | None = None,
    clean_session: bool = False,
) -> Counter[str]:
    """Run the subscriber until stopped (what `wangge mqtt` does, minus the signal handling)."""
    sub = MqttSubscriber(
        url=url, once=once, client_id=client_id, on_ready=on_ready, clean_session=clean_session
    )
    return sub.run(timeout=timeout)
