"""Party organisation tree (T2) and member units (T3): thin views over party selectors and services."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from wangge.core.api import paginated, per_row, validated
from wangge.party import selectors, services
from wangge.party.models import MemberUnit, PartyOrg
from wangge.registry import selectors as registry_selectors

# --- shapes ------------------------------------------------------------------------------------------


class PartyOrgWrite(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    level = serializers.CharField(help_text="committee/branch/group/household")
    parent = serializers.IntegerField(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="上级党组织 id（社区党委不填）"
    )
    territory = serializers.IntegerField(
        required=False, allow_null=True, help_text="社区党委：社区 id；网格党支部：网格 id"
    )
    building = serializers.IntegerField(required=False, allow_null=True, help_text="楼栋党小组：楼栋 id")
    dwelling = serializers.IntegerField(required=False, allow_null=True, help_text="党员中心户：房屋 id")
    secretary = serializers.CharField(required=False, allow_blank=True, max_length=50)
    members_count = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class PartyOrgUpdate(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=150)
    secretary = serializers.CharField(required=False, allow_blank=True, max_length=50)
    members_count = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class NodeRef(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class PartyOrgRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.CharField()
    level_label = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    territory = NodeRef()
    building_id = serializers.IntegerField(allow_null=True)
    dwelling_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]
    secretary = serializers.CharField()
    members_count = serializers.IntegerField()
    path = serializers.CharField()


_ROW = {"$ref": "#/components/schemas/PartyOrgRow"}
_NODE = {
    "allOf": [
        _ROW,
        {
            "type": "object",
            "properties": {
                "children": {"type": "array", "items": {"type": "object"}, "description": "下级节点"}
            },
            "required": ["children"],
        },
    ]
}
# GET party-orgs/ answers a page of rows, or with ?tree=1 the whole scoped tree as a plain list.
LIST_OR_TREE = {
    "oneOf": [
        {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": {"type": "array", "items": _ROW},
            },
        },
        {"type": "array", "items": _NODE},
    ]
}


@extend_schema_serializer(many=False)  # not wrapped in a page: the schema below has both shapes
class PartyOrgListOrTree(serializers.Serializer):
    """Documentation only: GET party-orgs/ answers LIST_OR_TREE."""


class _ListOrTreeSchema(OpenApiSerializerExtension):
    target_class = PartyOrgListOrTree

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        return LIST_OR_TREE


class MemberUnitWrite(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    community = serializers.IntegerField()
    kind = serializers.CharField(required=False)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    zones = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="责任片区（区划/网格 id）"
    )
    responsibility = serializers.CharField(required=False, allow_blank=True)


class MemberUnitUpdate(MemberUnitWrite):
    community = None  # type: ignore[assignment]
    name = serializers.CharField(required=False, max_length=150)


class MemberUnitRow(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    community = NodeRef()
    contact_name = serializers.CharField()
    contact_phone = serializers.CharField()
    address = serializers.CharField()
    zones = NodeRef(many=True)
    responsibility = serializers.CharField()
    path = serializers.CharField()


# --- views -------------------------------------------------------------------------------------------


def _resolve(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    user = request.user
    getters = {
        "parent": selectors.partyorg_get,
        "territory": registry_selectors.territory_node_get,
        "community": registry_selectors.territory_node_get,
        "building": registry_selectors.building_get,
        "dwelling": registry_selectors.dwelling_get,
    }
    for key, getter in getters.items():
        if data.get(key) is not None:
            data[key] = getter(user=user, pk=data[key])
    if "zones" in data:
        data["zones"] = [registry_selectors.territory_node_get(user=user, pk=pk) for pk in data["zones"]]
    return data


class PartyOrgViewSet(viewsets.GenericViewSet):
    """党组织: 社区党委 → 网格党支部 → 楼栋党小组 → 党员中心户, within the caller's territory."""

    queryset = PartyOrg.objects.none()
    serializer_class = PartyOrgRow

    @extend_schema(
        parameters=[
            OpenApiParameter("tree", bool, description="1 = 嵌套树（children），否则为带 parent_id 的列表"),
            OpenApiParameter("path", str),
            OpenApiParameter("level", str),
        ],
        responses=PartyOrgListOrTree,
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        if p.get("tree") in ("1", "true", "yes"):
            return Response(selectors.partyorg_tree(user=request.user, path=p.get("path", "")))
        qs = selectors.partyorg_list(user=request.user, path=p.get("path", ""), level=p.get("level", ""))
        return paginated(self, qs, per_row(selectors.partyorg_row))

    @extend_schema(responses=PartyOrgRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(selectors.partyorg_row(selectors.partyorg_get(user=request.user, pk=pk)))

    @extend_schema(request=PartyOrgWrite, responses={201: PartyOrgRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(PartyOrgWrite, request))
        org = services.partyorg_create(actor=request.user, **data)
        return Response(selectors.partyorg_row(org), status=status.HTTP_201_CREATED)

    @extend_schema(request=PartyOrgUpdate, responses=PartyOrgRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        org = selectors.partyorg_get(user=request.user, pk=pk)
        data = validated(PartyOrgUpdate, request, partial=True)
        return Response(selectors.partyorg_row(services.partyorg_update(actor=request.user, org=org, **data)))


class MemberUnitViewSet(viewsets.GenericViewSet):
    """大党委成员单位 with responsibility zones (责任片区)."""

    queryset = MemberUnit.objects.none()
    serializer_class = MemberUnitRow

    @extend_schema(
        parameters=[
            OpenApiParameter("path", str),
            OpenApiParameter("q", str),
            OpenApiParameter("kind", str),
            OpenApiParameter("zone", str, description="只列出责任片区在该区划/网格编码下的单位"),
        ],
        responses=MemberUnitRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        qs = selectors.memberunit_list(
            user=request.user,
            path=p.get("path", ""),
            q=p.get("q", ""),
            kind=p.get("kind", ""),
            zone=p.get("zone", ""),
        )
        return paginated(self, qs, per_row(selectors.memberunit_row))

    @extend_schema(responses=MemberUnitRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(selectors.memberunit_row(selectors.memberunit_get(user=request.user, pk=pk)))

    @extend_schema(request=MemberUnitWrite, responses={201: MemberUnitRow})
    def create(self, request: Request) -> Response:
        data = _resolve(request, validated(MemberUnitWrite, request))
        unit = services.memberunit_create(actor=request.user, **data)
        return Response(selectors.memberunit_row(unit), status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUnitUpdate, responses=MemberUnitRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        unit = selectors.memberunit_get(user=request.user, pk=pk)
        data = _resolve(request, validated(MemberUnitUpdate, request, partial=True))
        return Response(
            selectors.memberunit_row(services.memberunit_update(actor=request.user, unit=unit, **data))
        )
