"""`wangge demo`: fill an empty database with a deterministic demo district (T1–T3, B1–B4).

    wangge demo --seed 1 --residents 14300          # refuses a database that already has a district
    wangge demo --if-empty --seed 1                 # does nothing (but prints the logins) if it has one

The same seed and reference day give the same data; ages are counted back from the reference day
(`--today`, default: today), so the key groups match Liuhe's proportions on the day of generation.
"""

import time
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from wangge.demo.generators import generate
from wangge.demo.logins import login_table
from wangge.territory.models import Level, Territory


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError("--today 须为 YYYY-MM-DD 格式的日期")


class Command(BaseCommand):
    help = "生成演示数据（同一 seed 生成相同的数据）并列出演示账号"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="随机种子（默认 1）")
        parser.add_argument(
            "--residents", type=int, default=14300, help="全区居民人数（默认 14300，同六合社区）"
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="数据库已有区划时什么也不做（仍列出账号）"
        )
        parser.add_argument(
            "--events",
            type=int,
            default=None,
            help="演示事件数（默认按居民数折算：14300 人约 6000 件，为参照日前 6 个月）",
        )
        parser.add_argument("--quiet", action="store_true", help="只输出演示账号表")
        parser.add_argument(
            "--today", type=_day, default=None, help="计算年龄的参照日 YYYY-MM-DD（默认今天）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        quiet = options["quiet"]
        say = (lambda s: None) if quiet else self.stdout.write
        if options["residents"] < 0:
            raise CommandError("--residents 不能为负数")
        if options["events"] is not None and options["events"] < 0:
            raise CommandError("--events 不能为负数")
        if Territory.objects.filter(level=Level.DISTRICT).exists():
            if not options["if_empty"]:
                raise CommandError("数据库中已有区划数据；演示数据只能写入空库（加 --if-empty 可跳过）")
            say("数据库中已有区划数据，跳过演示数据生成。")
        else:
            today = options["today"] or timezone.localdate()
            say(f"生成演示数据：seed={options['seed']}，居民 {options['residents']} 人，年龄参照日 {today}")
            started = time.perf_counter()
            ctx = generate(
                seed=options["seed"],
                residents=options["residents"],
                today=today,
                password=settings.DEMO_PASSWORD,
                log=say,
                events=options["events"],
            )
            say(f"完成，用时 {time.perf_counter() - started:.1f} 秒：")
            say("  " + "，".join(f"{k} {v}" for k, v in ctx.counts.items()))
        self.stdout.write("\n演示账号：")
        self.stdout.write(login_table())
