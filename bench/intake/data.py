"""Reports for the intake benchmark: demo-like texts at points inside the demo district's grids."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

from wangge.demo.generators.base import point_in
from wangge.demo.generators.events import TEMPLATES

# Channels a REST client may name (open311 belongs to the Open311 endpoint and is refused on REST).
CHANNELS = ["resident", "hotline", "patrol", "api", "walk_in"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞鑫宇浩然子涵欣怡"


def reports(ctx: Any, n: int, seed: int = 11) -> list[dict[str, Any]]:
    """`n` EventInput keyword dicts: text from the demo templates, a point inside a grid (a third of them
    at a building, with its address), a named reporter with a phone (a tenth anonymous)."""
    rng = random.Random(seed)
    codes = list(TEMPLATES)
    buildings = [b for b in ctx.buildings if b.lat is not None]
    compounds = {c.pk: c for c in ctx.compounds}
    out = []
    for i in range(n):
        grid = rng.choice(ctx.grids)
        code = rng.choice(codes)
        building = rng.choice(buildings) if buildings and rng.random() < 0.33 else None
        compound = compounds.get(building.compound_id) if building else None
        road = rng.choice(grid.roads)
        text = rng.choice(TEMPLATES[code]).format(
            road=road,
            n=rng.randint(1, 300),
            compound=compound.name if compound else road,
            bldg=building.name if building else "",
            place=f"{road}{rng.randint(1, 300)}号店铺",
        )
        if building is not None:
            lng, lat, address = building.lng, building.lat, building.address
        else:
            (lng, lat), address = point_in(rng, grid), f"{road}{rng.randint(1, 300)}号附近"
        anonymous = rng.random() < 0.1
        out.append(
            {
                "description": f"{text}（#{i}）",
                "channel": rng.choice(CHANNELS),
                "lat": lat,
                "lng": lng,
                "address": address,
                "anonymous": anonymous,
                "reporter_name": "" if anonymous else rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2)),
                "reporter_phone": "" if anonymous else f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            }
        )
    return out


def below_critical(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reports whose text triage keeps below 特急 (the installation's urgency words; Django must be
    set up). For those Django sends the statements bare.py imitates; a 特急 report also starts the SOS
    watch (more statements and notifications), which the bare baseline does not do, so the CPU ratio
    to the baseline is taken on these."""
    from wangge.events.triage.classifier import suggest_urgency

    return [r for r in rows if suggest_urgency(r["description"]) != "critical"]


HOTLINE_HEADERS = ["工单编号", "来电时间", "来电人", "联系电话", "诉求内容", "事发地址", "经度", "纬度"]


def hotline_csv(rows: list[dict[str, Any]], prefix: str) -> bytes:
    """A 12345 work-order export (.csv) of the given reports."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HOTLINE_HEADERS)
    for i, r in enumerate(rows):
        w.writerow(
            [
                f"{prefix}{i:06d}",
                "2025-06-16 09:30",
                r["reporter_name"],
                r["reporter_phone"],
                r["description"],
                r["address"],
                r["lng"],
                r["lat"],
            ]
        )
    return buf.getvalue().encode("utf-8-sig")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "----wangge-bench-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, ctype) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
