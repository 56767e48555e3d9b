"""Closed-loop HTTP load on loopback: `concurrency` threads, each sending its next request as soon as the
previous answer is read, over a NEW TCP connection per request (no keep-alive). Bounded by a request
count and a time limit, whichever comes first.

The client shares the machine's two cores with the server and PostgreSQL, so it does as little as it can
(as a C load generator would): the request is sent as prepared bytes on a plain socket and the answer read
to the end of the connection, parsing only the status line (and the body where it is kept). With
`http.client` the client itself took 0.3–0.55 ms of CPU per request (detail, create), now 0.15–0.3 ms."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"  # loopback only


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    bodies: list[bytes] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        k = min(len(data) - 1, max(0, round(p / 100 * len(data) + 0.5) - 1))
        return data[k] * 1000

    def line(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.name}: {self.ok} ok in {self.elapsed:.1f} s = {self.rate:,.0f} req/s; "
            f"p50 {self.pct(50):.0f} ms, p95 {self.pct(95):.0f} ms, p99 {self.pct(99):.0f} ms, "
            f"mean {mean:.0f} ms; statuses {dict(sorted(self.statuses.items()))}; errors {self.errors}"
        )


Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


def run(
    name: str,
    port: int,
    make: Callable[[int], Request],
    *,
    concurrency: int = 8,
    max_requests: int = 2000,
    max_seconds: float = 20.0,
    ok_status: tuple[int, ...] = (200, 201),
    keep_bodies: bool = False,
    timeout: float = 30.0,
) -> Result:
    """`make(i)` builds request number i (0, 1, 2 … across all threads)."""
    result = Result(name)
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            raw = _request_bytes(port, *make(i))
            start = time.perf_counter()
            try:
                with socket.create_connection((HOST, port), timeout=timeout) as sock:
                    sock.sendall(raw)
                    chunks = []
                    while chunk := sock.recv(65536):
                        chunks.append(chunk)
                took = time.perf_counter() - start
                answer = b"".join(chunks)
                status = int(answer[9:12])  # "HTTP/1.1 201 Created"
            except (OSError, ValueError):
                with lock:
                    result.errors += 1
                continue
            with lock:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status in ok_status:
                    result.latencies.append(took)
                    if keep_bodies:
                        result.bodies.append(_body(answer))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + timeout + 5)
    result.elapsed = time.perf_counter() - started
    return result


def _request_bytes(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    lines += [
        f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "connection", "content-length")
    ]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _body(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)
