"""What every server bench shares: a throwaway database and folder, and stopping what it started.

`in_throwaway(prefix, keep, body)` points DATABASE_URL and WANGGE_DATA_DIR at a temporary SQLite file
(or, when DATABASE_URL names PostgreSQL, a database "<name>_bench_<pid>" created beside it), runs
`body(workdir, url, servers)` and afterwards stops the servers the body appended to `servers`, closes
Django's connections and drops the database and folder (unless `keep`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from import_residents import pg_drop, pg_throwaway


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_throwaway(prefix: str, keep: bool, body: Callable[[Path, str, list[subprocess.Popen]], int]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    original = url = os.environ.get("DATABASE_URL", "")
    pg_name = ""
    if url.startswith("postgres"):
        try:
            url, pg_name = pg_throwaway(url)
        except Exception as exc:  # no CREATEDB right: refuse rather than write into a real database
            print(f"could not create a throwaway database ({type(exc).__name__}: {exc}); stopping")
            return 2
    else:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    os.environ["WANGGE_DATA_DIR"] = str(workdir)
    os.environ["WANGGE_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
    servers: list[subprocess.Popen] = []
    try:
        return body(workdir, url, servers)
    finally:
        for proc in servers:  # only the servers this run started
            stop_server(proc)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up yet
            pass
        if pg_name and not keep:
            pg_drop(original, pg_name)
            print(f"dropped throwaway database {pg_name}")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
