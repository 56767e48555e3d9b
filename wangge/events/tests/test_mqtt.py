"""MQTT intake (E1/I3): the pure handler, and the subscriber through a real broker on loopback."""

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError

from wangge.conftest import centre
from wangge.events.common import event_scope_path
from wangge.events.intake import mqtt
from wangge.events.intake.mqtt import MqttSubscriber, broker_from_url, mqtt_handle, parse_topic
from wangge.events.models import Device, DeviceMessage, Event, SosWatch
from wangge.events.sos.devices import device_deactivate
from wangge.events.tests.test_devices import make_devworld
from wangge.territory.coords import wgs84_to_gcj02

MOSQUITTO = "/usr/sbin/mosquitto"


@pytest.fixture
def devworld(world):
    return make_devworld(world)


def msg(**fields: Any) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


# --- pure handler ---------------------------------------------------------------------------------------


def test_topic_and_url_parsing(settings):
    assert parse_topic("wangge/devices/SMK-1/alarm") == ("SMK-1", "alarm")
    assert parse_topic("wangge/devices/W-1/sos") == ("W-1", "sos")
    for bad in (
        "wangge/devices/SMK-1/other",
        "wangge/devices//alarm",
        "other/SMK-1/alarm",
        "wangge/devices/a/b/sos",
    ):
        assert parse_topic(bad) is None
    settings.WANGGE_MQTT_TOPIC_PREFIX = "city/iot/"
    assert parse_topic("city/iot/X/sos") == ("X", "sos")
    assert mqtt.topic_filters() == ["city/iot/+/alarm", "city/iot/+/sos"]
    b = broker_from_url("mqtts://iot%40user:p%3Ass@broker.example:8884?ca=/etc/ca.pem")
    assert (b.host, b.port, b.username, b.password, b.tls, b.ca_certs) == (
        "broker.example",
        8884,
        "iot@user",
        "p:ss",
        True,
        "/etc/ca.pem",
    )
    assert "p:ss" not in b.safe() and "p%3Ass" not in b.safe()
    assert broker_from_url("mqtt://127.0.0.1").port == 1883 and broker_from_url("mqtts://h").port == 8883
    with pytest.raises(ValueError):
        broker_from_url("http://h")


def test_smoke_alarm_from_shop(devworld):
    w = devworld.world
    r = mqtt_handle(
        topic="wangge/devices/SMK-0001/alarm",
        payload=msg(msg_id="m1", type="smoke", ts=1760000000, battery=87),
    )
    assert r.status == "created" and r.ack and r.sos_watch
    e = Event.objects.select_related("category", "status").get(pk=r.event_id)
    assert e.channel == "sensor" and e.external_id == "SMK-0001:m1"
    assert e.category.code == "0501" and e.urgency == "critical" and e.event_type == "help"
    # Location from the place the detector is bound to.
    assert (e.lat, e.lng) == (devworld.p1.lat, devworld.p1.lng) and e.path == w.g112.code
    assert e.extra["device"]["device_id"] == "SMK-0001" and e.extra["device"]["battery"] == 87
    assert e.extra["device"]["ts"].startswith("2025-10-09T08:53:20")
    dm = DeviceMessage.objects.get()
    assert dm.event_id == e.pk and dm.message_id == "m1" and dm.payload["type"] == "smoke"
    assert SosWatch.objects.filter(event=e).exists()  # life-safety device
    assert Device.objects.get(pk=devworld.smoke.pk).last_seen is not None


def test_water_alarm_not_life_safety_uses_building(devworld):
    r = mqtt_handle(
        topic="wangge/devices/H2O-0001/alarm", payload=msg(msg_id=17, type="water", ts="2025-10-01T03:00:00")
    )
    assert r.status == "created" and not r.sos_watch
    e = Event.objects.select_related("category").get(pk=r.event_id)
    assert e.urgency == "urgent" and e.category.code == "0603" and e.channel == "sensor"
    assert e.building_id == devworld.b1.pk and (e.lat, e.lng) == (devworld.b1.lat, devworld.b1.lng)
    assert e.address == "六合小区1栋" and e.path == devworld.world.g111.code
    assert e.extra["device"]["ts"] == "2025-10-01T03:00:00+08:00"
    assert not SosWatch.objects.exists()


def test_sos_from_wearable_with_gps_and_fallback(devworld):
    w = devworld.world
    # A GCJ-02 fix (as phones report it) inside g121: converted to WGS-84 and located there.
    lat, lng = centre(2, 0)
    glng, glat = wgs84_to_gcj02(lng, lat)
    r = mqtt_handle(
        topic="wangge/devices/W-0001/sos",
        payload=msg(
            msg_id="s1", ts="2025-10-01T03:12:00+08:00", lat=glat, lng=glng, crs="gcj02", text="摔倒了"
        ),
    )
    assert r.status == "created" and r.sos_watch
    e = Event.objects.select_related("category").get(pk=r.event_id)
    assert e.channel == "sos" and e.category.code == "0502" and e.urgency == "critical"
    assert abs(e.lat - lat) < 1e-6 and abs(e.lng - lng) < 1e-6 and e.path == w.g121.code
    assert "摔倒了" in e.description and "王奶奶" not in e.description and e.anonymous
    assert (
        e.extra["device"]["resident_id"] == devworld.r1.pk
        and e.extra["device"]["location_source"] == "message"
    )
    # g121 has no grid worker on duty: step 1 is recorded as skipped, the community is alerted at once.
    watch = SosWatch.objects.get(event=e)
    assert watch.step == 2 and watch.acknowledged_at is None
    assert list(e.timeline.filter(action__startswith="sos").values_list("action", flat=True)) == [
        "sos_skip",
        "sos_start",
    ]
    # No fix in the message: the resident's home building.
    r2 = mqtt_handle(topic="wangge/devices/W-0001/sos", payload=msg(msg_id="s2"))
    e2 = Event.objects.get(pk=r2.event_id)
    assert e2.building_id == devworld.b1.pk and e2.path == w.g111.code and e2.urgency == "critical"
    assert e2.extra["device"]["location_source"] == "registered" and e2.extra["device"]["ts"] is None


def test_duplicate_message_makes_one_event(devworld):
    payload = msg(msg_id="dup-1", type="gas")
    first = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=payload)
    second = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=payload)
    assert first.status == "created" and second.status == "duplicate" and second.ack
    assert first.event_id == second.event_id
    assert Event.objects.count() == 1 and DeviceMessage.objects.count() == 1 and SosWatch.objects.count() == 1
    # The same msg_id from another device is another message.
    third = mqtt_handle(topic="wangge/devices/H2O-0001/alarm", payload=payload)
    assert third.status == "created" and Event.objects.count() == 2
    # Recovery: the event exists but the DeviceMessage was never written (crash between the two).
    DeviceMessage.objects.filter(device=devworld.water).delete()
    again = mqtt_handle(topic="wangge/devices/H2O-0001/alarm", payload=payload)
    assert again.event_id == third.event_id and Event.objects.count() == 2
    assert DeviceMessage.objects.filter(device=devworld.water).count() == 1


def test_dropped_messages_never_crash_and_log_no_personal_data(devworld, caplog):
    caplog.set_level(logging.INFO, logger="wangge.events.intake.mqtt")
    device_deactivate(actor=devworld.world.users.admin, device=devworld.water)
    secret = "我的电话13812345678"
    cases = [
        ("wangge/devices/NOPE/alarm", msg(msg_id="1", type="smoke", text=secret), "unknown_device"),
        ("wangge/devices/H2O-0001/alarm", msg(msg_id="1", type="water", text=secret), "inactive_device"),
        ("wangge/devices/SMK-0001/alarm", b'{"msg_id": "1", "text": "' + secret.encode() + b'"', "bad_json"),
        ("wangge/devices/SMK-0001/alarm", b"\xff\xfe\x00", "bad_json"),
        ("wangge/devices/SMK-0001/alarm", b"[1, 2]", "bad_json"),
        ("wangge/devices/SMK-0001/alarm", msg(type="smoke", text=secret), "missing_msg_id"),
        ("wangge/devices/SMK-0001/alarm", msg(msg_id="  ", type="smoke"), "missing_msg_id"),
        ("wangge/devices/SMK-0001/alarm", msg(msg_id=True, type="smoke"), "missing_msg_id"),
        ("wangge/devices/SMK-0001/alarm", msg(msg_id="x" * 101), "msg_id_too_long"),
        ("wangge/devices/SMK-0001/alarm", b" " * (mqtt.MAX_PAYLOAD_BYTES + 1), "payload_too_large"),
        ("wangge/devices/SMK-0001/reboot", msg(msg_id="1"), "bad_topic"),
    ]
    for topic, payload, reason in cases:
        r = mqtt_handle(topic=topic, payload=payload)
        assert (r.status, r.reason, r.ack) == ("dropped", reason, True), (topic, r)
    assert Event.objects.count() == 0 and DeviceMessage.objects.count() == 0
    assert "13812345678" not in caplog.text and secret not in caplog.text
    assert caplog.text.count("mqtt message dropped") == len(cases)


def test_heartbeat_and_unreadable_fields(devworld):
    r = mqtt_handle(topic="wangge/devices/H2O-0001/alarm", payload=msg(msg_id="hb", type="heartbeat"))
    assert r.status == "heartbeat" and Event.objects.count() == 0
    assert Device.objects.get(pk=devworld.water.pk).last_seen is not None
    # Garbage in optional fields is ignored, not fatal; the registered location is used.
    r = mqtt_handle(
        topic="wangge/devices/H2O-0001/alarm",
        payload=msg(msg_id="g", type="water", ts="yesterday", lat="north", lng=None, battery="full"),
    )
    e = Event.objects.get(pk=r.event_id)
    assert e.extra["device"]["ts"] is None and e.extra["device"]["battery"] is None and e.building_id
    # Epoch milliseconds.
    r = mqtt_handle(topic="wangge/devices/H2O-0001/alarm", payload=msg(msg_id="ms", ts=1760000000000))
    assert (
        Event.objects.get(pk=r.event_id).extra["device"]["ts"]
        == datetime.fromtimestamp(1760000000, UTC).isoformat()
    )


def test_database_failure_is_not_acknowledged(devworld, monkeypatch):
    def broken(**kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(mqtt, "_handle", broken)
    r = mqtt_handle(topic="wangge/devices/SMK-0001/alarm", payload=msg(msg_id="m1"))
    assert r.status == "error" and not r.ack


# --- through a real broker ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """A private mosquitto on loopback (a free port, anonymous, in memory)."""

    def __init__(self, tmp_path: Path) -> None:
        self.exe = MOSQUITTO if os.path.exists(MOSQUITTO) else str(shutil.which("mosquitto"))
        self.port = _free_port()
        self.conf = tmp_path / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - a fixed local binary
            [self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    self.stop()
                    pytest.fail(f"mosquitto did not start: {err[:500]}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """Started before the test, killed after it. Skipped (with the reason) if mosquitto is not installed,
    unless WANGGE_REQUIRE_MQTT=1 (CI), where its absence is a failure."""
    if not (os.path.exists(MOSQUITTO) or shutil.which("mosquitto")):
        if os.environ.get("WANGGE_REQUIRE_MQTT") == "1":
            pytest.fail(f"WANGGE_REQUIRE_MQTT=1 but {MOSQUITTO} is not installed")
        pytest.skip(
            f"{MOSQUITTO} not installed (Debian package mosquitto); set WANGGE_REQUIRE_MQTT=1 to require it"
        )
    server = Mosquitto(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(mosquitto: Mosquitto) -> str:
    return mosquitto.url


def _publish(
    url: str, messages: list[tuple[str, bytes]], *, wait_for: threading.Event | None = None
) -> list[str]:
    """Publish with QoS 1 (waiting for each PUBACK); returns errors (asserted by the caller)."""
    import paho.mqtt.client as paho

    errors: list[str] = []
    if wait_for is not None and not wait_for.wait(15):
        return ["subscriber never became ready"]
    b = broker_from_url(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.monotonic_ns()}")
    client.connect(b.host, b.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(timeout=10)
            if not info.is_published():
                errors.append(f"not published: {topic}")
    finally:
        client.disconnect()
        client.loop_stop()
    return errors


def test_broker_duplicate_delivery_makes_one_event(devworld, broker):
    """Subscriber (the loop `wangge mqtt` runs) in the test thread; a publisher thread sends the same
    QoS 1 message twice (a redelivery) → exactly one event and one DeviceMessage."""
    ready = threading.Event()
    payload = msg(msg_id="b-1", type="smoke", ts="2025-10-01T02:00:00+08:00")
    errors: list[str] = []
    topic = "wangge/devices/SMK-0001/alarm"
    pub = threading.Thread(
        target=lambda: errors.extend(_publish(broker, [(topic, payload), (topic, payload)], wait_for=ready))
    )
    pub.start()
    sub = MqttSubscriber(
        url=broker, client_id="wangge-test-sub", clean_session=True, once=2, on_ready=ready.set
    )
    counts = sub.run(timeout=20)
    pub.join(20)
    assert errors == []
    assert dict(counts) == {"created": 1, "duplicate": 1}
    e = Event.objects.get()
    assert e.external_id == "SMK-0001:b-1" and e.channel == "sensor" and e.urgency == "critical"
    assert list(DeviceMessage.objects.values_list("message_id", "event_id")) == [("b-1", e.pk)]
    assert SosWatch.objects.filter(event=e).count() == 1


def test_broker_command_receives_messages_sent_while_down(devworld, broker):
    """`wangge mqtt --once N` with a persistent session: QoS 1 messages published while the subscriber
    was away are delivered when it comes back."""
    cid = "wangge-test-cmd"
    first = MqttSubscriber(url=broker, client_id=cid, clean_session=False)
    first.on_ready = first.stop  # register the session and subscriptions, then go away
    first.run(timeout=15)
    assert first.stopped
    errors = _publish(
        broker,
        [
            ("wangge/devices/W-0001/sos", msg(msg_id="off-1", text="救命")),
            ("wangge/devices/NOPE/alarm", msg(msg_id="x")),  # unknown device: dropped, still acknowledged
        ],
    )
    assert errors == []
    call_command("mqtt", "--url", broker, "--client-id", cid, "--once", "2", "--timeout", "20")
    e = Event.objects.get()
    assert e.channel == "sos" and e.external_id == "W-0001:off-1"
    assert event_scope_path(e) == devworld.world.g111.code
    assert SosWatch.objects.get(event=e).step == 1
    # Acknowledged: a new session with the same id gets nothing more (no redelivery, no second event).
    again = MqttSubscriber(url=broker, client_id=cid, clean_session=False, once=1)
    counts = again.run(timeout=1.5)
    assert sum(counts.values()) == 0 and Event.objects.count() == 1


def test_subscriber_reconnects_after_broker_restart(devworld, mosquitto):
    """The broker goes away and comes back on the same port: the subscriber reconnects (with backoff),
    subscribes again, and handles what is published afterwards."""
    subscribed = threading.Semaphore(0)
    errors: list[str] = []

    def chaos() -> None:
        if not subscribed.acquire(timeout=15):
            errors.append("never subscribed")
            return
        mosquitto.stop()
        time.sleep(0.3)
        mosquitto.start()
        if not subscribed.acquire(timeout=15):
            errors.append("never subscribed again")
            return
        errors.extend(
            _publish(mosquitto.url, [("wangge/devices/SMK-0001/alarm", msg(msg_id="after", type="smoke"))])
        )

    helper = threading.Thread(target=chaos)
    helper.start()
    sub = MqttSubscriber(url=mosquitto.url, client_id="wangge-test-re", once=1, on_ready=subscribed.release)
    sub.min_delay = 0.1
    counts = sub.run(timeout=25)
    helper.join(20)
    assert errors == [] and dict(counts) == {"created": 1}
    assert Event.objects.get().external_id == "SMK-0001:after"


def test_subscriber_without_broker_gives_up_at_timeout(db):
    port = _free_port()  # nothing listens there
    sub = MqttSubscriber(
        url=f"mqtt://127.0.0.1:{port}", client_id="wangge-test-none", min_delay=0.1, max_delay=0.2
    )
    started = time.monotonic()
    counts = sub.run(timeout=0.8)
    assert sum(counts.values()) == 0 and time.monotonic() - started < 5


def test_command_stops_cleanly_on_sigterm(broker):
    """`wangge mqtt` as a real process: connects, and exits 0 with its summary on SIGTERM."""
    import signal
    import sys

    env = {**os.environ, "WANGGE_LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
        [
            sys.executable,
            "-u",
            "-m",
            "wangge.manage",
            "mqtt",
            "--url",
            broker,
            "--client-id",
            "wangge-test-term",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(30, proc.kill)  # never hang the suite
    watchdog.start()
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until it is connected and subscribed
            seen.append(line)
            if "mqtt subscribed" in line:
                break
        assert any("mqtt subscribed" in line for line in seen), "".join(seen)[-2000:]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "订阅" in out and "已停止" in out and "mqtt subscriber stopped" in err
