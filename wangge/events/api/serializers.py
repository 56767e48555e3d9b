"""Request and response shapes of the events API.

Input serializers only check types; the services validate. Output serializers describe the dicts built
by wangge.events.display (the one place where reporter contact is masked).
"""

from typing import Any

from rest_framework import serializers

from wangge.accounts.roles import Role
from wangge.core.api import FlatInput
from wangge.events.intake.batch import MAX_ITEMS
from wangge.events.models import (
    CalendarDay,
    Category,
    DispatchRule,
    HandlingUnit,
    Status,
    TimeLimit,
    Transition,
)
from wangge.territory.models import Territory

# --- input -------------------------------------------------------------------------------------------


class EventCreate(FlatInput):
    description = serializers.CharField(allow_blank=True, max_length=5000, help_text="问题描述（必填）")
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    event_type = serializers.CharField(
        required=False, allow_blank=True, help_text="consult/help/complaint/report/suggestion"
    )
    urgency = serializers.CharField(required=False, default="normal", help_text="normal/urgent/critical")
    channel = serializers.CharField(required=False, default="api", help_text="来源渠道，默认 api")
    category = serializers.CharField(
        required=False, allow_blank=True, help_text="分类代码（可不填，由系统分拣）"
    )
    lat = serializers.FloatField(required=False, allow_null=True, help_text="纬度（WGS-84）")
    lng = serializers.FloatField(required=False, allow_null=True, help_text="经度（WGS-84）")
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)
    building = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="楼栋 id")
    anonymous = serializers.BooleanField(required=False, default=False)
    reporter_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    reporter_phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    external_id = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100, help_text="外部编号（如工单号）"
    )

    def validate_channel(self, value: str) -> str:
        # Open311 reports carry their client's key in the external id ("<key id>:<their id>"): an account
        # sending the same pair here would take that id first, and the client's own report would then be
        # refused as a duplicate. The channel belongs to the Open311 endpoint alone.
        if value == "open311":
            raise serializers.ValidationError("open311 渠道只供 Open311 接口（/open311/v2/）使用")
        return value


class BatchRequest(serializers.Serializer):
    # Items are checked one by one in the view (a bad item must not reject the whole batch).
    items = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_ITEMS,
        help_text=f"上报列表（每条同 POST /api/v1/events/ 的请求体，且须带 external_id），最多 {MAX_ITEMS} 条",
    )


class BatchItemError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class BatchItemResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="在 items 中的位置（从 0 起）")
    id = serializers.IntegerField(required=False)
    tracking_code = serializers.CharField(required=False)
    created = serializers.BooleanField(required=False, help_text="false: 此前已登记（同 external_id）")
    needs_triage = serializers.BooleanField(required=False)
    error = BatchItemError(required=False)


class BatchResult(serializers.Serializer):
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    # Response documentation only: the field shadows Serializer.errors, which is never used here.
    errors = serializers.IntegerField()  # type: ignore[assignment]
    results = BatchItemResult(many=True)


class Versioned(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, allow_null=True, help_text="事件当前 version；与服务器不一致时返回 409"
    )


class TransitionRequest(Versioned):
    target = serializers.CharField(help_text="目标状态代码")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AcceptRequest(Versioned):
    category = serializers.CharField(required=False, allow_blank=True, help_text="确认或更正的分类代码")
    urgency = serializers.CharField(required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReasonRequest(Versioned):
    reason = serializers.CharField(allow_blank=True, max_length=2000)


class DispatchRequest(Versioned):
    unit = serializers.IntegerField(required=False, allow_null=True, help_text="处置单位 id（不填则按规则）")
    user = serializers.IntegerField(required=False, allow_null=True, help_text="处置人 id（不填则按规则）")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReassignRequest(Versioned):
    unit = serializers.IntegerField(required=False, allow_null=True)
    user = serializers.IntegerField(required=False, allow_null=True)
    reason = serializers.CharField(allow_blank=True, max_length=2000, help_text="改派理由（必填）")


class FeedbackBody(Versioned):
    """The fields of a feedback checked by the view; photos come from request.FILES."""

    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000, help_text="处置情况（必填）"
    )


class FeedbackRequest(FeedbackBody):
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="照片（JPEG/PNG/WebP，每张≤10MB，最多9张）"
    )


class VerifyRequest(Versioned):
    passed = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReturnVisitRequest(serializers.Serializer):
    visit = serializers.IntegerField(help_text="回访任务 id")
    outcome = serializers.CharField(allow_blank=True, max_length=2000)
    reopen = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


REPORTER_TOKEN_HELP = "上报人令牌（上报时返回给上报人的 reporter_token）；以上报人本人账号登录时可省略"  # noqa: S105


class ReporterVerifyRequest(serializers.Serializer):
    passed = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    reporter_token = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text=REPORTER_TOKEN_HELP
    )


class RatingRequest(serializers.Serializer):
    rating = serializers.ChoiceField(choices=["satisfied", "basically", "unsatisfied"])
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    reporter_token = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text=REPORTER_TOKEN_HELP
    )


# --- output ------------------------------------------------------------------------------------------


class CodeName(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class EventRow(serializers.Serializer):
    id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    status = CodeName()
    category = CodeName(allow_null=True)
    urgency = serializers.CharField()
    urgency_name = serializers.CharField()
    channel = serializers.CharField()
    channel_name = serializers.CharField()
    grid = serializers.IntegerField(allow_null=True)
    grid_code = serializers.CharField(allow_null=True)
    path = serializers.CharField()
    level = serializers.CharField()
    handler_unit = serializers.CharField()
    handler_user = serializers.CharField()
    needs_triage = serializers.BooleanField()
    master = serializers.IntegerField(allow_null=True, help_text="已并入的主事件 id")
    stage = serializers.CharField()
    deadline = serializers.DateTimeField(allow_null=True)
    warning = serializers.CharField(help_text="none/yellow/red")
    overdue = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    entry = serializers.IntegerField(allow_null=True)
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="仅对能看到该事件的用户开放")
    created_at = serializers.DateTimeField()


class TimelineOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    action = serializers.CharField()
    action_name = serializers.CharField()
    actor = serializers.CharField()
    actor_role = serializers.CharField()
    actor_role_name = serializers.CharField()
    from_status = serializers.CharField()
    from_status_name = serializers.CharField()
    to_status = serializers.CharField()
    to_status_name = serializers.CharField()
    note = serializers.CharField()
    public = serializers.BooleanField()
    data = serializers.DictField()  # type: ignore[assignment]  # a field named like Serializer.data
    attachments = AttachmentOut(many=True)


class ClockOut(serializers.Serializer):
    id = serializers.IntegerField()
    stage = serializers.CharField()
    stage_name = serializers.CharField()
    started_at = serializers.DateTimeField()
    warn_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    warning = serializers.CharField()


class CurrentStageOut(serializers.Serializer):
    stage = serializers.CharField()
    stage_name = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    warn_at = serializers.DateTimeField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    warning = serializers.CharField()
    calendar_fallback = serializers.BooleanField(help_text="本年度节假日未知，按周一至周五推算")


class ReporterOut(serializers.Serializer):
    anonymous = serializers.BooleanField()
    name = serializers.CharField(help_text="脱敏")
    phone = serializers.CharField(help_text="脱敏")


class LocationOut(serializers.Serializer):
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    address = serializers.CharField()
    building = serializers.IntegerField(allow_null=True)


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    role_name = serializers.CharField()


class IdName(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HandlerOut(serializers.Serializer):
    unit = IdName(allow_null=True)
    user = UserOut(allow_null=True)


class ReturnVisitOut(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    assigned_to = UserOut(allow_null=True)
    due = serializers.DateTimeField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    created_at = serializers.DateTimeField()


class EventDetail(EventRow):
    description = serializers.CharField()
    event_type = serializers.CharField()
    event_type_name = serializers.CharField()
    suggested_category = CodeName(allow_null=True, help_text="系统建议分类")
    confidence = serializers.FloatField(allow_null=True, help_text="分类置信度")
    location = LocationOut()
    grid_name = serializers.CharField()
    level_name = serializers.CharField()
    reporter = ReporterOut()
    handler = HandlerOut()
    current_stage = CurrentStageOut()
    deadlines = ClockOut(many=True, help_text="各环节时限（StageDeadline）")
    timeline = TimelineOut(many=True)
    attachments = AttachmentOut(many=True)
    merged_count = serializers.IntegerField()
    rating = serializers.CharField()
    reject_reason = serializers.CharField()
    return_visits = ReturnVisitOut(many=True)
    reopen_until = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class UnitOption(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class DispatchPreview(serializers.Serializer):
    rule_id = serializers.IntegerField(allow_null=True)
    unit_id = serializers.IntegerField(allow_null=True)
    unit_name = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)
    user_name = serializers.CharField()
    level = serializers.CharField()
    found = serializers.BooleanField()
    explanation = serializers.CharField()
    units = UnitOption(many=True, help_text="可供人工选择的处置单位")


class EventActionRow(serializers.Serializer):
    key = serializers.CharField(
        help_text="accept, reject, dispatch, reassign, escalate, feedback, verify, "
        "reopen, whistle, extension, sos_ack, 或 transition:<目标状态>"
    )
    kind = serializers.CharField()
    title = serializers.CharField()
    target = serializers.CharField(help_text="变更后的状态代码（不改变状态的操作为空）")
    requires_note = serializers.BooleanField()


class EventActions(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="提交操作时作为 version 带上")
    actions = EventActionRow(many=True)


class PublicStep(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    action_name = serializers.CharField()
    by = serializers.CharField(help_text="角色，不含姓名")
    status = serializers.CharField()
    note = serializers.CharField(help_text="仅不予受理理由、处置结果等，号码已脱敏")


class PublicEvent(serializers.Serializer):
    tracking_code = serializers.CharField()
    category = serializers.CharField()
    event_type = serializers.CharField()
    status = CodeName()
    merged = serializers.BooleanField(help_text="已与同一问题合并处理")
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    reject_reason = serializers.CharField()
    rating = serializers.CharField()
    rating_name = serializers.CharField()
    can_rate = serializers.BooleanField()
    can_verify = serializers.BooleanField()
    timeline = PublicStep(many=True)


# --- configuration -----------------------------------------------------------------------------------


def _choice(help_text: str, **kw: Any) -> serializers.CharField:
    """Choice fields as plain strings (the model validates them; no clashing enum names in the schema)."""
    return serializers.CharField(help_text=help_text, **kw)


class CategoryConfig(serializers.ModelSerializer):
    default_type = _choice("consult/help/complaint/report/suggestion 或空", required=False, allow_blank=True)
    parent = serializers.SlugRelatedField(  # type: ignore[assignment]  # named like Field.parent
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Category
        fields = ["id", "code", "name", "parent", "keywords", "default_type", "is_dispute", "active", "sort"]


class StatusConfig(serializers.ModelSerializer):
    stage = _choice("计时环节 accept/dispatch/handle/verify 或空", required=False, allow_blank=True)

    class Meta:
        model = Status
        fields = ["id", "code", "name", "stage", "is_initial", "is_closed", "sort"]


class TransitionConfig(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="code", queryset=Status.objects.all())  # type: ignore[assignment]  # named like Field.source
    target = serializers.SlugRelatedField(slug_field="code", queryset=Status.objects.all())
    roles = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = Transition
        fields = ["id", "source", "target", "name", "roles", "requires_note", "public"]
        validators: list[Any] = []  # the unique edge is checked by the service (409)

    def validate_roles(self, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in Role.values]
        if unknown:
            raise serializers.ValidationError(f"未知角色：{'、'.join(unknown)}")
        return value


class TimeLimitConfig(serializers.ModelSerializer):
    urgency = _choice("normal/urgent/critical，空=任意", required=False, allow_blank=True)
    stage = _choice("accept/dispatch/handle/verify")
    unit = _choice("workday/workhour/minute", required=False, default="workday")
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = TimeLimit
        fields = ["id", "category", "urgency", "stage", "amount", "unit", "warn_ratio"]


class CalendarDayConfig(serializers.ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["id", "day", "is_workday", "note"]


class DispatchRuleConfig(serializers.ModelSerializer):
    urgency = _choice("normal/urgent/critical，空=任意", required=False, allow_blank=True)
    level = _choice("规则适用的层级 grid/community/street/district", required=False, default="grid")
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = DispatchRule
        fields = [
            "id",
            "order",
            "category",
            "include_subcategories",
            "path_prefix",
            "urgency",
            "unit",
            "role",
            "level",
            "active",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unit = attrs.get("unit", getattr(self.instance, "unit", None))
        role = attrs.get("role", getattr(self.instance, "role", ""))
        if unit is None and not role:
            raise serializers.ValidationError({"unit": "须指定处置单位或角色"})
        return attrs


class HandlingUnitConfig(serializers.ModelSerializer):
    kind = _choice("department/enforcement/community/street/property/member_unit")
    territory = serializers.PrimaryKeyRelatedField(queryset=Territory.objects.all())
    path = serializers.CharField(read_only=True)

    class Meta:
        model = HandlingUnit
        fields = ["id", "name", "kind", "territory", "path", "members", "ack_limit_hours", "active"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "territory" in attrs:
            attrs["path"] = attrs["territory"].code
        return attrs


class EventCreated(EventDetail):
    reporter_token = serializers.CharField(
        required=False,
        help_text="仅返回给上报人本人（居民等非工作人员账号）：核查与评价（/api/v1/track/）凭它进行，请妥善保存",
    )
