"""Issue 18 A12b: `wangge serve` stopped with SIGTERM stops its db_worker and sweep children too."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (a /proc scan: psutil is not a dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_sigterm_stops_the_worker_and_the_sweep(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "WANGGE_", "DJANGO_"))}
    env.update(
        WANGGE_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="wangge.settings",
    )
    manage = [sys.executable, "-m", "wangge.manage"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=300, capture_output=True)  # noqa: S603
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
        [*manage, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 90
        answered = False
        while time.monotonic() < deadline and not (answered and len(children) == 2):
            time.sleep(0.5)
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            children = _children(serve.pid)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                    pass
                answered = True
            except OSError as exc:  # a 404 or 503 is an answer too: the server runs
                answered = hasattr(exc, "code")
        assert answered and len(children) == 2, (children, (tmp_path / "serve.log").read_text())
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()
        time.sleep(0.5)
        assert [pid for pid in children if _alive(pid)] == [], (tmp_path / "serve.log").read_text()
    finally:
        # Never leave our own processes behind, whatever failed above.
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
