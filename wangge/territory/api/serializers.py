from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from wangge.territory.coords import CRS_CHOICES, WGS84
from wangge.territory.models import GridType, Territory
from wangge.territory.selectors import grid_boundary_of


class TerritoryRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


def _ref(node: Territory | None) -> dict[str, str] | None:
    return {"code": node.code, "name": node.name} if node is not None else None


class TerritorySerializer(serializers.ModelSerializer):
    """A node of the territory tree (district, street, community or grid)."""

    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)  # type: ignore[assignment]
    path = serializers.CharField(read_only=True)
    # Only grids have a type; the other levels answer "" (declared, so the schema's enum admits it).
    grid_type = serializers.ChoiceField(
        choices=GridType.choices,
        allow_blank=True,
        read_only=True,
        help_text="网格类型（非网格层级为空字符串）",
    )

    class Meta:
        model = Territory
        fields = ["id", "level", "code", "path", "name", "parent", "grid_type", "valid_from", "valid_to"]
        read_only_fields = fields


class GridSerializer(serializers.ModelSerializer):
    """A grid with its community, street and boundary (GeoJSON geometry, WGS-84)."""

    path = serializers.CharField(read_only=True)
    community = serializers.SerializerMethodField()
    street = serializers.SerializerMethodField()
    polygon = serializers.SerializerMethodField()

    class Meta:
        model = Territory
        fields = [
            "id",
            "code",
            "path",
            "name",
            "grid_type",
            "community",
            "street",
            "polygon",
            "valid_from",
            "valid_to",
        ]
        read_only_fields = fields

    @extend_schema_field(TerritoryRefSerializer(allow_null=True))
    def get_community(self, obj: Territory) -> dict[str, str] | None:
        return _ref(obj.parent)

    @extend_schema_field(TerritoryRefSerializer(allow_null=True))
    def get_street(self, obj: Territory) -> dict[str, str] | None:
        return _ref(obj.parent.parent if obj.parent is not None else None)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_polygon(self, obj: Territory) -> dict[str, Any] | None:
        boundary = grid_boundary_of(obj)
        return boundary.geojson if boundary is not None else None


class LocateQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text="纬度")
    lng = serializers.FloatField(min_value=-180, max_value=180, help_text="经度")
    crs = serializers.ChoiceField(
        choices=CRS_CHOICES,
        default=WGS84,
        help_text="坐标系：wgs84（GPS/天地图）、gcj02（高德/腾讯/微信）、bd09（百度）",
    )


class LocateResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    grid_type = serializers.CharField()
    community = TerritoryRefSerializer(allow_null=True)
    street = TerritoryRefSerializer(allow_null=True)
    lat = serializers.FloatField(help_text="WGS-84 纬度（换算后）")
    lng = serializers.FloatField(help_text="WGS-84 经度（换算后）")
