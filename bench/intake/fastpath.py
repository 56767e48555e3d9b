"""The fast path of wangge/core/db against the limit, in one invocation (issue 17, item 5).

    DATABASE_URL=postgres://… .venv/bin/python bench/intake/fastpath.py [--pairs 3] [--create 200] [--detail 400]

On a throwaway PostgreSQL database (as run.py) with a small demo district, one gunicorn at a time, same
command line (`-w 2`, 127.0.0.1, closed loop at `--concurrency`, a new connection per request), serves
POST /api/v1/events/ and GET /api/v1/events/{id}/ as:

- `django`      — the application as deployed;
- `bare`        — bench/intake/bare.py: a minimal WSGI handler, no Django, the same SQL statements with
                  psycopg, the same JSON (the floor any implementation on this stack stands on);
- `-<piece>`    — the application with one fast-path piece of wangge/core/db switched off
                  (WANGGE_FAST_PATH_OFF=<piece>: the ordinary Django path answers instead).

Each round runs django, bare, django, -piece1, django, -piece2, …, django (the pieces in reverse order
every other round), so every other variant sits between two `django` runs and is compared with their
mean: paired, alternating. Reported per variant: CPU per request from /proc (gunicorn workers +
the PostgreSQL backends of the bench database, see cpu.py) and requests/s; then Django/bare ratios
against the targets (create ≤ 3×, detail ≤ 2.5×) and, per piece, the gain with the run-to-run spread.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE.parent))  # bench/: throwaway, import_residents

from throwaway import free_port, in_throwaway, stop_server  # noqa: E402

TARGET_CREATE_RATIO, TARGET_DETAIL_RATIO = 3.0, 2.5
TARGET_CREATE_RPS, TARGET_DETAIL_RPS = 200, 1000
PIECES = ["prepared", "insert_family", "related_json", "plain_get"]  # as wangge.core.db.PIECES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="rounds (each piece paired once per round)")
    parser.add_argument("--create", type=int, default=200, help="POSTs per measured phase")
    parser.add_argument("--detail", type=int, default=400, help="GETs per measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--pieces", default=",".join(PIECES), help="comma-separated; empty: none")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one create/detail")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("DATABASE_URL must name PostgreSQL (the bare baseline speaks psycopg)")
        return 2
    return in_throwaway(
        "wangge-bench-fastpath-", args.keep, lambda w, url, servers: run(args, w, url, servers)
    )


def setup() -> tuple[Any, str, list[int]]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0, interactive=False)
    import data as bench_data
    from rest_framework.authtoken.models import Token

    from wangge.accounts.roles import Role
    from wangge.accounts.services import user_create
    from wangge.demo.generators import generate
    from wangge.events import services

    ctx = generate(seed=1, residents=300, today=timezone.localdate(), password="bench-pass-123", events=0)
    user = user_create(
        username="bench",
        password="bench-pass-123",
        role=Role.DISTRICT_ADMIN,
        territory_id=ctx.district.pk,
        display_name="基准测试",
    )
    token = Token.objects.create(user=user).key
    ids = []
    for i, r in enumerate(bench_data.reports(ctx, 150, seed=3)):
        ev, _ = services.event_intake(data=services.EventInput(**r), actor=user, idempotency_key=f"seed-{i}")
        ids.append(ev.pk)
    return ctx, token, ids


def show_sql(ctx: Any, token: str, ids: list[int]) -> None:
    import data as bench_data
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    bodies = [json.dumps(r) for r in bench_data.reports(ctx, 2, seed=99)]
    client.post("/api/v1/events/", bodies[0], "application/json", HTTP_IDEMPOTENCY_KEY="sql-1")  # warm
    client.get(f"/api/v1/events/{ids[1]}/")
    for label, call in [
        (
            "create",
            lambda: client.post(
                "/api/v1/events/", bodies[1], "application/json", HTTP_IDEMPOTENCY_KEY="sql-2"
            ),
        ),
        ("detail", lambda: client.get(f"/api/v1/events/{ids[0]}/")),
    ]:
        with CaptureQueriesContext(connection) as q:
            resp = call()
        print(f"\n{label}: {resp.status_code}, {len(q.captured_queries)} statements")
        for s in q.captured_queries:
            print("  ", s["sql"][:3000])
        print("  body:", resp.content[:1500].decode())


def same_shape(a: Any, b: Any) -> bool:
    """The same keys at every level; a None (a null, or an empty list's element) matches anything."""
    if a is None or b is None:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return not a or not b or same_shape(a[0], b[0])
    return False


def shape(value: Any) -> Any:
    """The keys of a JSON answer, nested (lists by their first element), without the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def run(args: argparse.Namespace, workdir: Path, url: str, servers: list[subprocess.Popen]) -> int:
    ctx, token, ids = setup()
    from django.db import connection

    dbname = connection.settings_dict["NAME"]
    if args.show_sql:
        show_sql(ctx, token, ids)
        return 0
    import cpu
    import data as bench_data
    import loadgen

    reports = bench_data.below_critical(bench_data.reports(ctx, 5000, seed=21))  # same statements as bare
    connection.close()
    pieces = [p for p in args.pieces.split(",") if p]
    auth = {"Authorization": f"Token {token}"}
    counter = iter(range(10**9))
    run_id = os.getpid()

    def create(_: int) -> loadgen.Request:
        i = next(counter)
        body = json.dumps(reports[i % len(reports)], ensure_ascii=False).encode()
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": f"b-{run_id}-{i}"}
        return "POST", "/api/v1/events/", body, headers

    rng = random.Random(5)

    def detail(_: int) -> loadgen.Request:
        return "GET", f"/api/v1/events/{rng.choice(ids)}/", None, auth

    def serve(variant: str) -> dict[str, Any]:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "WANGGE_DEBUG": "0", "WANGGE_DATA_DIR": str(workdir)}
        env.pop("WANGGE_FAST_PATH_OFF", None)
        app, chdir = "wangge.wsgi", ROOT
        if variant == "bare":
            app, chdir = "bare:app", HERE
        elif variant.startswith("-"):
            env["WANGGE_FAST_PATH_OFF"] = variant[1:]
        gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        cmd = [str(gunicorn), app, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--timeout", "120"]
        log = open(workdir / f"gunicorn-{variant}.log", "ab")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(cmd, cwd=chdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        servers.append(proc)
        try:
            deadline = time.time() + 60
            while True:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{variant}: gunicorn did not start; see {workdir}")
                try:
                    if loadgen.run("probe", port, detail, concurrency=1, max_requests=1, max_seconds=5).ok:
                        break
                except OSError:
                    pass
                time.sleep(0.3)
            # Warm-up: every worker imports, compiles and connects before the meter starts.
            loadgen.run("warm", port, create, concurrency=args.concurrency, max_requests=150, max_seconds=30)
            loadgen.run("warm", port, detail, concurrency=args.concurrency, max_requests=200, max_seconds=30)
            out: dict[str, Any] = {}
            for kind, make in (("create", create), ("detail", detail)):
                probe = loadgen.run(kind, port, make, concurrency=1, max_requests=1, keep_bodies=True)
                out[f"{kind}_shape"] = shape(json.loads(probe.bodies[0])) if probe.bodies else None
            meter = cpu.Meter(proc.pid, dbname)
            for kind, make, n in (("create", create, args.create), ("detail", detail, args.detail)):
                meter.start()
                res = loadgen.run(
                    kind, port, make, concurrency=args.concurrency, max_requests=n, max_seconds=60
                )
                used = meter.stop(res.ok + sum(v for k, v in res.statuses.items() if k not in (200, 201)))
                bad = {k: v for k, v in res.statuses.items() if k not in (200, 201)}
                if bad or res.errors:
                    print(f"    {variant} {kind}: statuses {res.statuses}, errors {res.errors}")
                out[kind] = (used, res.rate)
            return out
        finally:
            stop_server(proc)
            log.close()

    from collections import defaultdict

    results: dict[str, dict[str, list[tuple[Any, float]]]] = defaultdict(lambda: defaultdict(list))
    pairs: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    print(
        f"fast path vs bare, {args.pairs} rounds; {args.workers} gunicorn workers, concurrency "
        f"{args.concurrency}, {args.create} creates + {args.detail} details per phase; load average "
        f"{os.getloadavg()[0]:.1f} (the machine is shared: figures taken under others' load)"
    )
    for r in range(args.pairs):
        order = ["bare", *(pieces if r % 2 == 0 else pieces[::-1])]
        prev = serve("django")
        record("django", prev, results, r)
        if r == 0:
            shapes = prev
        for variant in order:
            v = "bare" if variant == "bare" else f"-{variant}"
            got = serve(v)
            record(v, got, results, r)
            if v == "bare" and r == 0:
                for kind in ("create", "detail"):
                    same = got[f"{kind}_shape"] is not None and same_shape(
                        got[f"{kind}_shape"], shapes[f"{kind}_shape"]
                    )
                    print(f"    bare {kind} JSON keys {'the same as' if same else 'DIFFER from'} django's")
                    if not same:
                        print(
                            f"      django: {shapes[f'{kind}_shape']}\n      bare:   {got[f'{kind}_shape']}"
                        )
            nxt = serve("django")
            record("django", nxt, results, r)
            for kind in ("create", "detail"):
                on = (prev[kind][0].total + nxt[kind][0].total) / 2
                pairs[v][kind].append((on, got[kind][0].total))
            prev = nxt
    report(results, pairs)
    return 0


def record(variant: str, got: dict[str, Any], results: Any, r: int) -> None:
    line = "; ".join(f"{k} {got[k][0].line()}, {got[k][1]:,.0f}/s" for k in ("create", "detail"))
    print(f"  round {r + 1} {variant:>14}: {line}", flush=True)
    for kind in ("create", "detail"):
        results[variant][kind].append(got[kind])


def _spread(xs: list[float]) -> str:
    return f"{statistics.fmean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def report(results: Any, pairs: Any) -> None:
    print("\nSUMMARY (ms of CPU per request, application + PostgreSQL; mean ± stdev over runs)")
    for variant, kinds in results.items():
        cells = []
        for kind, values in kinds.items():
            tot = [c.total for c, _ in values]
            app = [c.app for c, _ in values]
            rates = [rate for _, rate in values]
            cells.append(
                f"{kind} {_spread(tot)} (app {statistics.fmean(app):.2f}), "
                f"{statistics.fmean(rates):,.0f}/s (max {max(rates):,.0f})"
            )
        print(f"  {variant:>14}: " + "; ".join(cells))
    if "bare" in pairs:
        print("\nDjango / bare, paired (each bare run against the mean of the django runs around it):")
        for kind, target in (("create", TARGET_CREATE_RATIO), ("detail", TARGET_DETAIL_RATIO)):
            ratios = [on / bare for on, bare in pairs["bare"][kind]]
            ok = statistics.fmean(ratios) <= target
            print(
                f"  {'PASS' if ok else 'FAIL'} {kind}: {_spread(ratios)}× (runs: "
                f"{', '.join(f'{x:.2f}' for x in ratios)}; target ≤ {target}×)"
            )
        for kind, target in (("create", TARGET_CREATE_RPS), ("detail", TARGET_DETAIL_RPS)):
            best = max(rate for _, rate in results["django"][kind])
            print(
                f"  {'PASS' if best >= target else 'FAIL'} {kind} fastest django phase {best:,.0f}/s (≥ {target}/s)"
            )
    print("\nEach piece: CPU per request with it on (mean of the django runs around) and off, per pair;")
    print("gain = off − on; noise = stdev of the differences between consecutive django runs.")
    for kind in ("create", "detail"):
        noise = statistics.stdev(
            [
                b.total - a.total
                for (a, _), (b, _) in zip(
                    results["django"][kind][:-1], results["django"][kind][1:], strict=True
                )
            ]
        )
        print(f"  {kind}: django run-to-run noise (stdev of consecutive differences) {noise:.2f} ms")
        for variant, kinds in pairs.items():
            if variant == "bare":
                continue
            gains = [off - on for on, off in kinds[kind]]
            sides = ", ".join(f"{on:.2f}/{off:.2f}" for on, off in kinds[kind])
            mean = statistics.fmean(gains)
            verdict = "above noise" if abs(mean) > noise and all(g > 0 for g in gains) else "within noise"
            print(f"    {variant:>14}: on/off {sides}; gain {mean:+.2f} ms ({verdict})")


if __name__ == "__main__":
    sys.exit(main())
