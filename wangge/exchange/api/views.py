"""Import/export API. Views only translate HTTP; the work is in wangge.exchange.services."""

from typing import Any

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from wangge.core.api import FileAPIView
from wangge.exchange import selectors, services
from wangge.exchange.downloads import attachment
from wangge.exchange.models import ImportJob

from .serializers import ImportCreateSerializer, ImportJobSerializer


class ImportListCreate(generics.ListCreateAPIView):
    """GET: my import jobs (and those of people in my territory). POST (multipart kind + file): start an import.

    POST answers 201 with the job; poll GET /imports/{id}/ for progress. Needs accounts.import_register
    (grids: accounts.manage_territory). Bad files are refused with 400 before a job exists.
    """

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    filter_backends: list = []

    def get_queryset(self) -> Any:
        services.import_jobs_expire()  # a job whose worker died shows as failed, not running forever
        return selectors.import_jobs_visible(self.request.user).order_by("-id")

    @extend_schema(request=ImportCreateSerializer, responses={201: ImportJobSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.import_job_create(
            actor=request.user, kind=data.validated_data["kind"], upload=data.validated_data["file"]
        )
        return Response(
            ImportJobSerializer(job, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ImportDetail(generics.RetrieveAPIView):
    """One import job: status, progress counters, error report URL. 404 outside the caller's reach."""

    serializer_class = ImportJobSerializer

    def get_object(self) -> ImportJob:
        services.import_jobs_expire()
        return selectors.import_job_get(self.request.user, self.kwargs["pk"])


class ImportErrorReport(FileAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        """The error report (.xlsx: 行号, 列, 内容 (masked), 错误原因) of one import job."""
        job = selectors.import_job_get(request.user, pk)
        if not job.error_report:
            from wangge.core.errors import NotFound

            raise NotFound("该导入任务没有错误报告", code="not_found")
        return attachment(FileResponse(job.error_report.open("rb")), f"错误报告-{job.pk}.xlsx")


class ImportTemplate(FileAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, kind: str) -> HttpResponse:
        """Blank import template for `kind` (.xlsx with a 填写说明 sheet; grids: an example .geojson)."""
        name, content_type, data = services.template_file(kind)
        return attachment(HttpResponse(data, content_type=content_type), name)


class Export(FileAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["xlsx", "csv"], description="默认 xlsx")],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            403: OpenApiResponse(description="无权限"),
        },
    )
    def get(self, request: Request, kind: str) -> StreamingHttpResponse:
        """Export a register (residents/buildings/places/facilities) of the caller's territory, audited.

        ID numbers and phones are full only with accounts.export_personal, masked otherwise.
        """
        export = services.export_open(
            actor=request.user, kind=kind, fmt=request.query_params.get("format", "xlsx")
        )
        return export_response(export)


def export_response(export: services.Export) -> StreamingHttpResponse:
    if export.content_type == services.files.XLSX_TYPE:
        response: StreamingHttpResponse = FileResponse(export.stream, content_type=export.content_type)
    else:
        response = StreamingHttpResponse(export.stream, content_type=export.content_type)
    response["X-Export-Count"] = str(export.count)
    response["X-Export-Masked"] = "1" if export.masked else "0"
    return attachment(response, export.filename)
