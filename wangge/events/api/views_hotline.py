"""12345 hotline bulk import API. Views only translate HTTP; the work is in wangge.events.intake.hotline."""

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import P_IMPORT_REGISTER
from wangge.core.api import FileAPIView
from wangge.core.errors import Forbidden
from wangge.events.intake import hotline
from wangge.exchange.downloads import attachment
from wangge.exchange.files import XLSX_TYPE
from wangge.territory.coords import CRS_CHOICES, WGS84


class HotlineUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="12345 工单导出文件（.xlsx/.xls/.csv）")
    crs = serializers.ChoiceField(
        choices=CRS_CHOICES,
        default=WGS84,
        help_text="经纬度的坐标系：wgs84（默认）、gcj02（高德/腾讯）、bd09（百度）",
    )


class HotlineRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="文件中的行号")
    column = serializers.CharField(help_text="列名（整行错误为“（整行）”）")
    value = serializers.CharField(help_text="单元格内容（个人信息已脱敏）")
    reason = serializers.CharField(help_text="错误原因")


class HotlineResultSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="读取的工单行数")
    created = serializers.IntegerField(help_text="新登记的事件数")
    duplicates = serializers.IntegerField(help_text="已登记过的工单（按工单编号，不重复登记）")
    error_rows = serializers.IntegerField(help_text="有错误未导入的行数")
    # Response documentation only: the field shadows Serializer.errors, which is never used here.
    errors = HotlineRowErrorSerializer(many=True, help_text="错误明细（最多500条）")  # type: ignore[assignment]
    tracking_codes = serializers.ListField(child=serializers.CharField(), help_text="新事件的查询码")


class HotlineImport(APIView):
    """Import 12345 work orders (multipart `file`, optional `crs`). Each row becomes an event through
    the intake pipeline; the same 工单编号 is never registered twice. Needs accounts.import_register
    (district, street and community staff — the offices that receive 12345 orders)."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=HotlineUploadSerializer, responses={200: HotlineResultSerializer})
    def post(self, request: Request) -> Response:
        data = HotlineUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = hotline.hotline_import(
            actor=request.user, file=data.validated_data["file"], crs=data.validated_data["crs"]
        )
        return Response(result.as_dict())


class HotlineTemplate(FileAPIView):
    """The blank 12345 work-order template (.xlsx with column notes)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request) -> HttpResponseBase:
        if not request.user.has_perm(P_IMPORT_REGISTER):
            raise Forbidden("没有导入12345工单的权限", code="permission_denied")
        return attachment(
            HttpResponse(hotline.hotline_template(), content_type=XLSX_TYPE), "12345工单导入模板.xlsx"
        )
