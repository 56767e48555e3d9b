"""Register API (B1–B4, B6): thin views over wangge.registry selectors, services and display helpers.

Referenced ids (dwelling, building, grid, …) are resolved through scoped selectors, so an id outside the
caller's territory is a 404 just like an unknown one.
"""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from wangge.core.api import paginated, per_row, validated
from wangge.core.errors import InvalidInput
from wangge.registry import selectors, services
from wangge.registry.display import (
    building_display,
    dwelling_display,
    facility_display,
    occupancy_display,
    organisation_display,
    place_display,
    resident_card,
    resident_display_many,
)
from wangge.registry.models import Facility, KeyGroup, Organisation, Place, Resident
from wangge.territory.models import Building, Dwelling

from . import serializers as s

_REFS: dict[str, Callable[..., Any]] = {
    "dwelling": selectors.dwelling_get,
    "building": selectors.building_get,
    "grid": selectors.territory_node_get,
    "community": selectors.territory_node_get,
    "compound": selectors.compound_get,
}


def _resolve(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Turn referenced ids into objects the caller may see (None stays None)."""
    for key, getter in _REFS.items():
        if key in data and data[key] is not None:
            data[key] = getter(user=request.user, pk=data[key])
    if "compounds" in data:
        data["compounds"] = [selectors.compound_get(user=request.user, pk=pk) for pk in data["compounds"]]
    return data


PATH = OpenApiParameter("path", str, description="区划/网格编码前缀")
Q = OpenApiParameter("q", str, description="关键词")


class ResidentViewSet(viewsets.GenericViewSet):
    """居民 (一人一表). Lists show masked values only; full values through /reveal/ with a reason."""

    queryset = Resident.objects.none()
    serializer_class = s.ResidentRow

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q", str, description="姓名片段。身份证号/手机号不能出现在网址中：请用 POST search/"
            ),
            OpenApiParameter("tag", str, description="重点人群代码"),
            PATH,
        ],
        responses=s.ResidentRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        if selectors.is_personal_number_query(p.get("q", "")):
            # Personal values never belong in URLs (they end up in proxy and access logs).
            raise InvalidInput(
                "按身份证号或手机号查询请使用 POST /api/v1/residents/search/，不要放在网址中",
                code="use_post_search",
            )
        qs = selectors.resident_search(
            user=request.user, q=p.get("q", ""), tag=p.get("tag", ""), path=p.get("path", "")
        )
        return paginated(self, qs, resident_display_many)

    @extend_schema(request=s.ResidentSearch, responses=s.ResidentRow(many=True))
    @action(detail=False, methods=["post"])
    def search(self, request: Request) -> Response:
        """Search with the terms in the body, so an ID number or phone never appears in a URL."""
        data = validated(s.ResidentSearch, request)
        qs = selectors.resident_search(user=request.user, **data)
        return paginated(self, qs, resident_display_many)

    @extend_schema(responses=s.ResidentCard)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(resident_card(selectors.resident_get(user=request.user, pk=pk)))

    @extend_schema(request=s.ResidentWrite, responses={201: s.ResidentCard})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.ResidentWrite, request))
        resident = services.resident_create(actor=request.user, **data)
        resident = selectors.resident_get(user=request.user, pk=resident.pk)
        return Response(resident_card(resident), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ResidentUpdate, responses=s.ResidentCard)
    def partial_update(self, request: Request, pk: str) -> Response:
        resident = selectors.resident_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.ResidentUpdate, request, partial=True))
        services.resident_update(actor=request.user, resident=resident, **data)
        return Response(resident_card(selectors.resident_get(user=request.user, pk=pk)))

    @extend_schema(request=s.RevealRequest, responses=s.RevealResponse)
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        """The full ID number, phone or health notes; needs a reason, and the view is audited."""
        resident = selectors.resident_get(user=request.user, pk=pk)
        data = validated(s.RevealRequest, request)
        value = services.resident_reveal(actor=request.user, resident=resident, **data)
        return Response({"value": value}, headers={"Cache-Control": "no-store"})

    @extend_schema(request=s.MoveIn, responses=s.ResidentCard)
    @action(detail=True, methods=["post"], url_path="move-in")
    def move_in(self, request: Request, pk: str) -> Response:
        resident = selectors.resident_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.MoveIn, request))
        services.resident_move_in(actor=request.user, resident=resident, **data)
        return Response(resident_card(selectors.resident_get(user=request.user, pk=pk)))

    @extend_schema(request=s.MoveOut, responses=s.ResidentCard)
    @action(detail=True, methods=["post"], url_path="move-out")
    def move_out(self, request: Request, pk: str) -> Response:
        resident = selectors.resident_get(user=request.user, pk=pk)
        data = validated(s.MoveOut, request)
        services.resident_move_out(actor=request.user, resident=resident, **data)
        return Response(resident_card(selectors.resident_get(user=request.user, pk=pk)))

    @extend_schema(responses=s.OccupancyRow(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # the whole history, not paginated
    def occupancies(self, request: Request, pk: str) -> Response:
        resident = selectors.resident_get(user=request.user, pk=pk)
        rows = selectors.resident_occupancies(user=request.user, resident=resident)
        return Response([occupancy_display(o) for o in rows])


class BuildingViewSet(viewsets.GenericViewSet):
    """楼栋; the detail is the building register (一幢一册) with the seven-colour plate counts."""

    queryset = Building.objects.none()
    serializer_class = s.BuildingRow

    @extend_schema(parameters=[PATH, Q], responses=s.BuildingRow(many=True))
    def list(self, request: Request) -> Response:
        p = request.query_params
        qs = selectors.building_list(user=request.user, path=p.get("path", ""), q=p.get("q", ""))
        return paginated(self, qs, per_row(building_display))

    @extend_schema(responses=s.BuildingCard)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(selectors.building_card(user=request.user, pk=pk))

    @extend_schema(request=s.BuildingWrite, responses={201: s.BuildingRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.BuildingWrite, request))
        building = services.building_create(actor=request.user, **data)
        return Response(building_display(building), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.BuildingUpdate, responses=s.BuildingRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        building = selectors.building_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.BuildingUpdate, request, partial=True))
        return Response(
            building_display(services.building_update(actor=request.user, building=building, **data))
        )


class DwellingViewSet(viewsets.GenericViewSet):
    """房屋 (一户一档): use, and current occupants."""

    queryset = Dwelling.objects.none()
    serializer_class = s.DwellingRow

    @extend_schema(
        parameters=[OpenApiParameter("building", int, description="楼栋 id"), PATH],
        responses=s.DwellingRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        building = selectors.building_get(user=request.user, pk=p["building"]) if p.get("building") else None
        qs = selectors.dwelling_list(user=request.user, building=building, path=p.get("path", ""))
        return paginated(self, qs, per_row(dwelling_display))

    @extend_schema(responses=s.DwellingDetail)
    def retrieve(self, request: Request, pk: str) -> Response:
        dwelling = selectors.dwelling_get(user=request.user, pk=pk)
        data = dwelling_display(dwelling)
        data["occupants"] = selectors.dwelling_occupants(user=request.user, dwelling=dwelling)
        return Response(data)

    @extend_schema(request=s.DwellingWrite, responses={201: s.DwellingRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.DwellingWrite, request))
        return Response(dwelling_display(services.dwelling_create(actor=request.user, **data)), status=201)

    @extend_schema(request=s.DwellingUpdate, responses=s.DwellingRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        dwelling = selectors.dwelling_get(user=request.user, pk=pk)
        data = validated(s.DwellingUpdate, request, partial=True)
        return Response(
            dwelling_display(services.dwelling_update(actor=request.user, dwelling=dwelling, **data))
        )


class PlaceViewSet(viewsets.GenericViewSet):
    """场所/商户 with licence status; the operator's phone is masked."""

    queryset = Place.objects.none()
    serializer_class = s.PlaceRow

    @extend_schema(
        parameters=[PATH, Q, OpenApiParameter("licence_status", str), OpenApiParameter("kind", str)],
        responses=s.PlaceRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        qs = selectors.place_list(
            user=request.user,
            path=p.get("path", ""),
            q=p.get("q", ""),
            licence_status=p.get("licence_status", ""),
            kind=p.get("kind", ""),
        )
        return paginated(self, qs, per_row(place_display))

    @extend_schema(responses=s.PlaceRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(place_display(selectors.place_get(user=request.user, pk=pk)))

    @extend_schema(request=s.PlaceWrite, responses={201: s.PlaceRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.PlaceWrite, request))
        return Response(place_display(services.place_create(actor=request.user, **data)), status=201)

    @extend_schema(request=s.PlaceUpdate, responses=s.PlaceRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        place = selectors.place_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.PlaceUpdate, request, partial=True))
        return Response(place_display(services.place_update(actor=request.user, place=place, **data)))


class FacilityViewSet(viewsets.GenericViewSet):
    """部件 with 16-digit GB/T 30428 codes."""

    queryset = Facility.objects.none()
    serializer_class = s.FacilityRow

    @extend_schema(
        parameters=[
            PATH,
            Q,
            OpenApiParameter("major", str),
            OpenApiParameter("minor", str),
            OpenApiParameter("condition", str),
        ],
        responses=s.FacilityRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        qs = selectors.facility_list(
            user=request.user,
            path=p.get("path", ""),
            q=p.get("q", ""),
            major=p.get("major", ""),
            minor=p.get("minor", ""),
            condition=p.get("condition", ""),
        )
        return paginated(self, qs, per_row(facility_display))

    @extend_schema(responses=s.FacilityRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(facility_display(selectors.facility_get(user=request.user, pk=pk)))

    @extend_schema(request=s.FacilityWrite, responses={201: s.FacilityRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.FacilityWrite, request))
        return Response(facility_display(services.facility_create(actor=request.user, **data)), status=201)

    @extend_schema(request=s.FacilityUpdate, responses=s.FacilityRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        facility = selectors.facility_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.FacilityUpdate, request, partial=True))
        return Response(
            facility_display(services.facility_update(actor=request.user, facility=facility, **data))
        )


class OrganisationViewSet(viewsets.GenericViewSet):
    """社会组织、业委会、物业公司、志愿服务队."""

    queryset = Organisation.objects.none()
    serializer_class = s.OrganisationRow

    @extend_schema(
        parameters=[PATH, Q, OpenApiParameter("kind", str)], responses=s.OrganisationRow(many=True)
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        qs = selectors.organisation_list(
            user=request.user, path=p.get("path", ""), q=p.get("q", ""), kind=p.get("kind", "")
        )
        return paginated(self, qs, per_row(organisation_display))

    @extend_schema(responses=s.OrganisationRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(organisation_display(selectors.organisation_get(user=request.user, pk=pk)))

    @extend_schema(request=s.OrganisationWrite, responses={201: s.OrganisationRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(s.OrganisationWrite, request))
        return Response(
            organisation_display(services.organisation_create(actor=request.user, **data)), status=201
        )

    @extend_schema(request=s.OrganisationUpdate, responses=s.OrganisationRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        org = selectors.organisation_get(user=request.user, pk=pk)
        data = _resolve(request, validated(s.OrganisationUpdate, request, partial=True))
        return Response(
            organisation_display(services.organisation_update(actor=request.user, organisation=org, **data))
        )


class KeyGroupViewSet(viewsets.GenericViewSet):
    """重点人群 definitions and per-territory counts (derived groups computed from today's date)."""

    queryset = KeyGroup.objects.none()
    serializer_class = s.KeyGroupRow
    pagination_class = None

    @extend_schema(responses=s.KeyGroupRow(many=True))
    def list(self, request: Request) -> Response:
        return Response(s.KeyGroupRow(selectors.keygroup_list(), many=True).data)

    @extend_schema(parameters=[PATH], responses=s.KeyGroupCount(many=True))
    @action(detail=False, methods=["get"])
    def counts(self, request: Request) -> Response:
        return Response(
            selectors.keygroup_counts(user=request.user, path=request.query_params.get("path", ""))
        )
