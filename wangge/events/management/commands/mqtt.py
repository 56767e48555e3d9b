"""`wangge mqtt`: subscribe to sensor alarms and wearable SOS messages (see wangge.events.intake.mqtt).

Broker: settings.WANGGE_MQTT_URL (mqtt://user:password@host:1883, mqtts:// for TLS), or --url.
Stops cleanly on SIGTERM/SIGINT; `--once N` exits after N messages (tests, smoke checks).
"""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from wangge.events.intake.mqtt import MqttSubscriber, topic_filters


class Command(BaseCommand):
    help = "订阅 MQTT 传感器告警和一键呼叫消息，生成事件"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default=None, help="MQTT 服务器地址（默认 WANGGE_MQTT_URL）")
        parser.add_argument("--client-id", default=None, help="客户端 ID（持久会话按它保存离线消息）")
        parser.add_argument("--once", type=int, default=None, metavar="N", help="处理 N 条消息后退出")
        parser.add_argument("--timeout", type=float, default=None, help="最多运行的秒数（测试用）")
        parser.add_argument(
            "--clean-session", action="store_true", help="不使用持久会话（离线期间的消息不补发）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sub = MqttSubscriber(
            url=options["url"],
            client_id=options["client_id"],
            once=options["once"],
            clean_session=options["clean_session"],
        )
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: Any) -> None:
                sub.stop()

            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, on_signal)
        self.stdout.write(f"订阅 {sub.broker.safe()} {', '.join(topic_filters(sub.prefix))}")
        try:
            counts = sub.run(timeout=options["timeout"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "无消息"
        self.stdout.write(f"已停止：{summary}")
