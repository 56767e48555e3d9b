"""`wangge sweep`: run the periodic time-limit sweep (wangge.clock.sweep: generic deadlines and every
registered source — the events' warnings, 催办/督办, escalation, missed 报到, SOS watch — then notification
delivery) once, or every N seconds with --loop N.

The task worker has no scheduler. Embedded install: `wangge sweep --loop 60` beside `wangge serve`.
Production: a cron entry or systemd timer running `wangge sweep` every minute (one at a time).
"""

import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

COUNTS = (
    "yellow",
    "red",
    "escalated",
    "summons_missed",
    "notifications_queued",
    "notifications_sent",
    "notifications_failed",
    "notifications_dead",
)


class Command(BaseCommand):
    help = "运行一次时限巡检（预警、催办督办、自动上报、吹哨报到超时、一键呼叫值守、发送通知）"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", type=float, default=0, metavar="SECONDS", help="每隔若干秒重复运行")
        parser.add_argument("--now", default="", help="以指定时刻巡检（ISO 格式，用于补跑和测试）")

    def handle(self, *args: Any, **options: Any) -> None:
        from wangge.clock.sweep import clock_sweep

        now: datetime | None = None
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"])
            except ValueError:
                raise CommandError("--now 须为 ISO 时间，例如 2025-10-09T16:00:00+08:00")
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        interval = float(options["loop"] or 0)
        if interval and now is not None:
            raise CommandError("--loop 与 --now 不能同时使用")
        if interval and interval < 5:
            raise CommandError("--loop 间隔不能少于5秒")
        while True:
            started = time.monotonic()
            result = clock_sweep(now=now)
            # Lines the sources want shown (e.g. the exchange's imports whose worker died).
            for note in result.counts.get("notes") or []:
                self.stdout.write(f"  {note}")
            d = {key: result[key] for key in COUNTS}
            self.stdout.write(
                f"{timezone.localtime().strftime('%Y-%m-%d %H:%M:%S')} 黄色预警 {d['yellow']} 红色超期 {d['red']} "
                f"自动上报 {d['escalated']} 超时未报到 {d['summons_missed']} "
                f"通知 排队 {d['notifications_queued']} 已发 {d['notifications_sent']} 失败 {d['notifications_failed']}"
                f"（放弃 {d['notifications_dead']}）" + _sos(result.counts.get("sos"))
            )
            for error in result.errors:
                self.stderr.write(f"  错误: {error}")
            if not interval:
                return
            try:
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
            except KeyboardInterrupt:
                return


def _sos(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return " 一键呼叫 " + " ".join(f"{k}={v}" for k, v in value.items())
    return f" 一键呼叫 {value}"
