"""CPU per request, read from /proc: the application's (gunicorn master and workers) and PostgreSQL's
(the backends serving the bench's database), before and after a phase.

Wall-clock throughput on this shared 2-core machine varies about 2x within an hour; CPU spent per
request varies much less, and the ratio of two servers' CPU per request, measured in the same run,
less again. Only processes that live through the phase are counted (a PostgreSQL backend that exits
during it loses its time), so servers keep their database connections (CONN_MAX_AGE, one connection
per bare worker). Background processes of the cluster (WAL writer, checkpointer) are not counted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in seconds) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def app_cpu(master: int) -> dict[int, float]:
    """CPU seconds so far of a gunicorn master and its workers, by pid."""
    out = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None and (pid == master or st[0] == master):
            out[pid] = st[1]
    return out


def pg_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds so far of the PostgreSQL backends connected to `dbname`, by pid (their process
    title is "postgres: <cluster>: <user> <database> <client> <state>")."""
    out = {}
    for pid in _pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {dbname} " in title:
            st = _stat(pid)
            if st is not None:
                out[pid] = st[1]
    return out


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


@dataclass
class Cpu:
    app: float  # ms per request
    db: float

    @property
    def total(self) -> float:
        return self.app + self.db

    def line(self) -> str:
        return f"{self.total:.2f} ms CPU/request ({self.app:.2f} application + {self.db:.2f} PostgreSQL)"


class Meter:
    """`start()` before a phase, `stop(requests)` after it: CPU per request of both sides."""

    def __init__(self, master: int, dbname: str) -> None:
        self.master, self.dbname = master, dbname

    def start(self) -> None:
        self.app0, self.db0 = app_cpu(self.master), pg_cpu(self.dbname)

    def stop(self, requests: int) -> Cpu:
        app, db = _delta(self.app0, app_cpu(self.master)), _delta(self.db0, pg_cpu(self.dbname))
        n = max(requests, 1)
        return Cpu(app * 1000 / n, db * 1000 / n)
