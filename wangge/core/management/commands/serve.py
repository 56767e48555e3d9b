"""`wangge serve`: the embedded default — the web server and a task worker in one command.

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
        worker = None
        uses_db_backend = "django_tasks_db" in settings.TASKS["default"]["BACKEND"]
        if uses_db_backend and not options["no_worker"]:
            worker = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
                [
                    sys.executable,
                    "-m",
                    "wangge.manage",
                    "db_worker",
                    "--interval",
                    "0.5",
                    "--no-reload",
                    "--no-startup-delay",
                ],
                env=os.environ.copy(),
            )
            self.stdout.write(f"后台任务进程已启动 (pid {worker.pid})")
        addr = f"{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"网格化基层治理平台: http://{addr}/"))
        try:
            # --insecure serves the vendored static files without a separate web server.
            call_command("runserver", addr, use_reloader=False, insecure_serving=True)
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
