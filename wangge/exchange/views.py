"""Import and export pages. No business logic: services do the work, selectors the reads."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from wangge.accounts.roles import P_EXPORT_PERSONAL, P_IMPORT_REGISTER, P_MANAGE_TERRITORY, P_VIEW_REGISTER
from wangge.core.errors import Forbidden, NotFound, ServiceError

from . import selectors, services
from .api.views import export_response
from .columns import SPECS
from .downloads import attachment
from .models import ImportKind


def _kinds(user: Any) -> list[dict[str, Any]]:
    kinds = []
    for value, label in ImportKind.choices:
        needed = P_MANAGE_TERRITORY if value == ImportKind.GRIDS else P_IMPORT_REGISTER
        if user.has_perm(needed):
            spec = SPECS.get(value)
            kinds.append(
                {
                    "value": value,
                    "label": label,
                    "spec": spec,
                    "accept": ".geojson,.json" if value == ImportKind.GRIDS else ".xlsx,.xls,.csv",
                }
            )
    return kinds


@login_required
@require_http_methods(["GET", "POST"])
def import_home(request: HttpRequest) -> HttpResponse:
    """Choose a kind, upload a file, download templates; my recent jobs."""
    kinds = _kinds(request.user)
    if not kinds:
        raise PermissionDenied
    services.import_jobs_expire()  # a job whose worker died shows as failed, not "导入中" forever
    error = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind", "")
        try:
            if upload is None:
                raise ServiceError("请选择要上传的文件", code="no_file")
            job = services.import_job_create(actor=request.user, kind=kind, upload=upload)
        except ServiceError as exc:
            error = exc.message
        else:
            # No state in the flash message: it stays on the page while the progress below moves on, and
            # "正在导入" was still shown there after the job had finished (issue 18).
            messages.success(request, f"文件已上传（导入任务 #{job.pk}），导入状态见下方。")
            return redirect("exchange-import-detail", pk=job.pk)
    return render(
        request,
        "exchange/imports.html",
        {
            "kinds": kinds,
            "jobs": selectors.import_jobs_recent(request.user),
            "error": error,
            "selected": request.POST.get("kind", kinds[0]["value"]),
            "can_export": request.user.has_perm(P_VIEW_REGISTER),
        },
    )


def _job(request: HttpRequest, pk: int) -> Any:
    services.import_jobs_expire()
    try:
        return selectors.import_job_get(request.user, pk)
    except NotFound:
        raise Http404


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "exchange/import_detail.html", {"job": _job(request, pk)})


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the detail page polls (htmx, every second until the job is finished)."""
    return render(request, "exchange/_progress.html", {"job": _job(request, pk)})


@login_required
@require_GET
def import_errors(request: HttpRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    if not job.error_report:
        raise Http404
    return attachment(FileResponse(job.error_report.open("rb")), f"错误报告-{job.pk}.xlsx")


@login_required
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    try:
        name, content_type, data = services.template_file(kind)
    except ServiceError:
        raise Http404
    return attachment(HttpResponse(data, content_type=content_type), name)


@login_required
@require_GET
def export_home(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(P_VIEW_REGISTER):
        raise PermissionDenied
    return render(
        request,
        "exchange/exports.html",
        {
            "specs": list(SPECS.values()),
            "full_personal": request.user.has_perm(P_EXPORT_PERSONAL),
        },
    )


@login_required
@require_GET
def export_download(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    try:
        export = services.export_open(actor=request.user, kind=kind, fmt=request.GET.get("format", "xlsx"))
    except Forbidden:
        raise PermissionDenied
    except ServiceError:
        raise Http404
    return export_response(export)
