"""Triage API: duplicates and merge, the classifier, disputes (E2, E7). Thin views over
wangge.events.triage.dedupe / merge / classifier / disputes; errors in the one {code, message, details} shape.
Events outside the caller's territory are 404."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import STAFF_ROLES
from wangge.core.api import validated
from wangge.core.errors import Forbidden
from wangge.core.guards import require_district_admin
from wangge.territory.models import CODE_LENGTH, Level

from .. import disputes
from ..models import ClassifierTraining, ClassifierVersion, DisputeOutcome, DisputeParty, Event
from ..selectors import merged_events
from ..triage import classifier, merge
from ..triage.dedupe import distance_m, duplicate_candidates, triage_event_get

# --- permissions ------------------------------------------------------------------------------------


def _require_staff(user: Any) -> None:
    if not (getattr(user, "is_superuser", False) or getattr(user, "role", "") in STAFF_ROLES):
        raise Forbidden("仅限工作人员使用", code="permission_denied")


# --- serializers ------------------------------------------------------------------------------------


class EventBrief(serializers.Serializer):
    id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    status_name = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    grid = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


def _brief(e: Event) -> dict[str, Any]:
    cat = e.category or e.suggested_category
    return {
        "id": e.pk,
        "tracking_code": e.tracking_code,
        "title": e.title,
        "status": e.status.code,
        "status_name": e.status.name,
        "category": cat.code if cat else None,
        "grid": e.path if len(e.path) == CODE_LENGTH[Level.GRID] else None,
        "created_at": e.created_at,
    }


class DuplicateRow(EventBrief):
    score = serializers.FloatField(help_text="文本相似度(字二元组Jaccard) 0–1")
    distance_m = serializers.FloatField(allow_null=True, help_text="与本事件的距离(米)")


class MergeRequest(serializers.Serializer):
    master = serializers.IntegerField(help_text="主事件 id")
    duplicates = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MergeResponse(EventBrief):
    merged = EventBrief(many=True)


class ClassifyRequest(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class ClassifyResponse(serializers.Serializer):
    category = serializers.CharField(allow_null=True)
    category_name = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    needs_triage = serializers.BooleanField()
    urgency = serializers.CharField()
    # DRF's metaclass moves declared fields off the class; the stubs see Field.source (str | None).
    source = serializers.CharField(help_text="model 或 keywords")  # type: ignore[assignment]


class VersionRow(serializers.ModelSerializer):
    class Meta:
        model = ClassifierVersion
        fields = ["id", "created_at", "samples", "categories", "cv_accuracy", "active"]


class ClassifierStatus(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class; the stubs see Field.source (str | None).
    source = serializers.CharField()  # type: ignore[assignment]
    threshold = serializers.FloatField()
    keyword_categories = serializers.IntegerField()
    active = VersionRow(allow_null=True)
    versions = VersionRow(many=True)


class TrainRequest(serializers.Serializer):
    min_samples_per_class = serializers.IntegerField(required=False, default=5, min_value=2, max_value=1000)
    folds = serializers.IntegerField(required=False, default=5, min_value=2, max_value=20)
    target_precision = serializers.FloatField(required=False, default=0.97, min_value=0.5, max_value=0.999)


class TrainProgress(serializers.Serializer):
    step = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class TrainError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class TrainStatus(serializers.Serializer):
    """A ClassifierTraining row (written by the background task, read from the database)."""

    task_id = serializers.CharField()
    status = serializers.CharField(help_text="queued 排队中 / running 训练中 / done 已完成 / failed 失败")
    status_label = serializers.CharField()
    scheduled = serializers.BooleanField(help_text="定期训练（非人工发起）")
    progress = TrainProgress()
    report = serializers.DictField(
        allow_null=True, help_text="准确率、各分类召回率、准确率/覆盖率曲线、建议阈值、纠正样本数"
    )
    error = TrainError(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def _training_body(t: ClassifierTraining) -> dict[str, Any]:
    return {
        "task_id": t.task_id,
        "status": t.status,
        "status_label": t.get_status_display(),
        "scheduled": t.scheduled,
        "progress": {"step": t.step, "done": t.done, "total": t.total},
        "report": t.report or None,
        "error": {"code": t.error_code, "message": t.error} if t.status == t.State.FAILED else None,
        "version": t.version_id,
        "created_at": t.created_at,
        "started_at": t.started_at,
        "finished_at": t.finished_at,
    }


class AccuracyQuery(serializers.Serializer):
    months = serializers.IntegerField(required=False, default=12, min_value=1, max_value=36)


class AccuracyCategory(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    total = serializers.IntegerField()
    agreed = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)


class AccuracyMonth(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM（上报月份）")
    total = serializers.IntegerField(help_text="有建议分类、经人工受理的事件数")
    agreed = serializers.IntegerField(help_text="最终分类与建议分类一致的事件数")
    accuracy = serializers.FloatField(allow_null=True)
    categories = AccuracyCategory(many=True, help_text="按最终分类的一级分类")


class PartyWrite(serializers.Serializer):
    side = serializers.ChoiceField(choices=DisputeParty.Side.choices)
    resident = serializers.IntegerField(required=False, allow_null=True, default=None)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class PartyRow(serializers.Serializer):
    id = serializers.IntegerField()
    side = serializers.CharField()
    side_label = serializers.CharField()
    resident = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(help_text="无人房信息权限者看到脱敏姓名")
    note = serializers.CharField()


class SessionWrite(serializers.Serializer):
    held_at = serializers.DateTimeField()
    mediator = serializers.CharField(max_length=50)
    place = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    summary = serializers.CharField(max_length=5000)


class SessionRow(serializers.Serializer):
    id = serializers.IntegerField()
    held_at = serializers.DateTimeField()
    mediator = serializers.CharField()
    place = serializers.CharField()
    summary = serializers.CharField()


class OutcomeWrite(serializers.Serializer):
    result = serializers.ChoiceField(choices=DisputeOutcome.Result.choices)
    agreement_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    decided_at = serializers.DateTimeField()


class OutcomeRow(serializers.Serializer):
    result = serializers.CharField()
    result_label = serializers.CharField()
    agreement_text = serializers.CharField()
    decided_at = serializers.DateTimeField()


class DisputeCard(serializers.Serializer):
    event = serializers.IntegerField()
    parties = PartyRow(many=True)
    sessions = SessionRow(many=True)
    outcome = OutcomeRow(allow_null=True)


# --- duplicates and merge ---------------------------------------------------------------------------


class DuplicatesView(APIView):
    @extend_schema(
        summary="疑似重复事件",
        description="同一分类、距离与时间窗口内(WANGGE_DEDUPE_METRES/HOURS)、未结案未合并的事件，按文本相似度排序；"
        "只含调用者辖区内的事件。",
        responses=DuplicateRow(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        _require_staff(request.user)
        event = triage_event_get(user=request.user, pk=pk)
        rows = duplicate_candidates(user=request.user, event_id=pk)
        body = []
        for other, score in rows:
            dist = distance_m(event, other)
            body.append(
                {**_brief(other), "score": score, "distance_m": round(dist, 1) if dist is not None else None}
            )
        return Response(body)


class MergeView(APIView):
    @extend_schema(
        summary="合并重复事件",
        description="重复事件并入主事件：其上报人随主事件获知处理结果。全部事件须在辖区内、未结案、未被合并；"
        "重复提交会被拒绝(409 already_merged)。",
        request=MergeRequest,
        responses={200: MergeResponse},
    )
    def post(self, request: Request) -> Response:
        _require_staff(request.user)
        data = validated(MergeRequest, request)
        master = merge.event_merge(
            master_id=data["master"], duplicate_ids=data["duplicates"], actor=request.user, note=data["note"]
        )
        master = Event.objects.select_related("status", "category", "suggested_category").get(pk=master.pk)
        # Only the merged reports the caller may see: staff above may have merged other grids' in too.
        merged = merged_events(user=request.user, master=master).select_related("suggested_category")
        return Response({**_brief(master), "merged": [_brief(e) for e in merged]})


# --- classifier -------------------------------------------------------------------------------------


class ClassifierView(APIView):
    @extend_schema(
        summary="分类模型状态",
        description="当前使用训练模型还是关键词、置信度阈值、各版本的样本数和交叉验证准确率（区级管理员）。",
        responses=ClassifierStatus,
    )
    def get(self, request: Request) -> Response:
        require_district_admin(request.user)
        return Response(ClassifierStatus(classifier.classifier_status()).data)


class ClassifierTrainView(APIView):
    @extend_schema(
        summary="训练分类模型（后台）",
        description="检查数据后交给后台任务训练并启用新模型，返回 202 和 task_id，用 GET "
        "classifier/train/{task_id}/ 查看进度和结果（准确率、各分类召回率、准确率/覆盖率曲线、建议阈值）；"
        "数据不足时立即返回 400 insufficient_training_data（区级管理员）。",
        request=TrainRequest,
        responses={202: TrainStatus},
    )
    def post(self, request: Request) -> Response:
        require_district_admin(request.user)
        data = validated(TrainRequest, request)
        training = classifier.classifier_train_enqueue(actor=request.user, **data)
        return Response(TrainStatus(_training_body(training)).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="最近的分类模型训练", responses=TrainStatus(many=True))
    def get(self, request: Request) -> Response:
        rows = classifier.classifier_trainings(actor=request.user)
        return Response(TrainStatus([_training_body(t) for t in rows], many=True).data)


class ClassifierTrainStatusView(APIView):
    @extend_schema(
        summary="分类模型训练进度",
        description="后台任务写入数据库的进度（步骤、完成数/总数）、结束后的报告或失败原因（区级管理员）。",
        responses=TrainStatus,
    )
    def get(self, request: Request, task_id: str) -> Response:
        training = classifier.classifier_training_get(actor=request.user, task_id=task_id)
        return Response(TrainStatus(_training_body(training)).data)


class ClassifierAccuracyView(APIView):
    @extend_schema(
        summary="分类建议的实际准确率（按月）",
        description="辖区内经人工受理且有建议分类的事件中，最终分类与建议一致的比例，按上报月份及一级分类"
        "统计（不含历史导入；区级管理员）。",
        parameters=[AccuracyQuery],
        responses=AccuracyMonth(many=True),
    )
    def get(self, request: Request) -> Response:
        require_district_admin(request.user)
        query = AccuracyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        months = query.validated_data["months"]
        rows = classifier.classifier_live_accuracy(user=request.user, months=months)
        return Response(AccuracyMonth(rows, many=True).data)


class ClassifyView(APIView):
    @extend_schema(
        summary="试分类",
        description="对一段文字给出建议分类、置信度和建议紧急程度（工作人员）。",
        request=ClassifyRequest,
        responses=ClassifyResponse,
    )
    def post(self, request: Request) -> Response:
        _require_staff(request.user)
        text = validated(ClassifyRequest, request)["text"]
        category, confidence = classifier.classify_text(text)
        return Response(
            {
                "category": category.code if category else None,
                "category_name": category.name if category else None,
                "confidence": confidence,
                "needs_triage": category is None or confidence < float(settings.WANGGE_CLASSIFY_THRESHOLD),
                "urgency": classifier.suggest_urgency(text, category),
                "source": "model" if classifier.active_model_version() else "keywords",
            }
        )


# --- disputes ---------------------------------------------------------------------------------------


class DisputeView(APIView):
    @extend_schema(summary="矛盾纠纷：当事人、调解记录、结果", responses=DisputeCard)
    def get(self, request: Request, pk: int) -> Response:
        _require_staff(request.user)
        return Response(DisputeCard(disputes.dispute_get(user=request.user, event_id=pk)).data)


class DisputePartiesView(APIView):
    @extend_schema(
        summary="登记当事人",
        description="resident 为人房信息中的居民 id（须有查看人房信息权限且在辖区内），或只填 name。",
        request=PartyWrite,
        responses={201: PartyRow},
    )
    def post(self, request: Request, pk: int) -> Response:
        _require_staff(request.user)
        data = validated(PartyWrite, request)
        party = disputes.dispute_party_add(
            actor=request.user,
            event_id=pk,
            side=data["side"],
            resident_id=data["resident"],
            name=data["name"],
            note=data["note"],
        )
        return Response(disputes.party_display(party, request.user), status=status.HTTP_201_CREATED)


class DisputeSessionsView(APIView):
    @extend_schema(summary="登记调解记录", request=SessionWrite, responses={201: SessionRow})
    def post(self, request: Request, pk: int) -> Response:
        _require_staff(request.user)
        data = validated(SessionWrite, request)
        s = disputes.mediation_session_add(actor=request.user, event_id=pk, **data)
        return Response(SessionRow(s).data, status=status.HTTP_201_CREATED)


class DisputeOutcomeView(APIView):
    @extend_schema(summary="登记/更正调解结果", request=OutcomeWrite, responses=OutcomeRow)
    def put(self, request: Request, pk: int) -> Response:
        _require_staff(request.user)
        data = validated(OutcomeWrite, request)
        o = disputes.dispute_outcome_set(actor=request.user, event_id=pk, **data)
        return Response(
            {
                "result": o.result,
                "result_label": o.get_result_display(),
                "agreement_text": o.agreement_text,
                "decided_at": o.decided_at,
            }
        )

    post = put
