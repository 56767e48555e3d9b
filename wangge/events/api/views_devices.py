"""Devices (I3) and the SOS watch (S6) API: thin views over wangge.events.sos.devices and wangge.events.sos.

- /api/v1/devices/ — register (POST), list (GET); /api/v1/devices/{id}/ — detail (GET), correct (PUT:
  the whole binding; PATCH: only the fields sent; the device id never changes);
  /api/v1/devices/{id}/deactivate/ — stop accepting its messages.
- /api/v1/events/{id}/sos-ack/ — acknowledge an SOS (users of the current or an earlier duty step).
- /api/v1/sos/ — the board of unacknowledged SOS watches in the caller's territory.
Everything is bounded by the caller's territory: ids outside it are 404.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import paginated, per_row, validated
from wangge.events import sos
from wangge.events.models import Device
from wangge.events.sos import devices


class DeviceRow(serializers.Serializer):
    id = serializers.IntegerField()
    device_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    kind_display = serializers.CharField()
    name = serializers.CharField()
    resident_id = serializers.IntegerField(allow_null=True)
    place = inline_serializer(
        "DeviceRef", {"id": serializers.IntegerField(), "name": serializers.CharField()}, allow_null=True
    )
    building = inline_serializer(
        "DeviceBuildingRef",
        {"id": serializers.IntegerField(), "name": serializers.CharField()},
        allow_null=True,
    )
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    path = serializers.CharField()
    life_safety = serializers.BooleanField()
    active = serializers.BooleanField()
    last_seen = serializers.DateTimeField(allow_null=True)


class DeviceWrite(serializers.Serializer):
    device_id = serializers.CharField(max_length=64, help_text="设备编号（MQTT 主题中的 {device_id}）")
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    resident_id = serializers.IntegerField(required=False, allow_null=True, help_text="绑定居民（手环）")
    place_id = serializers.IntegerField(required=False, allow_null=True, help_text="绑定场所/商户")
    building_id = serializers.IntegerField(required=False, allow_null=True, help_text="绑定楼栋")
    lat = serializers.FloatField(required=False, allow_null=True, help_text="WGS-84 纬度")
    lng = serializers.FloatField(required=False, allow_null=True, help_text="WGS-84 经度")
    life_safety = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="生命安全类（默认：手环、烟感、燃气为是）"
    )


class DeviceUpdate(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Device.Kind.choices)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    resident_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    place_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    building_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    lat = serializers.FloatField(required=False, allow_null=True, default=None)
    lng = serializers.FloatField(required=False, allow_null=True, default=None)
    life_safety = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="生命安全类（不填：按设备类型）"
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="是否启用")


class Deactivate(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SosAck(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SosRow(serializers.Serializer):
    event_id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    address = serializers.CharField()
    path = serializers.CharField()
    category = serializers.CharField()
    step = serializers.IntegerField()
    step_role = serializers.CharField(required=False)
    step_level = serializers.CharField(required=False)
    step_deadline = serializers.DateTimeField()
    overdue = serializers.BooleanField()
    started_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.IntegerField(allow_null=True)
    can_acknowledge = serializers.BooleanField(required=False)


class DeviceViewSet(viewsets.GenericViewSet):
    """登记的传感器和智能手环。告警经 MQTT 主题 {prefix}/{device_id}/alarm 和 {prefix}/{device_id}/sos 上报。"""

    queryset = Device.objects.none()
    serializer_class = DeviceRow

    @extend_schema(
        parameters=[
            OpenApiParameter("path", str, description="区划/网格编码前缀"),
            OpenApiParameter("kind", str, description="设备类型"),
            OpenApiParameter("active", bool, description="是否启用"),
            OpenApiParameter("q", str, description="设备编号或名称"),
        ],
        responses=DeviceRow(many=True),
    )
    def list(self, request: Request) -> Response:
        p = request.query_params
        active = p.get("active")
        qs = devices.device_list(
            user=request.user,
            path=p.get("path", ""),
            kind=p.get("kind", ""),
            active=None if active in (None, "") else active.lower() in ("1", "true", "yes"),
            q=p.get("q", ""),
        )
        return paginated(self, qs, per_row(devices.device_display))

    @extend_schema(responses=DeviceRow)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(devices.device_display(devices.device_get(user=request.user, pk=pk)))

    @extend_schema(request=DeviceWrite, responses={201: DeviceRow})
    def create(self, request: Request) -> Response:
        device = devices.device_register(actor=request.user, **validated(DeviceWrite, request))
        device = devices.device_get(user=request.user, pk=device.pk)
        return Response(devices.device_display(device), status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceUpdate, responses=DeviceRow)
    def update(self, request: Request, pk: str) -> Response:
        device = devices.device_get(user=request.user, pk=pk)
        devices.device_update(actor=request.user, device=device, **validated(DeviceUpdate, request))
        return Response(devices.device_display(devices.device_get(user=request.user, pk=pk)))

    @extend_schema(request=DeviceUpdate(partial=True), responses=DeviceRow)
    def partial_update(self, request: Request, pk: str) -> Response:
        device = devices.device_get(user=request.user, pk=pk)
        devices.device_patch(
            actor=request.user, device=device, changes=validated(DeviceUpdate, request, partial=True)
        )
        return Response(devices.device_display(devices.device_get(user=request.user, pk=pk)))

    @extend_schema(request=Deactivate, responses=DeviceRow)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        device = devices.device_get(user=request.user, pk=pk)
        devices.device_deactivate(actor=request.user, device=device, **validated(Deactivate, request))
        return Response(devices.device_display(devices.device_get(user=request.user, pk=pk)))


class SosAckView(APIView):
    """确认一键呼叫：记录确认人和用时，停止逐级上报。当前或更早值守级别的人员可确认。"""

    @extend_schema(request=SosAck, responses=SosRow)
    def post(self, request: Request, pk: str) -> Response:
        watch = sos.sos_acknowledge(event_id=pk, actor=request.user, **validated(SosAck, request))
        return Response(sos.sos_watch_display(watch))


class SosBoardView(APIView):
    """一键呼叫值守看板：本辖区内尚未确认的一键呼叫，最超时的在前。"""

    @extend_schema(responses=SosRow(many=True))
    def get(self, request: Request) -> Response:
        return Response(sos.sos_board(user=request.user))
