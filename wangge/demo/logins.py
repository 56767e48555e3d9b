"""The table of demo logins printed after `wangge demo` (also when --if-empty skips generation)."""

from __future__ import annotations

import re

from django.conf import settings

from wangge.accounts.models import User

MAIN_LOGINS = ["admin", "street1", "community1", "grid1", "grid2", "dept1", "member1", "resident1"]
NUMBERED = ("street", "community", "grid")


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def login_table() -> str:
    """A plain-text table of the main demo accounts as they are in the database, plus the numbered ones."""
    users = {u.username: u for u in User.objects.filter(username__in=MAIN_LOGINS).select_related("territory")}
    password = settings.DEMO_PASSWORD
    rows = [("用户名", "角色", "区划/网格", "密码")]
    for name in MAIN_LOGINS:
        u = users.get(name)
        if u is None:
            continue
        where = f"{u.territory.name}（{u.territory.code}）" if u.territory else "—"
        if u.department:
            where += f" · {u.department}"
        rows.append((name, u.get_role_display(), where, password))
    if len(rows) == 1:
        return "未找到演示账号（数据库中的数据不是由 wangge demo 生成的）。"
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = []
    for prefix in NUMBERED:
        numbers = [
            int(m.group(1))
            for name in User.objects.filter(username__startswith=prefix).values_list("username", flat=True)
            if (m := re.fullmatch(rf"{prefix}(\d+)", name))
        ]
        if numbers:
            counts.append(f"{prefix}1…{prefix}{max(numbers)}")
    if counts:
        lines.append(f"另有按编码顺序编号的账号：{'、'.join(counts)}（密码相同）。")
    return "\n".join(lines)
