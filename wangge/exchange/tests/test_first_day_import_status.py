"""Issue 18 A12a: the import page shows the final state once the job is over, and stops polling."""

from typing import Any

from django.urls import reverse

from wangge.conftest import PASSWORD
from wangge.exchange.models import ImportJob, ImportStatus

from .conftest import RESIDENT_HEADERS, make_id, upload, xlsx_bytes


def test_after_the_upload_the_page_says_finished_not_importing(world: Any, places: Any, client: Any) -> None:
    client.login(username="community1", password=PASSWORD)
    content = xlsx_bytes([RESIDENT_HEADERS, ["张三", make_id(1), "", "B111", "", "", "", "", "", "", ""]])
    resp = client.post(reverse("exchange-home"), {"kind": "residents", "file": upload("r.xlsx", content)})
    assert resp.status_code == 302
    page = client.get(resp["Location"]).content.decode()
    # The immediate task backend has run the job: the page says so and nowhere "正在导入".
    assert "已完成" in page and "文件已上传" in page
    assert "正在导入" not in page and "导入中" not in page
    assert "hx-get" not in page and "hx-trigger" not in page


def test_the_polled_fragment_ends_with_the_final_state(world: Any, places: Any, client: Any) -> None:
    job = ImportJob.objects.create(
        kind="residents",
        created_by=world.users.community1,
        path=world.c11.code,
        original_name="x.xlsx",
        status=ImportStatus.RUNNING,
        total_rows=10,
        processed_rows=5,
    )
    client.login(username="community1", password=PASSWORD)
    url = reverse("exchange-import-progress", args=[job.pk])
    running = client.get(url).content.decode()
    assert "导入中" in running and 'hx-trigger="every 1s"' in running
    for status, label in (
        (ImportStatus.DONE, "已完成"),
        (ImportStatus.PARTIAL, "部分完成"),
        (ImportStatus.FAILED, "失败"),
    ):
        ImportJob.objects.filter(pk=job.pk).update(status=status, processed_rows=10)
        final = client.get(url).content.decode()
        assert label in final and "导入中" not in final, status
        # No trigger left in the swapped-in element: htmx stops polling.
        assert "hx-trigger" not in final and "hx-get" not in final, status
        assert "继续导入" in final
