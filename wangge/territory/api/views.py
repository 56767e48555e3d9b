"""Territory API: grids (list, detail, locate) and the territory tree. Reads only, through the selectors."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import P_VIEW_TERRITORY
from wangge.core.errors import NotFound
from wangge.territory import selectors
from wangge.territory.coords import to_wgs84
from wangge.territory.locator import locate_point
from wangge.territory.models import Territory

from .serializers import GridSerializer, LocateQuerySerializer, LocateResultSerializer, TerritorySerializer


class CanViewTerritory(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm(P_VIEW_TERRITORY))


class GridList(generics.ListAPIView):
    """Grids in force today inside the caller's territory, with their boundary (needs accounts.view_territory)."""

    serializer_class = GridSerializer
    permission_classes = [IsAuthenticated, CanViewTerritory]
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Territory]:
        return selectors.grid_list(user=self.request.user)


class GridDetail(generics.RetrieveAPIView):
    """One grid inside the caller's territory (a retired grid shows its last boundary); 404 outside it."""

    serializer_class = GridSerializer
    permission_classes = [IsAuthenticated, CanViewTerritory]

    def get_object(self) -> Territory:
        return selectors.grid_get(user=self.request.user, pk=self.kwargs["pk"])


class TerritoryList(generics.ListAPIView):
    """Territory nodes in force today inside the caller's territory, in code order (a flat tree: see parent)."""

    serializer_class = TerritorySerializer
    permission_classes = [IsAuthenticated, CanViewTerritory]
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Territory]:
        return selectors.territory_nodes(user=self.request.user)


class GridLocate(APIView):
    """The grid holding a point. Open to every signed-in user: it reveals only public grid names.

    400 `invalid` when lat/lng/crs are missing or wrong; 404 `not_in_any_grid` when no grid holds the point.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="纬度"),
            OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True, description="经度"),
            OpenApiParameter(
                "crs",
                OpenApiTypes.STR,
                enum=["wgs84", "gcj02", "bd09"],
                default="wgs84",
                description="坐标系：wgs84（GPS/天地图）、gcj02（高德/腾讯/微信）、bd09（百度）",
            ),
        ],
        responses={
            200: LocateResultSerializer,
            400: OpenApiResponse(description="参数错误 {code, message, details}"),
            404: OpenApiResponse(description="该位置不在任何网格内 {code: not_in_any_grid}"),
        },
    )
    def get(self, request: Request) -> Response:
        query = LocateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data: dict[str, Any] = query.validated_data
        grid = locate_point(lat=data["lat"], lng=data["lng"], crs=data["crs"])
        if grid is None:
            raise NotFound("该位置不在任何网格内", code="not_in_any_grid")
        lng, lat = to_wgs84(data["lng"], data["lat"], data["crs"])
        community = grid.parent
        street = community.parent if community is not None else None
        result = {
            "code": grid.code,
            "name": grid.name,
            "grid_type": grid.grid_type,
            "community": {"code": community.code, "name": community.name} if community else None,
            "street": {"code": street.code, "name": street.name} if street else None,
            "lat": round(lat, 7),
            "lng": round(lng, 7),
        }
        return Response(LocateResultSerializer(result).data)
