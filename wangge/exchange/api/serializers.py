from typing import Any

from django.urls import reverse
from rest_framework import serializers

from wangge.exchange.models import ImportJob, ImportKind


class ImportCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=ImportKind.choices, help_text="residents/buildings/places/facilities/grids"
    )
    file = serializers.FileField(help_text=".xlsx/.xls/.csv（网格：.geojson）")


class ImportJobSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    error_report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "kind_label",
            "status",
            "status_label",
            "original_name",
            "file_sha256",
            "total_rows",
            "processed_rows",
            "created_rows",
            "updated_rows",
            "error_rows",
            "first_row",
            "committed_row",
            "heartbeat_at",
            "percent",
            "message",
            "error_report_url",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error_report_url(self, job: ImportJob) -> str | None:
        if not job.error_report:
            return None
        url = reverse("api-import-errors", kwargs={"pk": job.pk})
        request: Any = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url
