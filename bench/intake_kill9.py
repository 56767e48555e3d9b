"""Fault bench: idempotent event creates while gunicorn workers are killed with SIGKILL.

    .venv/bin/python bench/intake_kill9.py [--requests 200] [--kill-every 0.5] [--max-kills 10] ...

Database: DATABASE_URL from the environment; default a temporary SQLite file. On PostgreSQL a throwaway
database "<name>_bench_<pid>" is created beside the one named in DATABASE_URL and dropped afterwards (as
bench/intake/run.py does). A small demo district and one district-staff token are generated first.

Then gunicorn (wangge.wsgi, 2 sync workers, 127.0.0.1 only) serves POST /api/v1/events/, each request
with its own Idempotency-Key, at a small concurrency, while a killer thread SIGKILLs one worker every
--kill-every seconds (gunicorn's master starts a new one). Requests cut off by a kill get no answer or a
broken one. Afterwards every request is sent again, unchanged, with no more kills; the bench checks that
  - every resend is answered 200/201 with an event id,
  - a request answered in the first pass gets the same event id again,
  - the database holds exactly one event per key: nothing lost, nothing doubled,
and prints the figures. Bounded in requests, kills and time; it stops its gunicorn and drops its database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "intake"))

from throwaway import free_port, in_throwaway  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="distinct creates (each resent once)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--kill-every", type=float, default=0.5, help="seconds between SIGKILLs")
    parser.add_argument("--max-kills", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0, help="time limit of each pass")
    parser.add_argument("--residents", type=int, default=200, help="demo district population")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args()

    return in_throwaway(
        "wangge-bench-kill9-", args.keep, lambda workdir, url, server: run(args, workdir, url, server)
    )


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers: the children of its master process (Linux /proc)."""
    try:
        text = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def post(port: int, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, bytes]:
    """One request on a new connection; (0, b"") when the connection broke (worker killed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api/v1/events/", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return 0, b""
    finally:
        conn.close()


def event_id(status: int, body: bytes) -> int | None:
    if status not in (200, 201):
        return None
    try:
        return int(json.loads(body)["id"])
    except (ValueError, KeyError, TypeError):
        return None


def run(args: argparse.Namespace, workdir: Path, url: str, server: list[subprocess.Popen]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    t = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - t:.1f} s")

    import data as bench_data
    from rest_framework.authtoken.models import Token

    from wangge.accounts.roles import Role
    from wangge.accounts.services import user_create
    from wangge.demo.generators import generate
    from wangge.events.models import Event

    ctx = generate(
        seed=1, residents=args.residents, today=timezone.localdate(), password="bench-pass-123", events=0
    )
    user = user_create(
        username="bench-kill9",
        password="bench-pass-123",
        role=Role.DISTRICT_ADMIN,
        territory_id=ctx.district.pk,
        display_name="故障测试",
    )
    token = Token.objects.create(user=user).key
    connection.close()  # SQLite: let gunicorn have the file

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WANGGE_DEBUG": "0", "WANGGE_DATA_DIR": str(workdir)}
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    cmd = [str(gunicorn) if gunicorn.exists() else "gunicorn", "wangge.wsgi", "-w", str(args.workers)]
    cmd += ["-b", f"127.0.0.1:{port}", "--timeout", "30"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server.append(proc)

    run_id = f"k9-{os.getpid()}"
    reports = bench_data.reports(ctx, args.requests, seed=31)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    requests = [
        (json.dumps(r, ensure_ascii=False).encode(), {**headers, "Idempotency-Key": f"{run_id}-{i}"})
        for i, r in enumerate(reports)
    ]
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for gunicorn
        if proc.poll() is not None:
            print((workdir / "gunicorn.log").read_text()[-2000:])
            return 2
        if len(worker_pids(proc.pid)) >= args.workers and post(port, b"{}", headers, 5)[0] == 400:
            break
        time.sleep(0.3)
    print(
        f"gunicorn: {args.workers} workers on 127.0.0.1:{port}; {args.requests} creates, concurrency {args.concurrency}"
    )

    stop = threading.Event()
    kills: list[int] = []

    def killer() -> None:
        rng = random.Random(9)
        while not stop.wait(args.kill_every) and len(kills) < args.max_kills:
            pids = worker_pids(proc.pid)
            if pids:
                pid = rng.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
                except ProcessLookupError:
                    pass

    def send_all(label: str) -> list[tuple[int, bytes]]:
        t0 = time.perf_counter()
        end = time.time() + args.seconds
        with ThreadPoolExecutor(args.concurrency) as pool:
            out = list(pool.map(lambda r: post(port, *r) if time.time() < end else (0, b""), requests))
        elapsed = time.perf_counter() - t0
        statuses: dict[int, int] = {}
        for status, _ in out:
            statuses[status] = statuses.get(status, 0) + 1
        print(
            f"{label}: {len(out)} requests in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))} (0 = connection broken)"
        )
        return out

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    first = send_all("pass 1 (workers killed)")
    stop.set()
    thread.join()
    print(f"SIGKILLs sent: {len(kills)}; workers now {len(worker_pids(proc.pid))}")
    time.sleep(1.0)  # let the master replace the last killed worker
    second = send_all("pass 2 (every request resent)")

    first_ids = [event_id(*r) for r in first]
    second_ids = [event_id(*r) for r in second]
    unanswered = sum(1 for i in first_ids if i is None)
    resend_failed = sum(1 for i in second_ids if i is None)
    changed = sum(1 for a, b in zip(first_ids, second_ids, strict=True) if a is not None and a != b)
    distinct = len({i for i in second_ids if i is not None})
    in_db = Event.objects.filter(idempotency_key__startswith=f"{run_id}-").count()
    keys = set(
        Event.objects.filter(idempotency_key__startswith=f"{run_id}-").values_list(
            "idempotency_key", flat=True
        )
    )
    lost = sum(1 for _, h in requests if h["Idempotency-Key"] not in keys)
    doubled = in_db - len(keys)
    print(
        f"figures: sent {len(requests)}, first pass answered {len(requests) - unanswered}, cut off {unanswered}; "
        f"resend failed {resend_failed}, id changed on resend {changed}, distinct ids {distinct}; "
        f"events in database {in_db}, lost {lost}, doubled {doubled}"
    )
    ok = (
        resend_failed == 0
        and changed == 0
        and distinct == len(requests) == in_db
        and lost == 0
        and doubled == 0
    )
    print("RESULT: " + ("PASS — nothing lost, nothing doubled" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
