"""`wangge check-grids [--community CODE] [--date YYYY-MM-DD] [--json]`: gaps and overlaps between sibling grids.

Exits 1 when any community has an overlap or a gap larger than the threshold (default 1 m²), 0 otherwise.
"""

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wangge.territory.coverage import MIN_AREA_M2, coverage_check
from wangge.territory.models import Level, Territory


class Command(BaseCommand):
    help = "检查各社区下属网格之间的缝隙与重叠（面积大于阈值即报告，有问题时退出码为 1）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--community", action="append", help="只检查该社区（12 位编码，可重复）")
        parser.add_argument("--date", help="检查该日生效的边界（YYYY-MM-DD，默认今天）")
        parser.add_argument("--min-area", type=float, default=MIN_AREA_M2, help="报告的最小面积（平方米）")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出")

    def handle(self, *args: Any, **options: Any) -> None:
        codes = options["community"]
        if codes:
            known = set(
                Territory.objects.filter(level=Level.COMMUNITY, code__in=codes).values_list("code", flat=True)
            )
            unknown = [c for c in codes if c not in known]
            if unknown:
                raise CommandError(f"社区不存在：{'、'.join(unknown)}")
        on = None
        if options["date"]:
            try:
                on = date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("日期格式应为 YYYY-MM-DD")
        report = coverage_check(community_codes=codes, on=on, min_area_m2=options["min_area"])
        problems = sum(len(c.overlaps) + len(c.gaps) for c in report)
        if options["json"]:
            self.stdout.write(json.dumps([c.as_dict() for c in report], ensure_ascii=False, indent=2))
        else:
            for c in report:
                if c.ok:
                    self.stdout.write(f"{c.code} {c.name}：{len(c.grid_codes)} 个网格，无缝隙、无重叠")
                    continue
                self.stdout.write(f"{c.code} {c.name}：{len(c.grid_codes)} 个网格")
                for o in c.overlaps:
                    self.stdout.write(f"  重叠 {o.codes[0]} × {o.codes[1]}：{o.area_m2:.1f} 平方米")
                for g in c.gaps:
                    around = "、".join(g.codes) or "—"
                    self.stdout.write(
                        f"  缝隙 {g.area_m2:.1f} 平方米，周边网格 {around}，位置 {g.point[0]:.6f},{g.point[1]:.6f}"
                    )
        if problems:
            raise CommandError(f"发现 {problems} 处缝隙或重叠", returncode=1)
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(f"检查了 {len(report)} 个社区，未发现缝隙或重叠"))
