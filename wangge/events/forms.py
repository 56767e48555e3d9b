"""Forms of the event pages. They parse and check what a person typed (Chinese messages); every rule of
the event loop itself is enforced by the services, whose errors the views show next to the form."""

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from wangge.core.errors import InvalidInput
from wangge.core.forms import Form

from .common import PHOTO_MAX_COUNT, photo_check
from .models import Category, EventType, HandlingUnit, TimeLimit, Urgency

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Labels of model choices. models.py keeps them as plain Chinese (they are also data: admin, API);
# listing them here lets makemessages extract them, and `translated_choices` looks them up when a
# page is rendered. A test checks that every label below has an English translation.
CHOICE_LABELS = (
    # EventType
    gettext_noop("咨询"), gettext_noop("求助"), gettext_noop("投诉"), gettext_noop("举报"), gettext_noop("建议"),
    # Urgency
    gettext_noop("一般"), gettext_noop("紧急"), gettext_noop("特急"),
    # Channel
    gettext_noop("居民上报(我要说)"), gettext_noop("12345热线"), gettext_noop("网格员巡查"), gettext_noop("接口"),
    gettext_noop("传感器告警"), gettext_noop("一键呼叫"), gettext_noop("来访"), gettext_noop("历史导入"),
    # TimeLimit.Unit
    gettext_noop("工作日"), gettext_noop("工作小时"), gettext_noop("自然分钟"),
    # Device.Kind
    gettext_noop("智能手环(一键呼叫)"), gettext_noop("烟感"), gettext_noop("燃气报警"), gettext_noop("水浸"),
    gettext_noop("门磁"), gettext_noop("其他"),
    # DisputeParty.Side, DisputeOutcome.Result
    gettext_noop("申请方"), gettext_noop("被申请方"),
    gettext_noop("调解成功"), gettext_noop("调解不成"), gettext_noop("转司法/诉讼"),
)  # fmt: skip


def translated_choices(choices: Any) -> list[tuple[Any, Any]]:
    """Model choices with their (Chinese) labels translated at render time."""
    return [(value, _(str(label))) for value, label in choices]


RATING_CHOICES = [("satisfied", _("满意")), ("basically", _("基本满意")), ("unsatisfied", _("不满意"))]


def new_idempotency_key() -> str:
    """One key per rendering of an intake form: a double submission creates one event."""
    return uuid.uuid4().hex


CATEGORY_BLANK = _("不确定，由工作人员判断")


def category_choices(*, blank: Any = CATEGORY_BLANK) -> list[Any]:
    """Active categories grouped under their top-level class (optgroups), leaves selectable."""
    cats = list(Category.objects.filter(active=True).order_by("sort", "code"))
    by_parent: dict[int | None, list[Category]] = {}
    for c in cats:
        by_parent.setdefault(c.parent_id, []).append(c)
    out: list[Any] = [("", blank)]
    for top in by_parent.get(None, []):
        children = by_parent.get(top.pk, [])
        if children:
            out.append((top.name, [(c.code, c.name) for c in children]))
        else:
            out.append((top.code, top.name))
    return out


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Zero or more photos, checked by the events service's own rule (type, size, real image content)."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > PHOTO_MAX_COUNT:
            raise forms.ValidationError(gettext("每次最多上传 %(n)s 张照片") % {"n": PHOTO_MAX_COUNT})
        for f in files:
            try:
                photo_check(f)
            except InvalidInput as exc:
                raise forms.ValidationError(f"{exc.message}（{f.name}）") from None
        return files


def _photo_widget(capture: str | None = None) -> MultipleFileInput:
    attrs = {"accept": "image/jpeg,image/png,image/webp,image/*", "data-count": "photo-count"}
    if capture:
        attrs["capture"] = capture
    return MultipleFileInput(attrs=attrs)


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)  # declared as one on the form
    return field


def _model_choice_field(form: forms.BaseForm, name: str) -> "forms.ModelChoiceField[Any]":
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)  # declared as one on the form
    return field


class CategoryChoicesMixin(Form):
    """Fills the form's `category` field with the active categories when the form is built."""

    category_blank: "StrOrPromise | None" = None  # label of the empty choice; None: category_choices' default

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = {} if self.category_blank is None else {"blank": self.category_blank}
        _choice_field(self, "category").choices = category_choices(**blank)


class LocationMixin(Form):
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    address = forms.CharField(label=_("地址"), required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # forms.Form.clean returns cleaned_data
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError(_("地图位置不完整，请重新选点"))
        if data.get("lat") is None and not (data.get("address") or "").strip():
            raise forms.ValidationError(_("请在地图上选点，或填写地址"))
        return data


class ReportForm(CategoryChoicesMixin, LocationMixin):
    """我要说: anyone, no account."""

    description = forms.CharField(
        label=_("遇到了什么问题？"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("例如：小区北门垃圾桶满溢，三天没人清运")}),
        error_messages={"required": _("请填写问题描述")},
    )
    category = forms.ChoiceField(label=_("问题类别（可不选）"), required=False)
    photos = PhotosField(label=_("照片（可选）"), widget=_photo_widget("environment"))
    anonymous = forms.BooleanField(
        label=_("匿名反映（不留姓名和电话）"),
        required=False,
        widget=forms.CheckboxInput(attrs={"data-toggles": "contact"}),
    )
    name = forms.CharField(label=_("姓名（可选）"), required=False, max_length=50)
    phone = forms.RegexField(
        label=_("手机号（可选，便于回访）"),
        required=False,
        regex=r"^1\d{10}$",
        error_messages={"invalid": _("手机号应为11位数字")},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class HotlineForm(CategoryChoicesMixin, LocationMixin):
    """12345 hotline operator: one work order."""

    category_blank = "—"

    work_order = forms.CharField(label=_("工单编号"), max_length=100, required=False)
    caller = forms.CharField(label=_("来电人"), max_length=50, required=False)
    phone = forms.RegexField(
        label=_("来电号码"),
        required=False,
        regex=r"^[\d\-+ ]{5,20}$",
        error_messages={"invalid": _("电话号码格式不正确")},
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    event_type = forms.ChoiceField(
        label=_("诉求类型"), choices=translated_choices(EventType.choices), initial=EventType.COMPLAINT
    )
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=translated_choices(Urgency.choices), initial=Urgency.NORMAL
    )
    category = forms.ChoiceField(label=_("事件分类（可不选，系统建议）"), required=False)
    description = forms.CharField(
        label=_("来电内容"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": _("请填写来电内容")},
    )
    anonymous = forms.BooleanField(label=_("来电人要求保密"), required=False)
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class PatrolForm(CategoryChoicesMixin, LocationMixin):
    """Grid worker in the street: camera photo and GPS."""

    category_blank = "—"

    description = forms.CharField(
        label=_("发现的问题"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写问题描述")},
    )
    category = forms.ChoiceField(label=_("分类"), required=False)
    urgency = forms.ChoiceField(
        label=_("紧急程度"), choices=translated_choices(Urgency.choices), initial=Urgency.NORMAL
    )
    photos = PhotosField(label=_("现场照片"), widget=_photo_widget("environment"))
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class RatingForm(Form):
    rating = forms.ChoiceField(
        label=_("您对处理结果满意吗？"),
        choices=RATING_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择满意程度"), "invalid_choice": _("请选择满意程度")},
    )
    comment = forms.CharField(
        label=_("意见（可选）"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReporterVerifyForm(Form):
    passed = forms.TypedChoiceField(
        label=_("问题解决了吗？"),
        choices=[("1", _("已解决")), ("0", _("还没有解决"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择是否已解决"), "invalid_choice": _("请选择是否已解决")},
    )
    note = forms.CharField(
        label=_("说明（没有解决时必填）"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TrackLookupForm(Form):
    code = forms.RegexField(
        label=_("查询码"),
        regex=r"^[0-9A-Za-z]{6,16}$",
        error_messages={"required": _("请输入查询码"), "invalid": _("查询码格式不正确")},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()


# --- staff action forms -------------------------------------------------------------------------


class NoteForm(Form):
    note = forms.CharField(
        label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AcceptForm(CategoryChoicesMixin, NoteForm):
    category_blank = _("—（沿用系统建议）")
    category = forms.ChoiceField(label=_("分类"), required=False)
    urgency = forms.ChoiceField(
        label=_("紧急程度"), required=False, choices=[("", "—"), *translated_choices(Urgency.choices)]
    )


class ReasonForm(Form):
    reason = forms.CharField(
        label=_("理由"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写理由")},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class DispatchForm(Form):
    unit = forms.ModelChoiceField(
        label=_("处置单位"),
        queryset=HandlingUnit.objects.none(),
        required=False,
        empty_label=_("按分拨规则自动"),
    )
    user = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(label=_("说明/改派理由"), required=False, max_length=300)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            _model_choice_field(self, "unit").queryset = units


class FeedbackForm(Form):
    note = forms.CharField(
        label=_("处置情况"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写处置情况")},
    )
    photos = PhotosField(label=_("处置照片"), widget=_photo_widget("environment"))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class VerifyForm(Form):
    passed = forms.TypedChoiceField(
        label=_("核查结果"),
        choices=[("1", _("通过，结案")), ("0", _("不通过，返工"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择核查结果")},
    )
    note = forms.CharField(
        label=_("核查说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class WhistleForm(Form):
    units = forms.ModelMultipleChoiceField(
        label=_("吹哨召集部门"),
        queryset=HandlingUnit.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一个部门")},
    )
    note = forms.CharField(
        label=_("需要协同解决的问题"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            _model_choice_field(self, "units").queryset = units


class ExtensionRequestForm(Form):
    amount = forms.IntegerField(
        label=_("延期时长"), min_value=1, max_value=365, error_messages={"required": _("请填写延期时长")}
    )
    unit = forms.ChoiceField(
        label=_("单位"), choices=translated_choices(TimeLimit.Unit.choices), initial=TimeLimit.Unit.WORKDAY
    )
    reason = forms.CharField(
        label=_("延期理由"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写延期理由")},
    )


class ExtensionDecideForm(Form):
    extension = forms.IntegerField(widget=forms.HiddenInput)
    approve = forms.TypedChoiceField(choices=[("1", _("批准")), ("0", _("驳回"))], coerce=lambda v: v == "1")
    note = forms.CharField(label=_("审批意见"), required=False, max_length=500)


class MergeForm(Form):
    duplicates = forms.MultipleChoiceField(
        label=_("合并到本事件的重复事件"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请选择要合并的事件")},
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def __init__(self, *args: Any, candidates: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "duplicates").choices = [(str(c.pk), c.tracking_code) for c in (candidates or [])]


class EventFilterForm(Form):
    q = forms.CharField(label=_("关键词/查询码"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False)
    urgency = forms.ChoiceField(
        label=_("紧急程度"), required=False, choices=[("", _("全部")), *translated_choices(Urgency.choices)]
    )
    warning = forms.ChoiceField(
        label=_("时限"),
        required=False,
        choices=[("", _("全部")), ("none", _("正常")), ("yellow", _("黄色预警")), ("red", _("红色超期"))],
    )
    channel = forms.ChoiceField(label=_("来源"), required=False)

    def __init__(self, *args: Any, statuses: Any = (), channels: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "status").choices = [("", _("全部")), *[(s.code, s.name) for s in statuses]]
        _choice_field(self, "channel").choices = [("", _("全部")), *translated_choices(channels)]
