"""Benchmark: import 100,000 residents from .xlsx through the real import path.

    .venv/bin/python bench/import_residents.py [--rows 100000] [--keep]

Database: DATABASE_URL from the environment; default a temporary SQLite file. On PostgreSQL a throwaway
database "<name>_bench_<pid>" is created next to the one named in DATABASE_URL and dropped afterwards.
Migrations run programmatically. The .xlsx (valid random ID numbers, openpyxl write_only) is written by a
child process, so the peak memory printed is the importer's.

Prints rows/s and peak RSS of the import (wangge.exchange.services.import_job_run, the function the
task calls), and the raw bulk_create rate of the same rows without validation or encryption.
PASS needs >= 10,000 rows/s and < 500 MB.
"""

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TARGET_ROWS_S = 10_000
TARGET_MB = 500
HEADERS = [
    "姓名",
    "身份证号",
    "手机号",
    "楼栋编码",
    "单元",
    "房号",
    "与户主关系",
    "居住类型",
    "民族",
    "重点人群",
    "迁入日期",
]
BUILDINGS = 500
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞鑫宇浩然子涵欣怡"
AREAS = ["420802", "420804", "420821", "420881", "420105", "110101", "310104", "440305"]


def check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def generate(path: str, rows: int, seed: int = 7) -> None:
    """Write the residents workbook (runs in a child process)."""
    from openpyxl import Workbook

    rnd = random.Random(seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民")
    ws.append(HEADERS)
    seen: set[str] = set()
    tags = ["", "", "", "", "残疾人", "低保户", "空巢老人、独居老人", "留守儿童"]
    roles = ["户主", "配偶", "子女", "父母", "其他"]
    types = ["户籍", "常住", "流动", "租住"]
    while len(seen) < rows:
        year = rnd.randint(1930, 2020)
        first = f"{rnd.choice(AREAS)}{year}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}{rnd.randint(0, 999):03d}"
        number = first + check_digit(first)
        if number in seen:
            continue
        seen.add(number)
        i = len(seen)
        ws.append(
            [
                rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.randint(1, 2))),
                number,
                f"1{rnd.choice('3456789')}{rnd.randint(0, 999_999_999):09d}",
                f"B{i % BUILDINGS:04d}",
                str(rnd.randint(1, 4)),
                f"{rnd.randint(1, 30)}{rnd.randint(1, 4):02d}",
                rnd.choice(roles),
                rnd.choice(types),
                "汉族",
                rnd.choice(tags),
                f"20{rnd.randint(0, 24):02d}-{rnd.randint(1, 12)}-{rnd.randint(1, 28)}",
            ]
        )
    wb.save(path)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def pg_throwaway(url: str) -> tuple[str, str]:
    """Create an empty database beside the one in `url`; return (its URL, its name)."""
    import psycopg

    parts = urlsplit(url)
    base = parts.path.lstrip("/") or "postgres"
    name = f"{base}_bench_{os.getpid()}"
    with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def pg_drop(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database and files")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of the import")
    parser.add_argument("--generate", nargs=2, metavar=("PATH", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate[0], int(args.generate[1]))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    url = os.environ.get("DATABASE_URL", "")
    pg_name = ""
    if url.startswith("postgres"):
        original = url
        try:
            url, pg_name = pg_throwaway(url)
        except Exception as exc:  # no CREATEDB right: use the given database as it is
            print(
                f"could not create a throwaway database ({type(exc).__name__}); using DATABASE_URL as given"
            )
    else:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = url
    os.environ["WANGGE_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        return run(args, workdir, url)
    finally:
        if pg_name and not args.keep:
            from django.db import connections

            connections.close_all()
            pg_drop(original, pg_name)


def run(args: argparse.Namespace, workdir: Path, url: str) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection, transaction

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    print(f"database: {connection.vendor} ({'throwaway' if connection.vendor != 'sqlite' else url})")
    t = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.perf_counter() - t:.1f} s")

    from python_calamine import CalamineWorkbook

    from wangge.accounts.roles import Role
    from wangge.accounts.services import user_create
    from wangge.exchange.services import import_job_create, import_job_run
    from wangge.registry.models import Occupancy, Resident
    from wangge.territory.models import Building, Dwelling, Level
    from wangge.territory.services import territory_create

    district = territory_create(level=Level.DISTRICT, code="420802", name="基准区")
    street = territory_create(level=Level.STREET, code="420802001", name="基准街道", parent=district)
    community = territory_create(level=Level.COMMUNITY, code="420802001001", name="基准社区", parent=street)
    grids = [
        territory_create(level=Level.GRID, code=f"420802001001{g:03d}", name=f"网格{g}", parent=community)
        for g in range(1, 11)
    ]
    Building.objects.bulk_create(
        Building(code=f"B{i:04d}", name=f"{i}栋", grid=grids[i % 10], path=grids[i % 10].code)
        for i in range(BUILDINGS)
    )
    actor = user_create(
        username="bench",
        password="bench-pass-123",
        role=Role.COMMUNITY_STAFF,
        territory_id=community.pk,
        display_name="基准",
    )

    xlsx = workdir / "residents.xlsx"
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate", str(xlsx), str(args.rows)], check=True)
    size_mb = xlsx.stat().st_size / 1024 / 1024
    print(f"generated {args.rows} rows: {size_mb:.1f} MB in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    job = import_job_create(
        actor=actor, kind="residents", upload=SimpleUploadedFile("residents.xlsx", xlsx.read_bytes())
    )
    print(f"upload (store, sha256, header check): {time.perf_counter() - t:.2f} s")
    rss_before = rss_mb()
    db_time = [0.0, 0]
    by_kind: dict[str, float] = {}

    def timed(execute, sql, params, many, context):  # noqa: ANN001
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - start
            db_time[0] += took
            db_time[1] += 1
            kind = " ".join(str(sql).split()[:4])[:60]
            by_kind[kind] = by_kind.get(kind, 0.0) + took

    wrapper = connection.execute_wrapper(timed)
    wrapper.__enter__()
    cpu = time.process_time()
    t = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        job = prof.runcall(import_job_run, job_id=job.pk)
        elapsed = time.perf_counter() - t
        pstats.Stats(prof).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(30)
    else:
        job = import_job_run(job_id=job.pk)
        elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    wrapper.__exit__(None, None, None)
    peak = rss_mb()
    rate = job.processed_rows / elapsed if elapsed else 0.0
    print(
        f"import: status={job.status} rows={job.processed_rows} created={job.created_rows} "
        f"updated={job.updated_rows} errors={job.error_rows}"
    )
    print(
        f"import: {elapsed:.2f} s = {rate:,.0f} rows/s; peak RSS {peak:.0f} MB (before import {rss_before:.0f} MB)"
    )
    print(
        f"  CPU time of this process {cpu:.2f} s ({job.processed_rows / cpu:,.0f} rows per CPU-second; "
        f"the wall figure is lower when other processes share the 2 cores; load average now "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(f"  of which in database statements: {db_time[0]:.2f} s over {db_time[1]} statements")
    for kind, took in sorted(by_kind.items(), key=lambda kv: -kv[1])[:6]:
        print(f"    {took:6.2f} s  {kind}")
    print(
        f"  residents={Resident.objects.count()} dwellings={Dwelling.objects.count()} "
        f"occupancies={Occupancy.objects.count()}"
    )

    t = time.perf_counter()
    job2 = import_job_run(
        job_id=import_job_create(
            actor=actor, kind="residents", upload=SimpleUploadedFile("residents.xlsx", xlsx.read_bytes())
        ).pk
    )
    elapsed2 = time.perf_counter() - t
    rate2 = job2.processed_rows / elapsed2 if elapsed2 else 0.0
    print(f"re-import (all updates): {elapsed2:.2f} s = {rate2:,.0f} rows/s; updated={job2.updated_rows}")

    # Baseline: the same rows, bulk_create only (no validation, no encryption, no dwellings).
    with CalamineWorkbook.from_path(str(xlsx)) as wb:
        data: list[list[Any]] = wb.get_sheet_by_index(0).to_python()[1:]
    bids = dict(Building.objects.values_list("code", "id"))
    paths = dict(Building.objects.values_list("code", "path"))
    Occupancy.objects.all().delete()
    Resident.tags.through.objects.all().delete()
    Resident.objects.all().delete()
    t = time.perf_counter()
    for start in range(0, len(data), 2000):
        with transaction.atomic():
            Resident.objects.bulk_create(
                [
                    Resident(
                        name=r[0],
                        id_number_enc=r[1],
                        id_hash=r[1],
                        phone_enc=str(r[2]),
                        building_id=bids[r[3]],
                        path=paths[r[3]],
                        ethnicity=r[8],
                    )
                    for r in data[start : start + 2000]
                ],
                batch_size=500,
            )
    base_elapsed = time.perf_counter() - t
    print(f"baseline raw bulk_create: {base_elapsed:.2f} s = {len(data) / base_elapsed:,.0f} rows/s")

    ok = job.status == "done" and job.error_rows == 0 and rate >= TARGET_ROWS_S and peak < TARGET_MB
    print(
        f"{'PASS' if ok else 'FAIL'}: {rate:,.0f} rows/s (target >= {TARGET_ROWS_S:,}), "
        f"peak {peak:.0f} MB (target < {TARGET_MB})"
    )
    if not args.keep:
        import shutil

        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
