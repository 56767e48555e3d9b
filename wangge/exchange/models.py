from django.conf import settings
from django.db import models


class ImportKind(models.TextChoices):
    RESIDENTS = "residents", "居民"
    BUILDINGS = "buildings", "楼栋"
    PLACES = "places", "场所/商户"
    FACILITIES = "facilities", "部件"
    GRIDS = "grids", "网格(GeoJSON)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "导入中"
    DONE = "done", "已完成"
    PARTIAL = "partial", "部分完成"  # the file became unreadable part-way: the rows before it are in
    FAILED = "failed", "失败"


class ImportJob(models.Model):
    kind = models.CharField("类型", max_length=16, choices=ImportKind.choices)
    status = models.CharField(
        "状态", max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    file = models.FileField("文件", upload_to="imports/%Y/%m/")
    original_name = models.CharField("文件名", max_length=200)
    file_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    path = models.CharField("导入人所属区划", max_length=15, db_index=True)
    total_rows = models.PositiveIntegerField("总行数", default=0)
    processed_rows = models.PositiveIntegerField("已处理", default=0)
    created_rows = models.PositiveIntegerField("新增", default=0)
    updated_rows = models.PositiveIntegerField("更新", default=0)
    error_rows = models.PositiveIntegerField("错误行", default=0)
    error_report = models.FileField("错误报告", upload_to="imports/errors/%Y/%m/", blank=True)
    message = models.CharField("说明", max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField("后台任务号", max_length=64, blank=True)
    # Lease: the worker running the job refreshes heartbeat_at at the start and after every committed
    # chunk; a running job whose heartbeat is older than WANGGE_IMPORT_LEASE_SECONDS lost its worker.
    heartbeat_at = models.DateTimeField("心跳时间", null=True, blank=True)
    first_row = models.PositiveIntegerField("首个数据行号", default=0)
    committed_row = models.PositiveIntegerField("已提交至行号", default=0)

    class Meta:
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_by", "-id"])]

    def __str__(self) -> str:
        return f"导入任务#{self.pk}（{self.get_kind_display()}）"

    def audit_label(self) -> str:
        return str(self)

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.PARTIAL, ImportStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.PARTIAL):
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(self.processed_rows * 100 / self.total_rows))
