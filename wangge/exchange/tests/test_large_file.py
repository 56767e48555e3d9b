"""A ~50 MB upload (under the default 100 MB limit) imports, streaming, within bounded memory."""

import time
import tracemalloc
from datetime import date, timedelta

from django.core.files.uploadedfile import TemporaryUploadedFile

from wangge.exchange.models import ImportStatus
from wangge.exchange.services import import_job_create
from wangge.registry.models import Resident

from .conftest import RESIDENT_HEADERS, make_id

ROWS = 20_000
TARGET_BYTES = 50 * 1024 * 1024


def test_50mb_csv_imports(world, places, tmp_path, settings):
    assert settings.WANGGE_MAX_UPLOAD_BYTES >= TARGET_BYTES  # the default limit admits it
    # Offices' ledgers carry wide free-text columns; a 2.5 KB 备注 per row makes 20,000 rows weigh 50 MB.
    filler = "居住情况良好，已入户走访。" * 66
    header = ",".join([*RESIDENT_HEADERS, "备注"]) + "\n"
    upload = TemporaryUploadedFile("big.csv", "text/csv", 0, "utf-8", None)
    upload.write(header.encode())
    written = len(header.encode())
    for i in range(ROWS):
        births = (date(1950, 1, 1) + timedelta(days=i // 1000)).strftime("%Y%m%d")
        line = (
            f"居民{i},{make_id(i, birth=births)},138{i:08d},B111,{i % 4 + 1},{i % 300 + 101},户主,常住,汉族,,"
            f"2024-01-05,{filler}\n"
        ).encode()
        upload.write(line)
        written += len(line)
    upload.flush()
    upload.size = written
    upload.seek(0)
    assert written >= TARGET_BYTES
    tracemalloc.start()
    t = time.perf_counter()
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload)
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert job.status == ImportStatus.DONE, job.message
    assert (job.processed_rows, job.error_rows) == (ROWS, 0), job.message
    assert Resident.objects.count() == ROWS
    # Rows are streamed: Python memory stays far below the file size.
    assert peak < 40 * 1024 * 1024, peak
    assert elapsed < 60, elapsed
