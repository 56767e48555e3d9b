"""Shared state of one demo run: the seed, per-domain random streams, and what earlier steps created.

Every domain draws from its own `random.Random` (and Faker) seeded with "<seed>:<domain>", so adding a
generator later (events) or changing one domain never shifts the data of another.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from faker import Faker
from shapely import prepared
from shapely.geometry import Point, Polygon

T = TypeVar("T")

# The day demo territory and assignments take effect. Fixed, so territory data never depends on the clock.
VALID_FROM = date(2024, 1, 1)
DISTRICT_CODE = "420802"
DISTRICT_NAME = "东宝区"
CITY = "湖北省荆门市"


@dataclass
class GridPlan:
    """A grid as generated: its node, polygon, roads and how many dwellings it should hold."""

    node: Any
    community: Any
    polygon: Polygon
    roads: list[str]
    weight: float = 1.0
    dedicated_unit: str = ""
    _inner: Any = None

    def inner(self) -> Any:
        """The polygon shrunk by ~8 m, prepared: points drawn from it are never on a shared edge."""
        if self._inner is None:
            shrunk = self.polygon.buffer(-0.00008)
            self._inner = prepared.prep(shrunk if not shrunk.is_empty else self.polygon)
        return self._inner


@dataclass
class DemoContext:
    seed: int
    residents: int
    today: date
    password: str
    log: Callable[[str], None] = print
    events: int | None = None  # how many events (None: scaled to the residents, see generators/events.py)
    counts: dict[str, int] = field(default_factory=dict)
    # territory
    district: Any = None
    streets: list[Any] = field(default_factory=list)
    communities: list[Any] = field(default_factory=list)
    community_polygons: dict[str, Polygon] = field(default_factory=dict)
    grids: list[GridPlan] = field(default_factory=list)
    # people plan and housing
    households: list[Any] = field(default_factory=list)
    compounds: list[Any] = field(default_factory=list)
    buildings: list[Any] = field(default_factory=list)
    dwellings: list[Any] = field(default_factory=list)
    # results others build on
    party_members: list[Any] = field(default_factory=list)
    users: dict[str, Any] = field(default_factory=dict)

    def rng(self, domain: str) -> random.Random:
        return random.Random(f"wangge-demo:{self.seed}:{domain}")

    def faker(self, domain: str) -> Faker:
        fake = Faker("zh_CN")
        fake.seed_instance(f"wangge-demo:{self.seed}:{domain}:faker")
        return fake

    def grid(self, code: str) -> GridPlan:
        for g in self.grids:
            if g.node.code == code:
                return g
        raise KeyError(code)


def point_in(
    rng: random.Random, grid: GridPlan, near: tuple[float, float] | None = None, radius: float = 0.0008
) -> tuple[float, float]:
    """A (lng, lat) strictly inside the grid (never on its edge), optionally within `radius` of `near`."""
    minx, miny, maxx, maxy = grid.polygon.bounds
    inner = grid.inner()
    for attempt in range(200):
        if near is not None and attempt < 100:
            x = near[0] + rng.uniform(-radius, radius)
            y = near[1] + rng.uniform(-radius, radius)
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(x, y)):
            return round(x, 7), round(y, 7)
    c = grid.polygon.representative_point()
    return c.x, c.y


def weighted_pick(rng: random.Random, items: Sequence[T], weight: Callable[[T], float], k: int) -> list[T]:
    """k items without replacement, each with probability proportional to its weight (Efraimidis–Spirakis).

    Items of weight 0 are never picked. The result keeps the order of `items`.
    """
    keyed = []
    for i, item in enumerate(items):
        w = weight(item)
        if w > 0:
            keyed.append((math.log(rng.random() or 1e-300) / w, i))
    keyed.sort(reverse=True)
    chosen = sorted(i for _, i in keyed[:k])
    return [items[i] for i in chosen]


def split(rng: random.Random, total: int, parts: int, spread: float = 0.4) -> list[int]:
    """`total` split into `parts` non-negative integers of roughly equal size (random within ±spread)."""
    if parts <= 0:
        return []
    weights = [1 + rng.uniform(-spread, spread) for _ in range(parts)]
    s = sum(weights)
    out = [int(total * w / s) for w in weights]
    for i in range(total - sum(out)):
        out[i % parts] += 1
    return out


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February that does not exist)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def chinese_number(n: int) -> str:
    """1..99 as Chinese numerals (第一, 第十二 …)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def unique_names(rng: random.Random, pool: Iterable[str], n: int) -> list[str]:
    """n distinct names drawn from `pool` (in random order); numbered variants when the pool runs out."""
    items = list(dict.fromkeys(pool))
    rng.shuffle(items)
    out = items[:n]
    i = 2
    while len(out) < n:
        out.extend(f"{name}{chinese_number(i)}" for name in items[: n - len(out)])
        i += 1
    return out
