"""(c) Dashboard query over 1,000,000 events: per-grid open/overdue counts.

Rows are spread over the demo grids like the demo's own events (≈10 % open, part of them past their
deadline) and written with COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone


def load(n: int, grids: list[Any], seed: int = 3) -> float:
    """Insert `n` events; returns seconds taken."""
    from wangge.events.models import Category, Event, Status

    rng = random.Random(seed)
    statuses = {s.code: s.pk for s in Status.objects.all()}
    closed = [statuses[c] for c in ("closed", "rated", "rated", "rated") if c in statuses]
    rejected = statuses.get("rejected", closed[0])
    open_ = [
        (statuses[c], stage)
        for c, stage in (
            ("pending", "accept"),
            ("accepted", "dispatch"),
            ("dispatched", "handle"),
            ("handling", "handle"),
            ("handling", "handle"),
            ("handled", "verify"),
        )
        if c in statuses
    ]
    cats = list(Category.objects.filter(parent__isnull=False).values_list("pk", flat=True))
    now = timezone.now()
    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    cols = [str(f.column) for f in fields]
    base = {f.attname: f.get_default() for f in fields}
    base.update(
        title="基准事件",
        description="基准事件描述",
        event_type="complaint",
        channel="api",
        extra={},
        level="grid",
        reporter_name_enc="",
        reporter_phone_enc="",
        reporter_phone_hash=None,
        idempotency_key=None,
        external_id=None,
        address="",
        rating="",
        reject_reason="",
    )
    sqlite = connection.vendor == "sqlite"
    ops = connection.ops
    dt = ops.adapt_datetimefield_value if sqlite else (lambda v: v)
    js = ops.adapt_json_value if sqlite else None
    grid_rows = [(g.node.pk, g.node.code, g.polygon.representative_point()) for g in grids]

    def rows():
        for i in range(n):
            gid, code, pt = grid_rows[i % len(grid_rows)]
            created = now - timedelta(minutes=rng.uniform(0, 365 * 24 * 60))
            r = dict(base)
            r.update(
                tracking_code=f"BN{i:010d}",
                grid_id=gid,
                path=code,
                lat=pt.y,
                lng=pt.x,
                category_id=cats[i % len(cats)],
                created_at=created,
                updated_at=created,
            )
            u = rng.random()
            if u < 0.10:
                status, stage = open_[i % len(open_)]
                deadline = now + timedelta(hours=rng.uniform(-240, 240))
                r.update(
                    status_id=status,
                    stage=stage,
                    stage_started_at=created,
                    deadline=deadline,
                    warn_at=deadline - timedelta(hours=4),
                    warning="red" if deadline < now else "none",
                )
            else:
                r.update(
                    status_id=closed[i % len(closed)] if u > 0.12 else rejected,
                    stage="",
                    closed_at=created + timedelta(days=2),
                    warning="none",
                )
            out = []
            for f in fields:
                v = r.get(f.attname)
                if v is not None and sqlite and f.get_internal_type() == "DateTimeField":
                    v = dt(v)
                elif f.get_internal_type() == "JSONField":
                    v = js(v, None) if js else "{}"
                out.append(v)
            yield out

    started = time.perf_counter()
    table = connection.ops.quote_name(Event._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in cols)
    with transaction.atomic(), connection.cursor() as cursor:
        if sqlite:
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(cols))})"
            batch: list[list[Any]] = []
            for row in rows():
                batch.append(row)
                if len(batch) == 20000:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
        else:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def equivalent_queryset(user: Any) -> Any:
    """The selector's own query (for EXPLAIN)."""
    from wangge.events.selectors import open_counts_queryset

    return open_counts_queryset(user=user)


def time_counts(user: Any, repeat: int = 7) -> tuple[list[float], list[dict[str, Any]]]:
    """Run the dashboard selector `repeat` times (the first one warms caches); milliseconds each."""
    from wangge.events import selectors

    fn = getattr(selectors, "open_counts_by_grid", None)
    times: list[float] = []
    rows: list[dict[str, Any]] = []
    for _ in range(repeat):
        t = time.perf_counter()
        rows = fn(user=user) if fn is not None else list(equivalent_queryset(user))
        times.append((time.perf_counter() - t) * 1000)
    return times, rows


def summary(times: list[float]) -> str:
    warm = times[1:] or times
    return f"first {times[0]:.0f} ms, then median {statistics.median(warm):.0f} ms (min {min(warm):.0f}, max {max(warm):.0f})"
