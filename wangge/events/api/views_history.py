"""Import of an older system's closed cases. Views only translate HTTP; the work is in
wangge.events.intake.history."""

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import FileAPIView
from wangge.core.guards import require_district_admin
from wangge.events import services
from wangge.events.intake import history_template
from wangge.exchange.downloads import attachment
from wangge.exchange.files import XLSX_TYPE

from .views_hotline import HotlineRowErrorSerializer, HotlineUploadSerializer


class HistoryUploadSerializer(HotlineUploadSerializer):  # the same file and coordinate system fields
    file = serializers.FileField(help_text="原系统导出的历史案件（.xlsx/.xls/.csv）")


class HistoryResultSerializer(serializers.Serializer):
    job = serializers.CharField(help_text="本次导入的编号（记在每个导入事件的 extra.imported.job）")
    total = serializers.IntegerField(help_text="读取的案件行数")
    created = serializers.IntegerField(help_text="新导入的事件数")
    unchanged = serializers.IntegerField(help_text="已导入过且内容相同的行（按原系统编号，不重复导入）")
    conflicts = serializers.IntegerField(help_text="已导入过但内容不同的行（不覆盖，列入错误明细）")
    error_rows = serializers.IntegerField(help_text="未导入的行数（含冲突）")
    # Response documentation only: the field shadows Serializer.errors, which is never used here.
    errors = HotlineRowErrorSerializer(many=True, help_text="错误明细（最多500条）")  # type: ignore[assignment]


class HistoryImport(APIView):
    """Import an older system's closed cases (multipart `file`, optional `crs`): kept with their own
    dates, nothing sent, no clocks; the same 原系统编号 is never imported twice. District admins only."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=HistoryUploadSerializer, responses={200: HistoryResultSerializer})
    def post(self, request: Request) -> Response:
        require_district_admin(request.user, "仅限区级管理员导入历史事件")
        data = HistoryUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.history_import(
            actor=request.user, file=data.validated_data["file"], crs=data.validated_data["crs"]
        )
        return Response(result.as_dict())


class HistoryTemplate(FileAPIView):
    """The blank history template (.xlsx with column notes)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> HttpResponseBase:
        require_district_admin(request.user, "仅限区级管理员导入历史事件")
        return attachment(HttpResponse(history_template(), content_type=XLSX_TYPE), "历史事件导入模板.xlsx")
