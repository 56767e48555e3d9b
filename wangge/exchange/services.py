"""Import jobs and exports: every write (job, register rows, audit) goes through here or registry.bulk."""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangge.accounts.roles import P_EXPORT_PERSONAL, P_IMPORT_REGISTER, P_MANAGE_TERRITORY, P_VIEW_REGISTER
from wangge.audit.services import audit_record
from wangge.core.errors import Forbidden, InvalidInput, ServiceError
from wangge.core.scope import has_scope, user_scope_path
from wangge.core.tasks import task_enqueue
from wangge.registry.bulk import BULK_UPSERTS, BulkResult, RowError
from wangge.territory.models import CODE_LENGTH, GridType, Level, Territory
from wangge.territory.services import grid_boundary_set, grid_create

from . import files, selectors
from .columns import spec_for
from .models import ImportJob, ImportKind, ImportStatus
from .readers import check_table_name, open_table, upload_path, xls_check

logger = logging.getLogger(__name__)

GRID_EXTENSIONS = (".geojson", ".json")
MAX_GRID_FEATURES = 5000


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def _scope_of(actor: Any) -> str:
    if not has_scope(actor):
        raise Forbidden("您的账号未绑定辖区，不能导入或导出", code="no_territory")
    return user_scope_path(actor)


def check_upload(*, kind: str, name: str, size: int) -> str:
    """Type and size checks shared by the page and the API; returns the file extension."""
    if kind == ImportKind.GRIDS:
        ext = Path(name or "").suffix.lower()
        if ext not in GRID_EXTENSIONS:
            raise InvalidInput(
                "网格边界请上传 GeoJSON 文件（.geojson 或 .json）", code="unsupported_file_type"
            )
    else:
        spec_for(kind)
        ext = check_table_name(name)
    if size <= 0:
        raise InvalidInput("文件是空的，没有任何内容", code="empty_file")
    limit = settings.WANGGE_MAX_UPLOAD_BYTES
    if size > limit:
        raise InvalidInput(
            f"文件过大（{_mb(size)}），不能超过 {_mb(limit)}；请拆分后分批导入",
            code="file_too_large",
            details={"size": size, "limit": limit},
        )
    return ext


def _check_permission(actor: Any, kind: str) -> None:
    needed = P_MANAGE_TERRITORY if kind == ImportKind.GRIDS else P_IMPORT_REGISTER
    if not actor.has_perm(needed):
        raise Forbidden("没有导入此类数据的权限", code="permission_denied")


def import_job_create(*, actor: Any, kind: str, upload: Any) -> ImportJob:
    """Store the uploaded file (Django storage, sha256), check its header row, queue the import task.

    Refuses wrong types, empty and oversized files, and files whose header lacks required columns, before
    a job exists. With the immediate task backend the import has already run when this returns.
    """
    if kind not in ImportKind.values:
        raise InvalidInput("导入类型无效", code="invalid_kind")
    _check_permission(actor, kind)
    scope_path = _scope_of(actor)
    name = os.path.basename(str(getattr(upload, "name", "") or ""))[:200]
    check_upload(kind=kind, name=name, size=int(getattr(upload, "size", 0) or 0))
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    # The header is checked here, before a job exists, for .xlsx and .csv: their tops can be read cheaply.
    # An .xls (BIFF) sheet cannot: calamine allocates the whole rectangle up to its farthest cell, and a
    # 6 KB file with one cell at IV65536 took 1 GB in the web worker. Its header is checked by the task.
    if kind != ImportKind.GRIDS:
        with upload_path(upload, name) as path:
            if name.lower().endswith(".xls"):
                xls_check(path)
            else:  # header check: one clear error before any row is read
                open_table(spec_for(kind), path, name, stream=True)
        upload.seek(0)
    with transaction.atomic():
        job = ImportJob(
            kind=kind, original_name=name, file_sha256=digest.hexdigest(), created_by=actor, path=scope_path
        )
        job.file.save(f"{kind}{Path(name).suffix.lower()}", File(upload), save=False)
        job.save()
        before = (
            ImportJob.objects.filter(file_sha256=job.file_sha256, kind=kind, status=ImportStatus.DONE)
            .exclude(pk=job.pk)
            .exists()
        )
        audit_record(
            actor=actor,
            action="import.upload",
            obj=job,
            after={"kind": kind, "size": upload.size, "sha256": job.file_sha256, "repeat": before},
        )
    import_job_enqueue(job=job)
    job.refresh_from_db()
    return job


def import_job_enqueue(*, job: ImportJob) -> None:
    """Hand the job to the task backend (the database worker by default; immediate in tests)."""
    result = task_enqueue("wangge.exchange.tasks.import_run", job.pk)
    ImportJob.objects.filter(pk=job.pk, task_id="").update(task_id=str(result.id)[:64])


@contextlib.contextmanager
def _stored_path(job: ImportJob) -> Iterator[str]:
    """A filesystem path for the stored file (copied to a temp file for remote storages)."""
    try:
        local = job.file.path
    except NotImplementedError:
        local = ""
    if local:
        yield local
        return
    assert job.file.name is not None  # job.file.path raised ValueError otherwise
    with tempfile.NamedTemporaryFile(suffix=Path(job.file.name).suffix) as tmp:
        with job.file.open("rb") as src:
            shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name


def _progress(job_id: int, total: int) -> Any:
    def update(result: BulkResult) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            processed_rows=result.processed,
            created_rows=result.created,
            updated_rows=result.updated,
            error_rows=result.error_rows,
            total_rows=max(total, result.processed),
        )

    return update


class _JobLost(Exception):
    """The job was taken from this worker (its lease expired and it was failed): stop importing."""


class _Tracker:
    """Feeds the table's rows to the bulk upsert and, after every committed chunk, records progress, the
    row numbers committed so far and a heartbeat (the job's lease).

    A reading error part-way through the file (bytes that stop decoding, a damaged sheet) ends the rows
    instead of the import: every row read before it is still written, and `stopped` says where and why.
    """

    def __init__(self, job_id: int, total: int, rows: Iterator[tuple[int, Any]]) -> None:
        self.job_id, self.total = job_id, total
        self._rows = rows
        self._pending: deque[int] = deque()  # row numbers handed out and not yet committed
        self._done = 0
        self.first_row = 0
        self.last_row = 0
        self.stopped: InvalidInput | None = None

    def rows(self) -> Iterator[tuple[int, Any]]:
        try:
            for number, values in self._rows:
                if not self.first_row:
                    self.first_row = number
                self._pending.append(number)
                yield number, values
        except InvalidInput as exc:
            self.stopped = exc

    def on_chunk(self, result: BulkResult) -> None:
        while self._done < result.processed and self._pending:
            self.last_row = self._pending.popleft()
            self._done += 1
        alive = ImportJob.objects.filter(pk=self.job_id, status=ImportStatus.RUNNING).update(
            processed_rows=result.processed,
            created_rows=result.created,
            updated_rows=result.updated,
            error_rows=result.error_rows,
            total_rows=max(self.total, result.processed),
            first_row=self.first_row,
            committed_row=self.last_row,
            heartbeat_at=timezone.now(),
        )
        if not alive:
            raise _JobLost


def _rows_text(job: ImportJob) -> str:
    """What a job committed, as "已导入 N 行（第 a–b 行）"."""
    imported = job.created_rows + job.updated_rows
    if not job.committed_row:
        return "没有导入任何行"
    text = f"已导入 {imported} 行（第 {job.first_row}–{job.committed_row} 行"
    if job.error_rows:
        text += f"，其中 {job.error_rows} 行有错误未导入"
    return text + "）"


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one queued import (the task calls this). Never raises for bad files: the job records why.

    The job holds a lease (heartbeat_at, refreshed per committed chunk); if the worker dies, the job is
    failed by import_jobs_expire with exactly what was committed, and can be re-run.
    """
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    if not claimed:
        return job  # already run (a retried task must not import twice)
    header_of: Any = lambda key: key  # noqa: E731
    tracker: _Tracker | None = None
    try:
        with _stored_path(job) as path:
            if job.kind == ImportKind.GRIDS:
                result = _grids_run(job, path)
            else:
                spec = spec_for(job.kind)
                header_of = spec.header_of
                table = open_table(spec, path, job.original_name)
                total = table.total_rows
                ImportJob.objects.filter(pk=job.pk).update(total_rows=total, heartbeat_at=timezone.now())
                tracker = _Tracker(job.pk, total, table.rows())
                result = BULK_UPSERTS[job.kind](
                    actor=job.created_by,
                    rows=tracker.rows(),
                    scope_path=job.path,
                    columns=table.keys,
                    job_id=job.pk,
                    on_chunk=tracker.on_chunk,
                )
        if result.processed == 0:
            if tracker is not None and tracker.stopped is not None:
                raise tracker.stopped
            raise InvalidInput("文件只有表头，没有数据行", code="no_rows")
    except _JobLost:
        job.refresh_from_db()
        return job  # failed by import_jobs_expire meanwhile; its message stands
    except ServiceError as exc:
        return _finish(job, status=ImportStatus.FAILED, message=exc.message)
    except Exception:
        logger.exception("import job %s failed", job.pk)
        return _finish(
            job, status=ImportStatus.FAILED, message=f"导入失败：系统错误，请联系管理员（任务号 {job.pk}）"
        )
    report = None
    if result.error_count:
        report = files.error_report_xlsx(
            result.errors, header_of=header_of, total=result.error_count, kept=len(result.errors)
        )
    ok = result.processed - result.error_rows
    message = (
        f"共 {result.processed} 行：新增 {result.created}，更新 {result.updated}，错误 {result.error_rows}"
    )
    if tracker is not None and tracker.stopped is not None:
        stop = tracker.stopped
        bad = (stop.details or {}).get("row") if isinstance(stop.details, dict) else None
        bad_row = int(bad) if bad else tracker.last_row + 1
        reason = stop.message if bad else f"文件第 {bad_row} 行起无法读取：{stop.message}"
        message = (
            f"{reason.rstrip('。')}。已导入 {result.created + result.updated} 行"
            f"（第 {tracker.first_row}–{tracker.last_row} 行"
            + (f"，其中 {result.error_rows} 行有错误未导入" if result.error_rows else "")
            + f"），第 {bad_row} 行起未导入；修正文件后可重新导入（已导入的行不会重复）"
        )
        return _finish(
            job, status=ImportStatus.PARTIAL, message=message, result=result, report=report, tracker=tracker
        )
    if result.error_rows and not ok:
        message += "；没有导入任何数据，请下载错误报告修改后重新导入"
    elif result.error_rows:
        message += "；错误行未导入，请下载错误报告修改后只导入这些行"
    return _finish(
        job, status=ImportStatus.DONE, message=message, result=result, report=report, tracker=tracker
    )


def import_jobs_expire(*, now: Any = None) -> list[ImportJob]:
    """Fail every running import whose worker stopped reporting (killed, out of memory, machine down).

    Called by the periodic sweep (`wangge sweep`) and when import jobs are looked at. The message says
    exactly which rows were committed and where the import stopped; re-running the file upserts by
    natural key, so rows already imported are not doubled. A worker that was only slow finds its job
    taken at its next chunk and stops (see _Tracker.on_chunk).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WANGGE_IMPORT_LEASE_SECONDS)
    expired = []
    stale = ImportJob.objects.filter(status=ImportStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for job in stale.select_related("created_by"):
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().select_related("created_by").get(pk=job.pk)
            if job.status != ImportStatus.RUNNING or (job.heartbeat_at and job.heartbeat_at >= cutoff):
                continue
            done = _rows_text(job)
            if job.committed_row:
                rest = f"，第 {job.committed_row + 1} 行起未导入"
            else:
                rest = ""
            job.status = ImportStatus.FAILED
            job.message = f"导入中断（后台任务停止响应）：{done}{rest}；可重新导入（已导入的行不会重复）"
            job.finished_at = now
            job.save(update_fields=["status", "message", "finished_at"])
            audit_record(
                actor=None,
                action="import.expire",
                obj=job,
                reason="后台任务停止响应，租约过期",
                after={
                    "status": job.status,
                    "rows": job.processed_rows,
                    "created": job.created_rows,
                    "updated": job.updated_rows,
                    "errors": job.error_rows,
                    "committed_row": job.committed_row,
                },
            )
        expired.append(job)
    return expired


def _finish(
    job: ImportJob,
    *,
    status: str,
    message: str,
    result: BulkResult | None = None,
    report: bytes | None = None,
    tracker: _Tracker | None = None,
) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("created_by").get(pk=job.pk)
        if job.status != ImportStatus.RUNNING:
            return job  # failed by import_jobs_expire meanwhile (lease lost): that message stands
        job.status = status
        job.message = message[:500]
        job.finished_at = timezone.now()
        if result is not None:
            job.processed_rows = result.processed
            job.total_rows = max(job.total_rows, result.processed)
            job.created_rows, job.updated_rows, job.error_rows = (
                result.created,
                result.updated,
                result.error_rows,
            )
        if tracker is not None:
            job.first_row, job.committed_row = tracker.first_row, tracker.last_row
        job.heartbeat_at = job.finished_at
        if report is not None:
            job.error_report.save(f"errors-{job.pk}.xlsx", ContentFile(report), save=False)
        job.save()
        audit_record(
            actor=job.created_by,
            action="import.finish",
            obj=job,
            after={
                "kind": job.kind,
                "status": status,
                "rows": job.processed_rows,
                "created": job.created_rows,
                "updated": job.updated_rows,
                "errors": job.error_rows,
            },
        )
    return job


# --- grids from GeoJSON ----------------------------------------------------------------------------

_GRID_TYPES = {
    **{v: v for v in GridType.values},
    **{str(label): v for v, label in GridType.choices},
    "基础": "basic",
    "综合": "comprehensive",
    "专属": "dedicated",
}


def _grids_run(job: ImportJob, path: str) -> BulkResult:
    """Create grids (or give existing ones a new boundary) from a GeoJSON FeatureCollection."""
    actor = job.created_by
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("文件不是有效的 GeoJSON（UTF-8 编码的 JSON）", code="invalid_geojson")
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        raise InvalidInput("GeoJSON 顶层应为 FeatureCollection", code="invalid_geojson")
    features = data["features"]
    if len(features) > MAX_GRID_FEATURES:
        raise InvalidInput(f"一次最多导入 {MAX_GRID_FEATURES} 个网格", code="too_many_features")
    result = BulkResult()
    ImportJob.objects.filter(pk=job.pk).update(total_rows=len(features))
    today = timezone.localdate()
    for number, feature in enumerate(features, start=1):
        result.processed += 1
        try:
            created = _grid_feature(feature, actor=actor, scope_path=job.path, today=today)
        except ServiceError as exc:
            props = feature.get("properties") if isinstance(feature, dict) else None
            code = str((props or {}).get("code", "")) if isinstance(props, dict) else ""
            result.error_rows += 1
            result.add_error(RowError(number, "code", code, exc.message))
            continue
        if created:
            result.created += 1
        else:
            result.updated += 1
        if number % 50 == 0:
            _progress(job.pk, len(features))(result)
    return result


def _grid_feature(feature: Any, *, actor: Any, scope_path: str, today: date) -> bool:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput("不是 GeoJSON Feature", code="invalid_feature")
    props = feature.get("properties") or {}
    code = str(props.get("code") or props.get("编码") or props.get("网格编码") or "").strip()
    name = str(props.get("name") or props.get("名称") or props.get("网格名称") or "").strip()
    grid_type = str(props.get("grid_type") or props.get("网格类型") or "basic").strip()
    if not (code.isdigit() and len(code) == CODE_LENGTH[Level.GRID]):
        raise InvalidInput(
            f"网格编码（properties.code）应为{CODE_LENGTH[Level.GRID]}位数字", code="invalid_code"
        )
    if not code.startswith(scope_path):
        raise InvalidInput("网格不在您的管辖范围内", code="out_of_scope")
    if grid_type not in _GRID_TYPES:
        raise InvalidInput(
            "网格类型应为 basic/comprehensive/dedicated（基础网格/综合网格/专属网格）",
            code="invalid_grid_type",
        )
    valid_from = today
    if props.get("valid_from"):
        try:
            valid_from = date.fromisoformat(str(props["valid_from"]))
        except ValueError:
            raise InvalidInput("生效日期（valid_from）应为 2025-01-01 格式", code="invalid_date")
    geometry = feature.get("geometry")
    existing = Territory.objects.filter(code=code).first()
    if existing is not None:
        if existing.level != Level.GRID:
            raise InvalidInput("该编码不是网格", code="invalid_code")
        grid_boundary_set(grid=existing, geojson=geometry, valid_from=valid_from, actor=actor)
        return False
    length = CODE_LENGTH[Level.COMMUNITY]
    community = Territory.objects.filter(code=code[:length], level=Level.COMMUNITY).first()
    if community is None:
        raise InvalidInput(f"网格编码前{length}位对应的社区不存在", code="no_community")
    if not name:
        raise InvalidInput("网格名称（properties.name）不能为空", code="invalid_name")
    grid_create(
        community=community,
        code=code,
        name=name,
        geojson=geometry,
        valid_from=valid_from,
        grid_type=_GRID_TYPES[grid_type],
        actor=actor,
    )
    return True


# --- exports ---------------------------------------------------------------------------------------


@dataclass
class Export:
    filename: str
    content_type: str
    count: int
    masked: bool
    stream: Any  # an open binary file (xlsx) or an iterator of bytes (csv)


EXPORT_FORMATS = ("xlsx", "csv")


def export_open(*, actor: Any, kind: str, fmt: str) -> Export:
    """Export a register in the import column format, inside the caller's territory; audited.

    Personal values (ID number, phone) are exported in full only with accounts.export_personal;
    otherwise they are masked (such a file cannot be re-imported: the ID number is the key).
    """
    spec = spec_for(kind)
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput("导出格式应为 xlsx 或 csv", code="invalid_format")
    if not actor.has_perm(P_VIEW_REGISTER):
        raise Forbidden("没有导出台账的权限", code="permission_denied")
    scope_path = _scope_of(actor)
    full = actor.has_perm(P_EXPORT_PERSONAL)
    count = selectors.export_count(actor, kind)
    has_personal = any(c.personal for c in spec.columns)
    masked = has_personal and not full
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=f"export.{kind}",
            path=scope_path,
            object_type=f"export.{kind}",
            object_repr=f"导出{spec.label} {count} 条",
            after={"count": count, "format": fmt, "masked": masked, "scope": scope_path},
        )
    rows = selectors.export_rows(actor, kind, full_personal=full)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{spec.label.replace('/', '-')}-{stamp}{'-脱敏' if masked else ''}.{fmt}"
    if fmt == "xlsx":
        note = "身份证号、手机号已脱敏，此文件不能用于重新导入。" if masked else ""
        return Export(filename, files.XLSX_TYPE, count, masked, files.export_xlsx(spec, rows, note=note))
    return Export(filename, files.CSV_TYPE, count, masked, files.export_csv(spec, rows))


def template_file(kind: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the blank template for `kind`."""
    if kind == ImportKind.GRIDS:
        return "网格边界模板.geojson", "application/geo+json", files.grids_template()
    spec = spec_for(kind)
    return f"{spec.label.replace('/', '-')}导入模板.xlsx", files.XLSX_TYPE, files.template_xlsx(spec)
