"""Worker CPU per API request with the middleware of 485694e ("old") against the current settings ("new").

Both sides run in ONE process, through a full `django.core.handlers.wsgi.WSGIHandler` built under each
side's MIDDLEWARE / AUTHENTICATION_BACKENDS (override_settings), alternating in blocks of `--block`
requests (ABBA order, so neither side always runs first): the machine's speed drifts by up to 2x within
an hour, so figures from separate runs are not comparable. CPU is this process's `time.process_time()`
(the database server's CPU is not counted). Measured:

- GET /api/v1/events/{id}/ with `Authorization: Token …` (answered by events/api/plain_get.py);
- POST /api/v1/events/ of one report (JSON, a new Idempotency-Key each time).

With `--each`, every middleware (and the django-axes backend) added since 485694e is also measured on
its own: old + that one against old, paired the same way.

The database is DATABASE_URL (migrated here; a small demo district is generated if it holds none), or a
temporary SQLite file with `--sqlite`. Usage:

    DATABASE_URL=postgres://… .venv/bin/python bench/middleware_cost.py [--each] [--requests 1000]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "intake"))  # bench/intake/data.py: demo-like reports

# settings.MIDDLEWARE and AUTHENTICATION_BACKENDS at 485694e, before the security middlewares.
OLD_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wangge.core.middleware.RequestContextMiddleware",
]
OLD_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AXES_BACKEND = "axes.backends.AxesStandaloneBackend"

Config = dict[str, list[str]]
Request = Callable[[int], dict[str, Any]]


def environ(method: str, path: str, token: str, body: bytes = b"", **extra: str) -> dict[str, Any]:
    """A WSGI environ as gunicorn hands it over (plain http on 127.0.0.1)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    env.update(extra)
    return env


class Side:
    """One configuration: its settings and the WSGI handler built under them."""

    def __init__(self, name: str, config: Config) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import override_settings

        self.name = name
        self.override = override_settings(**config)
        with self.override:
            self.handler = WSGIHandler()  # its __init__ runs load_middleware() under this side's settings

    def run(self, make: Request, start: int, n: int, expect: int) -> float:
        """CPU seconds for requests start..start+n-1 (one untimed request first: settings switch)."""
        with self.override:
            self.call(make(start - 1), expect)
            t = time.process_time()
            for i in range(start, start + n):
                self.call(make(i), expect)
            return time.process_time() - t

    def call(self, env: dict[str, Any], expect: int) -> None:
        status: list[str] = []

        def start_response(
            s: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            status.append(s)
            return lambda data: None

        result = self.handler(env, start_response)
        body = b""
        try:
            for chunk in result:
                body += chunk
        finally:
            result.close()  # type: ignore[attr-defined]  # request_finished, as gunicorn does
        if not status[0].startswith(str(expect)):
            raise SystemExit(
                f"{env['REQUEST_METHOD']} {env['PATH_INFO']}: {status[0]} (expected {expect}) {body[:300]!r}"
            )


def paired(
    a: Side, b: Side, make: Request, expect: int, *, requests: int, block: int, reps: int, counter: list[int]
) -> tuple[list[float], list[float]]:
    """Per repetition, µs/request of `a` and of `b`, alternating in blocks (ABBA)."""
    out_a: list[float] = []
    out_b: list[float] = []
    for _ in range(reps):
        cpu = {a.name: 0.0, b.name: 0.0}
        for k in range(requests // block):
            for side in (a, b) if k % 2 == 0 else (b, a):
                cpu[side.name] += side.run(make, counter[0] + 1, block, expect)
                counter[0] += block + 1
        n = (requests // block) * block
        out_a.append(cpu[a.name] / n * 1e6)
        out_b.append(cpu[b.name] / n * 1e6)
    return out_a, out_b


def line(label: str, a: list[float], b: list[float]) -> str:
    ma, mb = statistics.median(a), statistics.median(b)
    diffs = sorted(y - x for x, y in zip(a, b, strict=True))
    reps = " ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(a, b, strict=True))
    return (
        f"  {label:<44} {ma:8.0f} {mb:8.0f} {mb - ma:+7.0f} µs {(mb - ma) / ma:+6.1%}"
        f"   (per rep old/new: {reps}; diff range {diffs[0]:+.0f}..{diffs[-1]:+.0f})"
    )


def setup_world(residents: int) -> tuple[str, list[int], list[dict[str, Any]]]:
    """A token of a district admin, ids of events it sees, and reports to create."""
    import data as bench_data
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from wangge.accounts.models import User
    from wangge.accounts.roles import Role
    from wangge.accounts.services import user_create
    from wangge.demo.generators import generate
    from wangge.events import services
    from wangge.events.models import Event
    from wangge.territory.models import Level, Territory

    call_command("migrate", verbosity=0, interactive=False)
    ctx: Any = None
    if not Territory.objects.filter(level=Level.GRID).exists():
        ctx = generate(
            seed=1, residents=residents, today=timezone.localdate(), password="bench-pass-123", events=0
        )
    user = User.objects.filter(username="bench-mw").first()
    if user is None:
        district = Territory.objects.filter(level=Level.DISTRICT).order_by("pk").first()
        assert district is not None
        user = user_create(
            username="bench-mw",
            password="bench-pass-123",
            role=Role.DISTRICT_ADMIN,
            territory_id=district.pk,
            display_name="中间件基准",
        )
    token = Token.objects.get_or_create(user=user)[0].key
    if ctx is not None:
        reports = bench_data.reports(ctx, 200, seed=7)
    else:  # the district of an earlier run: its reports again (a new Idempotency-Key makes each new)
        fields = ("description", "channel", "lat", "lng", "address")
        reports = [dict(zip(fields, row, strict=True)) for row in Event.objects.values_list(*fields)[:200]]
        if not reports:
            raise SystemExit("the database holds a district but no events: use an empty database")
    for r in reports:  # the open311 channel is only for /open311/v2/ (the API answers 400)
        if r["channel"] == "open311":
            r["channel"] = "api"
    ids = [
        services.event_intake(
            data=services.EventInput(**r), actor=user, idempotency_key=f"mw-{os.getpid()}-{i}"
        )[0].pk
        for i, r in enumerate(reports[:40])
    ]
    return token, ids, reports


def new_middlewares(current: Iterable[str]) -> list[str]:
    return [m for m in current if m not in OLD_MIDDLEWARE]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per side per repetition")
    parser.add_argument("--block", type=int, default=50, help="requests per block (sides alternate)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (the median is reported)")
    parser.add_argument("--each", action="store_true", help="also each new middleware on its own (GET)")
    parser.add_argument("--each-create", action="store_true", help="with --each, also for the create")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file, not DATABASE_URL")
    parser.add_argument("--residents", type=int, default=300, help="demo district size when generated")
    parser.add_argument("--skip-create", action="store_true", help="measure only the detail GET")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="wangge-mw-")
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.setdefault("WANGGE_DATA_DIR", tmp.name)
    os.environ["WANGGE_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    # Reports the triage takes for SOS log a warning each: not what is measured, and it floods the output.
    logging.disable(logging.WARNING)
    token, ids, reports = setup_world(args.residents)
    new_mw = list(settings.MIDDLEWARE)
    old: Config = {"MIDDLEWARE": OLD_MIDDLEWARE, "AUTHENTICATION_BACKENDS": OLD_BACKENDS}
    new: Config = {"MIDDLEWARE": new_mw, "AUTHENTICATION_BACKENDS": list(settings.AUTHENTICATION_BACKENDS)}
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']}; {args.requests} requests per side "
        f"× {args.reps} repetitions, blocks of {args.block}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )

    def get(i: int) -> dict[str, Any]:
        return environ("GET", f"/api/v1/events/{ids[i % len(ids)]}/", token)

    run_id = f"{os.getpid()}-{time.time_ns()}"

    def create(i: int) -> dict[str, Any]:
        body = json.dumps(reports[i % len(reports)], ensure_ascii=False).encode()
        return environ("POST", "/api/v1/events/", token, body, HTTP_IDEMPOTENCY_KEY=f"mw-{run_id}-{i}")

    counter = [0]
    kw = {"requests": args.requests, "block": args.block, "reps": args.reps, "counter": counter}
    a, b = Side("old", old), Side("new", new)
    print(f"\n  {'CPU per request (median of reps)':<44} {'485694e':>8} {'current':>8} {'diff':>10}")
    print(line("GET /api/v1/events/{id}/ (token)", *paired(a, b, get, 200, **kw)))
    if not args.skip_create:
        print(line("POST /api/v1/events/ (one report)", *paired(a, b, create, 201, **kw)))

    if args.each:
        print(f"\n  {'485694e + one of the new (GET, CREATE)':<44} {'485694e':>8} {'+ this':>8} {'diff':>10}")
        singles: list[tuple[str, Config]] = [
            (m.rsplit(".", 1)[-1], {"MIDDLEWARE": [x for x in new_mw if x in OLD_MIDDLEWARE or x == m]})
            for m in new_middlewares(new_mw)
        ]
        singles.append(("axes backend first", {"AUTHENTICATION_BACKENDS": [AXES_BACKEND, *OLD_BACKENDS]}))
        for label, change in singles:
            side = Side(label, {**old, **change})
            print(line(f"GET + {label}", *paired(a, side, get, 200, **kw)))
            if args.each_create:
                print(line(f"POST + {label}", *paired(a, side, create, 201, **kw)))
    connection.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
