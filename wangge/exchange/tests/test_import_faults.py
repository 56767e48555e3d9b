"""Imports that die or half-succeed (security issue item 7): a killed worker, a file that stops decoding.

The job must never stay "running" for ever, and must say exactly what was imported and what was not;
re-running the file imports every row exactly once.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from wangge.audit.models import AuditEntry
from wangge.core import crypto
from wangge.exchange.models import ImportJob, ImportStatus
from wangge.exchange.services import import_job_create, import_jobs_expire
from wangge.registry.bulk import CHUNK_SIZE
from wangge.registry.models import Resident

from .conftest import RESIDENT_HEADERS, make_id, upload

PROJECT = Path(__file__).resolve().parents[3]


def _birth(i: int) -> str:
    # IDs must be unique over thousands of rows: vary the birth year as well as the sequence number.
    return f"19{50 + i // 1000 % 50:02d}0101"


def _line(i: int) -> bytes:
    return f"居民{i},{make_id(i, birth=_birth(i))},138{i:08d},B111,{i % 4 + 1},{i % 300 + 101},户主,常住,汉族,,\n".encode()


def _csv(n: int) -> bytes:
    return ",".join(RESIDENT_HEADERS).encode() + b"\n" + b"".join(_line(i) for i in range(n))


def test_bytes_that_stop_decoding_end_as_partial_with_exact_counts(world, places, api_for):
    good = CHUNK_SIZE + 500  # more than one chunk committed before the bad bytes
    content = _csv(good) + "王五,坏编码,,B111,,,,,,,\n".encode("gbk") + _line(good + 1)
    assert len(content) > 65536  # the encoding is decided on the first 64 KB: UTF-8
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.csv", content))
    assert job.status == ImportStatus.PARTIAL, (job.status, job.message)
    bad_row = good + 2  # header is row 1, data rows 2 .. good+1
    assert (job.processed_rows, job.created_rows, job.error_rows) == (good, good, 0)
    assert (job.first_row, job.committed_row) == (2, good + 1)
    assert Resident.objects.count() == good
    offset = len(_csv(good)) + 1  # "王" in GBK is already no UTF-8: the row's first byte
    assert f"已导入 {good} 行（第 2–{good + 1} 行）" in job.message
    assert f"第 {bad_row} 行起未导入" in job.message and f"第 {offset} 字节" in job.message
    body = api_for(world.users.community1).get(reverse("api-import-detail", args=[job.pk])).json()
    assert (body["status"], body["status_label"], body["committed_row"]) == ("partial", "部分完成", good + 1)


def test_bad_bytes_before_any_row_fail_the_job(world, places):
    content = _csv(10)[: len(",".join(RESIDENT_HEADERS).encode()) + 1] + b"x" * 70000 + "坏\n".encode("gbk")
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.csv", content))
    assert job.status == ImportStatus.FAILED and "第 2 行" in job.message, job.message
    assert Resident.objects.count() == 0


def _running_job(world, *, committed: int, age: int) -> ImportJob:
    return ImportJob.objects.create(
        kind="residents",
        original_name="r.csv",
        created_by=world.users.community1,
        path=world.users.community1.territory.path,
        status=ImportStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=age + 5),
        heartbeat_at=timezone.now() - timedelta(seconds=age),
        processed_rows=committed,
        created_rows=committed,
        first_row=2 if committed else 0,
        committed_row=committed + 1 if committed else 0,
    )


def test_expired_lease_fails_the_job_visibly(world, api_for, client, settings):
    settings.WANGGE_IMPORT_LEASE_SECONDS = 60
    dead = _running_job(world, committed=2000, age=61)
    alive = _running_job(world, committed=2000, age=10)
    body = api_for(world.users.community1).get(reverse("api-import-detail", args=[dead.pk])).json()
    assert body["status"] == "failed", body
    assert body["message"] == (
        "导入中断（后台任务停止响应）：已导入 2000 行（第 2–2001 行），第 2002 行起未导入；"
        "可重新导入（已导入的行不会重复）"
    )
    alive.refresh_from_db()
    assert alive.status == ImportStatus.RUNNING
    assert AuditEntry.objects.filter(action="import.expire", object_id=str(dead.pk)).count() == 1
    assert import_jobs_expire() == []  # once


def test_sweep_command_fails_dead_imports(world, settings):
    from django.core.management import call_command

    settings.WANGGE_IMPORT_LEASE_SECONDS = 60
    dead = _running_job(world, committed=0, age=600)
    call_command("sweep")
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED and "没有导入任何行" in dead.message


def _child_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": db_url, "WANGGE_DATA_DIR": str(tmp_path), "WANGGE_CONN_MAX_AGE": "0"}
    env["PYTHONPATH"] = str(PROJECT)
    env["DJANGO_SETTINGS_MODULE"] = "wangge.settings"
    return env


def _progress(read, job_id: int) -> tuple[str, int]:
    row = read("SELECT status, committed_row FROM exchange_importjob WHERE id = %s", job_id)
    return (row[0], int(row[1])) if row else ("", 0)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_killed_mid_import_then_rerun_imports_every_row_once(world, places, tmp_path, settings):
    """A real worker process runs the import and is killed with SIGKILL after its first committed chunk."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    rows = CHUNK_SIZE * 4
    content = _csv(rows)
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.csv", content))
    assert job.status == ImportStatus.QUEUED

    sqlite = connection.vendor == "sqlite"
    if sqlite:  # the in-memory test database, copied to a file the worker process can open
        db_file = tmp_path / "worker.sqlite3"
        with sqlite3.connect(db_file) as dst:
            connection.ensure_connection()
            connection.connection.backup(dst)
        db_url = f"sqlite:///{db_file}"

        def read(sql: str, *params):
            with sqlite3.connect(db_file, timeout=20) as c:
                return c.execute(sql.replace("%s", "?"), params).fetchone()
    else:
        s = connection.settings_dict
        db_url = f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"

        def read(sql: str, *params):
            with connection.cursor() as c:
                c.execute(sql, params)
                return c.fetchone()

    code = (
        "import django; django.setup(); "
        "from wangge.exchange.services import import_job_run; "
        f"import_job_run(job_id={job.pk})"
    )
    argv = [sys.executable, "-c", code]  # our own interpreter and code
    worker = subprocess.Popen(argv, env=_child_env(db_url, tmp_path), cwd=tmp_path)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, committed = _progress(read, job.pk)
            if committed > 0 or worker.poll() is not None:
                break
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(10)
    status, committed = _progress(read, job.pk)
    assert status == "running" and 0 < committed < rows + 1, (status, committed)  # killed mid-import

    if sqlite:  # bring the worker's writes back into the test database
        with sqlite3.connect(db_file) as src:
            src.backup(connection.connection)
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING
    imported = Resident.objects.count()
    assert imported == job.created_rows == committed - 1  # every committed chunk, and nothing else

    # Nobody resumes it: once the lease is over it is failed, saying exactly what was imported.
    assert import_jobs_expire() == []  # the lease is still running
    later = timezone.now() + timedelta(seconds=settings.WANGGE_IMPORT_LEASE_SECONDS + 1)
    assert [j.pk for j in import_jobs_expire(now=later)] == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert f"已导入 {imported} 行（第 2–{committed} 行），第 {committed + 1} 行起未导入" in job.message

    # Re-running the same file imports every row exactly once.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    again = import_job_create(actor=world.users.community1, kind="residents", upload=upload("r.csv", content))
    assert again.status == ImportStatus.DONE, again.message
    assert (again.created_rows, again.updated_rows, again.error_rows) == (rows - imported, imported, 0)
    assert Resident.objects.count() == rows
    assert (
        Resident.objects.filter(id_hash=crypto.digest(make_id(rows - 1, birth=_birth(rows - 1)))).count() == 1
    )
