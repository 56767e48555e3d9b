from wangge.exchange.models import ImportStatus
from wangge.exchange.services import import_job_create
from wangge.registry.models import Resident

from .conftest import RESIDENT_HEADERS, make_id, upload, xlsx_bytes


def test_smoke(world, places):
    rows = [RESIDENT_HEADERS] + [
        [f"张{i}", make_id(i), f"1381234{i:04d}", "B111", "1", f"{100 + i}", "户主", "常住", "汉族", "残疾人、低保户", "2024/1/5"]
        for i in range(5)
    ]
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("a.xlsx", xlsx_bytes(rows)))
    assert job.status == ImportStatus.DONE, job.message
    assert job.created_rows == 5, job.message
    assert Resident.objects.count() == 5
    job = import_job_create(actor=world.users.community1, kind="residents", upload=upload("a.xlsx", xlsx_bytes(rows)))
    assert job.updated_rows == 5, job.message
    assert Resident.objects.count() == 5

