"""Clock API: 吹哨报到, extension requests and decisions, the caller's notifications.

Thin views over wangge.events.workflow.whistle / clock / notify. Ids outside the caller's territory are 404.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from wangge.core.api import paginated, validated
from wangge.events import notify
from wangge.events.models import ExtensionRequest, Notification, Whistle, WhistleSummon
from wangge.events.workflow import clock, whistle

from . import serializers_clock as s


class EventWhistleView(GenericAPIView):
    """吹哨: a community/street (or district) officer summons departments to an event; each must report
    in (报到) within its unit's limit in working hours."""

    serializer_class = s.WhistleBlowIn
    queryset = Whistle.objects.none()
    pagination_class = None  # GET answers the event's whole (short) list; the schema must not say paginated

    @extend_schema(request=s.WhistleBlowIn, responses={201: s.WhistleOut}, tags=["吹哨报到"])
    def post(self, request: Request, pk: int) -> Response:
        data = validated(s.WhistleBlowIn, request)
        blown = whistle.whistle_blow(
            event_id=pk, actor=request.user, unit_ids=data["unit_ids"], note=data["note"]
        )
        board = whistle.whistle_queryset(user=request.user, include_closed=True).get(pk=blown.pk)
        return Response(whistle.whistle_display(board), status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.WhistleOut(many=True), tags=["吹哨报到"])
    def get(self, request: Request, pk: int) -> Response:
        """Whistles on this event (for the event page): who came, when, who did not."""
        return Response(whistle.whistle_board_for_event(user=request.user, event_id=pk))


class SummonAcknowledgeView(GenericAPIView):
    """报到: a member of the summoned unit reports in (after the deadline it is recorded as late)."""

    serializer_class = s.SummonOut
    queryset = WhistleSummon.objects.none()

    @extend_schema(request=None, responses=s.SummonOut, tags=["吹哨报到"])
    def post(self, request: Request, pk: int) -> Response:
        summon = whistle.whistle_acknowledge(summon_id=pk, actor=request.user)
        summon = type(summon).objects.select_related("unit", "acknowledged_by").get(pk=summon.pk)
        return Response(whistle.summon_display(summon))


class WhistleBoardView(GenericAPIView):
    """吹哨报到看板: open whistles in the caller's territory or summoning the caller's units."""

    serializer_class = s.WhistleOut
    queryset = Whistle.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("all", bool, description="含已办结事件的吹哨")],
        responses=s.WhistleOut(many=True),
        tags=["吹哨报到"],
    )
    def get(self, request: Request) -> Response:
        include_closed = request.query_params.get("all", "") in ("1", "true", "yes")
        qs = whistle.whistle_queryset(user=request.user, include_closed=include_closed)
        page = self.paginate_queryset(qs)
        rows = page if page is not None else list(qs[:500])
        data = [whistle.whistle_display(w) for w in rows]
        return self.get_paginated_response(data) if page is not None else Response(data)


class EventExtensionsView(GenericAPIView):
    """Extension requests (延期申请) of an event: list, or request more time for the current stage."""

    serializer_class = s.ExtensionIn
    queryset = ExtensionRequest.objects.none()
    pagination_class = None  # GET answers the event's whole (short) list; the schema must not say paginated

    @extend_schema(responses=s.ExtensionOut(many=True), tags=["时限"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.ExtensionOut(clock.extension_list(user=request.user, event_id=pk), many=True).data)

    @extend_schema(request=s.ExtensionIn, responses={201: s.ExtensionOut}, tags=["时限"])
    def post(self, request: Request, pk: int) -> Response:
        data = validated(s.ExtensionIn, request)
        req = clock.extension_request(
            event_id=pk, actor=request.user, amount=data["amount"], unit=data["unit"], reason=data["reason"]
        )
        return Response(s.ExtensionOut(req).data, status=status.HTTP_201_CREATED)


class ExtensionDecideView(GenericAPIView):
    """Approve or reject an extension (a user above the requester, or a district admin). Approval moves
    the stage deadline on the working calendar."""

    serializer_class = s.ExtensionDecideIn
    queryset = ExtensionRequest.objects.none()

    @extend_schema(request=s.ExtensionDecideIn, responses=s.ExtensionOut, tags=["时限"])
    def post(self, request: Request, pk: int) -> Response:
        data = validated(s.ExtensionDecideIn, request)
        req = clock.extension_decide(
            request_id=pk, actor=request.user, approve=data["approve"], note=data["note"]
        )
        return Response(s.ExtensionOut(req).data)


class NotificationListView(GenericAPIView):
    """The caller's own notifications (催办, 督办, 吹哨 …), newest first."""

    serializer_class = s.NotificationOut
    queryset = Notification.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=Notification.State.values)],
        responses=s.NotificationOut(many=True),
        tags=["通知"],
    )
    def get(self, request: Request) -> Response:
        qs = notify.notification_list(user=request.user, state=request.query_params.get("state", ""))
        # DRF stubs type .data as ReturnDict even with many=True (it is a ReturnList).
        return paginated(
            self,
            qs,
            lambda rows: s.NotificationOut(notify.notifications_attach_events(rows), many=True).data,  # type: ignore[arg-type,return-value]
        )
