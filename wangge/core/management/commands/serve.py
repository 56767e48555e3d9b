"""`wangge serve`: the embedded default — web server, task worker and time-limit sweep in one command.

A community office needs no extra server: the django-tasks database worker runs as a child process
beside the web server and stops with it. Districts run gunicorn and separate workers (docs/deploy.md).
"""

import os
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "启动 Web 服务和后台任务进程（内嵌默认部署）"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程")

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen[bytes]] = []
        uses_db_backend = "django_tasks_db" in settings.TASKS["default"]["BACKEND"]
        # SIGTERM (systemd, docker stop, kill) ends Python without running `finally`, which left the
        # worker and the sweep running with no parent. As an interrupt it ends runserver like Ctrl-C does,
        # and the children are stopped below.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            if not options["no_worker"]:
                commands = [["sweep", "--loop", "60"]]  # the time-limit clock (warnings, reminders, SOS)
                if uses_db_backend:
                    commands.insert(
                        0, ["db_worker", "--interval", "0.5", "--no-reload", "--no-startup-delay"]
                    )
                for command in commands:
                    child = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
                        [sys.executable, "-m", "wangge.manage", *command], env=os.environ.copy()
                    )
                    children.append(child)
                    self.stdout.write(f"后台进程 {command[0]} 已启动 (pid {child.pid})")
            addr = f"{options['host']}:{options['port']}"
            self.stdout.write(self.style.SUCCESS(f"网格化基层治理平台: http://{addr}/"))
            # --insecure serves the vendored static files without a separate web server.
            call_command("runserver", addr, use_reloader=False, insecure_serving=True)
        except KeyboardInterrupt:
            pass
        finally:
            # A second SIGTERM or Ctrl-C while the children stop must not cut this short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _stop_children(children)
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each child still running (db_worker finishes its task, sweep its round), then wait;
    one that has not stopped after 10 seconds is killed."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
