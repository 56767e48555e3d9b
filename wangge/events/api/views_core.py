"""Events API (intake, detail, actions, public tracking, configuration): thin views over the events
services, selectors and display helpers."""

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import P_IMPORT_REGISTER, P_MANAGE_TERRITORY
from wangge.core.api import paginated, validated
from wangge.core.errors import Forbidden, NotFound
from wangge.core.parsers import JSONParser
from wangge.core.scope import scope_queryset
from wangge.events import selectors, services
from wangge.events.common.actions import event_actions
from wangge.events.common.reporter import is_reporter_account, reporter_act, reporter_token
from wangge.events.display import event_detail, event_public_display, event_rows
from wangge.events.intake.batch import event_intake_many
from wangge.events.models import (
    Attachment,
    CalendarDay,
    Category,
    DispatchRule,
    Event,
    HandlingUnit,
    Status,
    TimeLimit,
    Transition,
)
from wangge.events.services import EventInput

from . import serializers as s


def _event_input(d: dict[str, Any]) -> EventInput:
    """A validated s.EventCreate body as the intake's input."""
    return EventInput(
        description=d.get("description", ""),
        title=d.get("title", ""),
        channel=d.get("channel") or "api",
        event_type=d.get("event_type", ""),
        urgency=d.get("urgency") or "normal",
        category_code=d.get("category", ""),
        lat=d.get("lat"),
        lng=d.get("lng"),
        address=d.get("address", ""),
        building_id=d.get("building"),
        anonymous=d.get("anonymous", False),
        reporter_name=d.get("reporter_name", ""),
        reporter_phone=d.get("reporter_phone", ""),
        external_id=d.get("external_id") or None,
    )


def _detail(request: Request, pk: Any) -> Response:
    return Response(event_detail(selectors.event_get_detail(user=request.user, pk=pk), viewer=request.user))


def _after_action(request: Request, event: Event) -> Response:
    """The detail after an action; a handler who just handed the event on may no longer see it."""
    try:
        return _detail(request, event.pk)
    except NotFound:
        return Response({"id": event.pk, "status": event.status.code, "version": event.version})


ERRORS = {
    400: OpenApiResponse(description="输入有误 {code, message, details}"),
    403: OpenApiResponse(description="没有此操作的权限"),
    404: OpenApiResponse(description="事件不存在或不在您的范围内"),
    409: OpenApiResponse(description="状态不允许此操作，或 version 已过期"),
}
LIST_PARAMS = [
    OpenApiParameter("status", str, description="状态代码，可逗号分隔"),
    OpenApiParameter("category", str, description="分类代码（含子分类）"),
    OpenApiParameter("grid", str, description="网格 id 或编码"),
    OpenApiParameter("overdue", bool, description="只看已超期"),
    OpenApiParameter("warning", str, description="yellow / red"),
    OpenApiParameter("channel", str, description="来源渠道"),
    OpenApiParameter("q", str, description="关键词或查询码"),
    OpenApiParameter("needs_triage", bool, description="待人工分拣"),
    OpenApiParameter("level", str, description="当前层级 grid/community/street/district"),
    OpenApiParameter("mine", bool, description="只看我（或我的单位）处置的"),
    OpenApiParameter("merged", bool, description="true: 只看已并入主事件的重复事件；false: 不含"),
]
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="重试同一上报时带相同的键：只会生成一个事件（重放返回 200）",
)


class EventViewSet(viewsets.GenericViewSet):
    """事件: 上报、列表、详情（含时间线和各环节时限）、状态流转与处置操作。"""

    queryset = Event.objects.none()
    serializer_class = s.EventRow
    # Numeric ids only, so fixed paths such as events/merge/ (urls_triage) are not taken for an id.
    lookup_value_regex = r"\d+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]  # JSONParser: the bounded one (core.parsers)

    @extend_schema(parameters=LIST_PARAMS, responses=s.EventRow(many=True))
    def list(self, request: Request) -> Response:
        p = request.query_params
        names = ["status", "category", "grid", "overdue", "warning", "channel", "q", "needs_triage", "level"]
        filters = {k: p.get(k, "") for k in names}
        qs = selectors.event_list(user=request.user, mine=p.get("mine"), merged=p.get("merged"), **filters)
        return paginated(self, qs, lambda page: event_rows(page, viewer=request.user))

    @extend_schema(
        request=s.EventCreate,
        parameters=[IDEMPOTENCY],
        responses={201: s.EventCreated, 200: s.EventCreated, 400: ERRORS[400], 409: ERRORS[409]},
    )
    def create(self, request: Request) -> Response:
        data = _event_input(validated(s.EventCreate, request))
        key = services.idempotency_key_from_client(request.headers.get("Idempotency-Key"))
        event, created = services.event_intake(data=data, actor=request.user, idempotency_key=key)
        body = event_detail(selectors.event_reloaded(event, created=created), viewer=request.user)
        # The reporter's secret goes to the reporter only (a resident's own account or app), never to
        # staff registering a report for someone else, and never in lists or the detail.
        if is_reporter_account(request.user, event):
            body["reporter_token"] = reporter_token(event)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=s.BatchRequest, responses={200: s.BatchResult, 400: ERRORS[400], 403: ERRORS[403]})
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        """批量上报: up to 5,000 reports in one request, each by the rules of a single report. Every item
        needs its `external_id` (e.g. the work-order number): resending the batch never creates a second
        event. A bad item is answered with its index and error; the others go in. Needs
        accounts.import_register (the offices that receive work orders in bulk)."""
        if not request.user.has_perm(P_IMPORT_REGISTER):
            raise Forbidden("没有批量上报的权限", code="permission_denied")
        body = validated(s.BatchRequest, request)
        raw = body["items"]
        inputs: list[EventInput] = []
        positions: list[int] = []
        results: list[dict[str, Any]] = [{"index": i} for i in range(len(raw))]
        for i, item in enumerate(raw):
            one = s.EventCreate(data=item)
            if not isinstance(item, dict) or not one.is_valid():
                details = one.errors if isinstance(item, dict) else {"item": ["须为对象"]}
                results[i]["error"] = {"code": "invalid", "message": "输入有误", "details": details}
            elif not (one.validated_data.get("external_id") or "").strip():
                results[i]["error"] = {
                    "code": "external_id_required",
                    "message": "批量上报的每一条都须带 external_id（如工单编号），重试时才不会重复登记",
                }
            else:
                inputs.append(_event_input(dict(one.validated_data)))
                positions.append(i)
        for i, out in zip(positions, event_intake_many(items=inputs, actor=request.user), strict=True):
            if out.error is not None:
                results[i]["error"] = {"code": out.error.code, "message": out.error.message}
            else:
                results[i].update(
                    id=out.event_id,
                    tracking_code=out.tracking_code,
                    created=out.created,
                    needs_triage=out.needs_triage,
                )
        return Response(
            {
                "total": len(raw),
                "created": sum(1 for r in results if r.get("created")),
                "duplicates": sum(1 for r in results if "id" in r and not r["created"]),
                "errors": sum(1 for r in results if "error" in r),
                "results": results,
            }
        )

    @extend_schema(responses={200: s.EventDetail, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return _detail(request, pk)

    @extend_schema(request=s.TransitionRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, pk: str) -> Response:
        """Move the event to `target` along the status graph (409 when illegal or `version` is stale)."""
        d = validated(s.TransitionRequest, request)
        event = services.event_move(
            event_id=int(pk),
            actor=request.user,
            target=d["target"],
            note=d["note"],
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.AcceptRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """受理（可更正分类和紧急程度）。"""
        d = validated(s.AcceptRequest, request)
        event = services.event_accept(
            event_id=int(pk),
            actor=request.user,
            category_code=d.get("category") or None,
            urgency=d.get("urgency") or None,
            note=d.get("note", ""),
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.ReasonRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """不予受理（理由对上报人可见）。"""
        d = validated(s.ReasonRequest, request)
        event = services.event_reject(
            event_id=int(pk), actor=request.user, reason=d["reason"], expected_version=d.get("version")
        )
        return _after_action(request, event)

    @extend_schema(request=s.DispatchRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    def dispatch_to(self, request: Request, pk: str) -> Response:
        """派遣：指定单位/人员，或不指定时按分拨规则（默认本网格网格员）。"""
        d = validated(s.DispatchRequest, request)
        event = services.event_dispatch(
            event_id=int(pk),
            actor=request.user,
            unit_id=d.get("unit"),
            user_id=d.get("user"),
            reason=d.get("reason", ""),
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.ReassignRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        """改派（须填写理由）。"""
        d = validated(s.ReassignRequest, request)
        event = services.event_reassign(
            event_id=int(pk),
            actor=request.user,
            unit_id=d.get("unit"),
            user_id=d.get("user"),
            reason=d["reason"],
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.ReasonRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        """上报上一级（网格→社区→街道→区），回到“已受理”由上级派遣。"""
        d = validated(s.ReasonRequest, request)
        event = services.event_escalate(
            event_id=int(pk), actor=request.user, reason=d["reason"], expected_version=d.get("version")
        )
        return _after_action(request, event)

    @extend_schema(
        request={"multipart/form-data": s.FeedbackRequest, "application/json": s.FeedbackRequest},
        responses={200: s.EventDetail, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, pk: str) -> Response:
        """处置反馈（附照片，multipart 字段 photos 可重复）。"""
        d = validated(s.FeedbackBody, request)
        event = services.event_feedback(
            event_id=int(pk),
            actor=request.user,
            note=d["note"],
            files=request.FILES.getlist("photos"),
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.VerifyRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str) -> Response:
        """核查：通过则结案，不通过则返工（须说明）。"""
        d = validated(s.VerifyRequest, request)
        event = services.event_verify(
            event_id=int(pk),
            actor=request.user,
            passed=d["passed"],
            note=d["note"],
            expected_version=d.get("version"),
        )
        return _after_action(request, event)

    @extend_schema(request=s.ReasonRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        """重新打开（结案后规定天数内）。"""
        d = validated(s.ReasonRequest, request)
        event = services.event_reopen(
            event_id=int(pk), actor=request.user, reason=d["reason"], expected_version=d.get("version")
        )
        return _after_action(request, event)

    @extend_schema(request=s.ReturnVisitRequest, responses={200: s.EventDetail, **ERRORS})
    @action(detail=True, methods=["post"], url_path="return-visit")
    def return_visit(self, request: Request, pk: str) -> Response:
        """完成回访（可同时重新打开事件）。"""
        event = selectors.event_get(user=request.user, pk=pk)
        d = validated(s.ReturnVisitRequest, request)
        if not event.return_visits.filter(pk=d["visit"]).exists():
            raise NotFound("回访任务不存在", code="not_found")
        services.return_visit_complete(
            visit_id=d["visit"],
            actor=request.user,
            outcome=d["outcome"],
            reopen=d["reopen"],
            reason=d["reason"],
        )
        return _after_action(request, event)

    @extend_schema(responses={200: s.EventActions, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], url_path="actions", url_name="actions")
    def actions(self, request: Request, pk: str) -> Response:
        """我现在能做什么：调用者此刻可对该事件执行的操作（与页面提供的、服务接受的完全一致）。
        key 对应接口：accept/、reject/、dispatch/、reassign/、escalate/、feedback/、verify/、reopen/、
        whistle/、sos-ack/、extensions/（延期申请）；transition:<状态> 用 transitions/ 并以该状态为 target。"""
        event = selectors.event_get(user=request.user, pk=pk)
        rows = [
            {
                "key": a.key,
                "kind": a.kind,
                "title": a.title,
                "target": a.target,
                "requires_note": a.requires_note,
            }
            for a in event_actions(user=request.user, event=event)
        ]
        return Response({"id": event.pk, "version": event.version, "actions": rows})

    @extend_schema(responses={200: s.DispatchPreview, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], url_path="dispatch-preview")
    def dispatch_preview(self, request: Request, pk: str) -> Response:
        """试算：按当前分拨规则，这个事件会派给谁（含说明）。"""
        event = selectors.event_get(user=request.user, pk=pk)
        result = services.dispatch_resolve(event=event)
        result["units"] = [
            {"id": u.pk, "name": u.name, "kind": u.kind} for u in selectors.units_for_event(event=event)
        ]
        return Response(result)

    @extend_schema(
        responses={(200, "image/*"): OpenApiTypes.BINARY, 404: ERRORS[404]},
        parameters=[OpenApiParameter("att_id", int, location=OpenApiParameter.PATH)],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<att_id>\d+)",
        url_name="attachment",
    )
    def attachment(self, request: Request, pk: str, att_id: str) -> FileResponse:
        """照片（仅能看到该事件的用户可取）。"""
        event = selectors.event_get(user=request.user, pk=pk)
        att = Attachment.objects.filter(event=event, pk=int(att_id)).first()
        if att is None:
            raise NotFound("附件不存在", code="not_found")
        response = FileResponse(att.file.open("rb"), content_type=att.content_type)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class TrackView(APIView):
    """公开查询（无需登录）：匿名化的办理进度；合并的重复事件显示主事件的进度。不含任何照片。"""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(auth=[], responses={200: s.PublicEvent, 404: ERRORS[404]})
    def get(self, request: Request, tracking_code: str) -> Response:
        data = selectors.event_public(tracking_code=tracking_code)
        return Response(data, headers={"Cache-Control": "no-store"})


REPORTER_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        description="不是上报人：缺少 reporter_token（reporter_token_required）或令牌不对（reporter_token_invalid）"
    ),
    429: OpenApiResponse(description="尝试次数过多（throttled），请稍后再试"),
}


class ReporterVerifyView(APIView):
    """上报人核查：处置反馈后，上报人确认“已解决”（结案）或“未解决”（返工，须说明原因）。仅上报人：
    带上报时返回的 reporter_token，或以上报人本人账号登录；查询码本身是公开的，不能凭它操作。"""

    # Signed in (token or session) counts as the reporter's own account; anonymous callers need the token.
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=s.ReporterVerifyRequest, responses={200: s.PublicEvent, **REPORTER_ERRORS})
    def post(self, request: Request, tracking_code: str) -> Response:
        d = validated(s.ReporterVerifyRequest, request)
        event = reporter_act(
            request,
            code=tracking_code,
            token=d["reporter_token"],
            act=lambda: services.event_verify_by_reporter(
                tracking_code=tracking_code,
                passed=d["passed"],
                note=d["note"],
                reporter_token=d["reporter_token"],
                actor=request.user,
            ),
        )
        event = selectors.event_by_tracking_code(tracking_code=event.tracking_code)
        return Response(event_public_display(event))


class RatingView(APIView):
    """上报人评价（满意/基本满意/不满意），仅结案后；不满意生成回访任务。仅上报人（reporter_token 或
    上报人本人账号）。"""

    permission_classes = [permissions.AllowAny]

    @extend_schema(request=s.RatingRequest, responses={200: s.PublicEvent, **REPORTER_ERRORS})
    def post(self, request: Request, tracking_code: str) -> Response:
        d = validated(s.RatingRequest, request)
        event = reporter_act(
            request,
            code=tracking_code,
            token=d["reporter_token"],
            act=lambda: services.event_rate(
                tracking_code=tracking_code,
                rating=d["rating"],
                comment=d["comment"],
                reporter_token=d["reporter_token"],
                actor=request.user,
            ),
        )
        event = selectors.event_by_tracking_code(tracking_code=event.tracking_code)
        return Response(event_public_display(event))


# --- configuration -----------------------------------------------------------------------------------


class ConfigPermission(permissions.BasePermission):
    """Writes: district admins (accounts.manage_territory). Reads: the same, unless the view is open to
    every signed-in user (`read_open`)."""

    message = "没有维护事件配置的权限"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS and getattr(view, "read_open", False):
            return True
        return bool(user.has_perm(P_MANAGE_TERRITORY))


class ConfigViewSet(viewsets.ModelViewSet):
    """Configuration rows; every write goes through services.config_save / config_delete (audited)."""

    permission_classes = [ConfigPermission]
    queryset: QuerySet[Any]  # set by every configuration view
    read_open = False
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = services.config_save(
            actor=self.request.user, model=self.queryset.model, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.config_save(
            actor=self.request.user,
            model=self.queryset.model,
            data=dict(serializer.validated_data),
            instance=serializer.instance,
        )

    def perform_destroy(self, instance: Any) -> None:
        services.config_delete(actor=self.request.user, instance=instance)


class CategoryConfigViewSet(ConfigViewSet):
    """事件分类树（读：所有登录用户；写：区级管理员）。"""

    queryset = Category.objects.select_related("parent").order_by("sort", "code")
    serializer_class = s.CategoryConfig
    read_open = True


class StatusConfigViewSet(ConfigViewSet):
    """状态图的节点。"""

    queryset = Status.objects.order_by("sort", "code")
    serializer_class = s.StatusConfig
    read_open = True


class TransitionConfigViewSet(ConfigViewSet):
    """状态图的边（允许的流转、角色、是否须说明）。"""

    queryset = Transition.objects.select_related("source", "target").order_by("source__sort", "target__sort")
    serializer_class = s.TransitionConfig
    read_open = True


class TimeLimitConfigViewSet(ConfigViewSet):
    """各环节时限（分类×紧急程度）。"""

    queryset = TimeLimit.objects.select_related("category").order_by("stage", "id")
    serializer_class = s.TimeLimitConfig


class CalendarDayConfigViewSet(ConfigViewSet):
    """本地工作日历调整（补充节假日、调休或库中尚无的年份）。"""

    queryset = CalendarDay.objects.order_by("day")
    serializer_class = s.CalendarDayConfig


class DispatchRuleConfigViewSet(ConfigViewSet):
    """分拨规则（分类×区划×紧急程度→单位或角色，按顺序首条匹配）。"""

    queryset = DispatchRule.objects.select_related("category", "unit").order_by("order", "id")
    serializer_class = s.DispatchRuleConfig


class HandlingUnitConfigViewSet(ConfigViewSet):
    """处置单位（职能部门、执法队、物业等）及其成员。"""

    queryset = HandlingUnit.objects.select_related("territory").prefetch_related("members").order_by("name")
    serializer_class = s.HandlingUnitConfig

    def get_queryset(self) -> Any:
        return scope_queryset(super().get_queryset(), self.request.user)
