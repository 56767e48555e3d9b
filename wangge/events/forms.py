"""Forms of the event pages. They parse and check what a person typed (Chinese messages); every rule of
the event loop itself is enforced by the services, whose errors the views show next to the form."""

import uuid
from typing import Any

from django import forms

from .models import Category, EventType, HandlingUnit, TimeLimit, Urgency

RATING_CHOICES = [("satisfied", "满意"), ("basically", "基本满意"), ("unsatisfied", "不满意")]


def new_idempotency_key() -> str:
    """One key per rendering of an intake form: a double submission creates one event."""
    return uuid.uuid4().hex


def category_choices(*, blank: str = "不确定，由工作人员判断") -> list[Any]:
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
        from wangge.core.errors import InvalidInput

        from .services import PHOTO_MAX_COUNT, photo_check

        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > PHOTO_MAX_COUNT:
            raise forms.ValidationError(f"每次最多上传 {PHOTO_MAX_COUNT} 张照片")
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


class CategoryChoicesMixin(forms.Form):
    """Fills the form's `category` field with the active categories when the form is built."""

    category_blank: str | None = None  # label of the empty choice; None: category_choices' default

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        blank = {} if self.category_blank is None else {"blank": self.category_blank}
        self.fields["category"].choices = category_choices(**blank)


class LocationMixin(forms.Form):
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    address = forms.CharField(label="地址", required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise forms.ValidationError("地图位置不完整，请重新选点")
        if data.get("lat") is None and not (data.get("address") or "").strip():
            raise forms.ValidationError("请在地图上选点，或填写地址")
        return data


class ReportForm(CategoryChoicesMixin, LocationMixin):
    """我要说: anyone, no account."""

    description = forms.CharField(
        label="遇到了什么问题？",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "例如：小区北门垃圾桶满溢，三天没人清运"}),
        error_messages={"required": "请填写问题描述"},
    )
    category = forms.ChoiceField(label="问题类别（可不选）", required=False)
    photos = PhotosField(label="照片（可选）", widget=_photo_widget("environment"))
    anonymous = forms.BooleanField(
        label="匿名反映（不留姓名和电话）",
        required=False,
        widget=forms.CheckboxInput(attrs={"data-toggles": "contact"}),
    )
    name = forms.CharField(label="姓名（可选）", required=False, max_length=50)
    phone = forms.RegexField(
        label="手机号（可选，便于回访）",
        required=False,
        regex=r"^1\d{10}$",
        error_messages={"invalid": "手机号应为11位数字"},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class HotlineForm(CategoryChoicesMixin, LocationMixin):
    """12345 hotline operator: one work order."""

    category_blank = "—"

    work_order = forms.CharField(label="工单编号", max_length=100, required=False)
    caller = forms.CharField(label="来电人", max_length=50, required=False)
    phone = forms.RegexField(
        label="来电号码",
        required=False,
        regex=r"^[\d\-+ ]{5,20}$",
        error_messages={"invalid": "电话号码格式不正确"},
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    event_type = forms.ChoiceField(label="诉求类型", choices=EventType.choices, initial=EventType.COMPLAINT)
    urgency = forms.ChoiceField(label="紧急程度", choices=Urgency.choices, initial=Urgency.NORMAL)
    category = forms.ChoiceField(label="事件分类（可不选，系统建议）", required=False)
    description = forms.CharField(
        label="来电内容",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "请填写来电内容"},
    )
    anonymous = forms.BooleanField(label="来电人要求保密", required=False)
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class PatrolForm(CategoryChoicesMixin, LocationMixin):
    """Grid worker in the street: camera photo and GPS."""

    category_blank = "—"

    description = forms.CharField(
        label="发现的问题",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "请填写问题描述"},
    )
    category = forms.ChoiceField(label="分类", required=False)
    urgency = forms.ChoiceField(label="紧急程度", choices=Urgency.choices, initial=Urgency.NORMAL)
    photos = PhotosField(label="现场照片", widget=_photo_widget("environment"))
    idem = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)


class RatingForm(forms.Form):
    rating = forms.ChoiceField(
        label="您对处理结果满意吗？",
        choices=RATING_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "请选择满意程度", "invalid_choice": "请选择满意程度"},
    )
    comment = forms.CharField(
        label="意见（可选）", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReporterVerifyForm(forms.Form):
    passed = forms.TypedChoiceField(
        label="问题解决了吗？",
        choices=[("1", "已解决"), ("0", "还没有解决")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        error_messages={"required": "请选择是否已解决", "invalid_choice": "请选择是否已解决"},
    )
    note = forms.CharField(
        label="说明（没有解决时必填）",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TrackLookupForm(forms.Form):
    code = forms.RegexField(
        label="查询码",
        regex=r"^[0-9A-Za-z]{6,16}$",
        error_messages={"required": "请输入查询码", "invalid": "查询码格式不正确"},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()


# --- staff action forms -------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(
        label="说明", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AcceptForm(CategoryChoicesMixin, NoteForm):
    category_blank = "—（沿用系统建议）"
    category = forms.ChoiceField(label="分类", required=False)
    urgency = forms.ChoiceField(label="紧急程度", required=False, choices=[("", "—"), *Urgency.choices])


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="理由",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "请填写理由"},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class DispatchForm(forms.Form):
    unit = forms.ModelChoiceField(
        label="处置单位", queryset=HandlingUnit.objects.none(), required=False, empty_label="按分拨规则自动"
    )
    user = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reason = forms.CharField(label="说明/改派理由", required=False, max_length=300)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["unit"].queryset = units


class FeedbackForm(forms.Form):
    note = forms.CharField(
        label="处置情况",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "请填写处置情况"},
    )
    photos = PhotosField(label="处置照片", widget=_photo_widget("environment"))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class VerifyForm(forms.Form):
    passed = forms.TypedChoiceField(
        label="核查结果",
        choices=[("1", "通过，结案"), ("0", "不通过，返工")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        error_messages={"required": "请选择核查结果"},
    )
    note = forms.CharField(
        label="核查说明", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class WhistleForm(forms.Form):
    units = forms.ModelMultipleChoiceField(
        label="吹哨召集部门",
        queryset=HandlingUnit.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "请至少选择一个部门"},
    )
    note = forms.CharField(
        label="需要协同解决的问题", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, units: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            self.fields["units"].queryset = units


class ExtensionRequestForm(forms.Form):
    amount = forms.IntegerField(
        label="延期时长", min_value=1, max_value=365, error_messages={"required": "请填写延期时长"}
    )
    unit = forms.ChoiceField(label="单位", choices=TimeLimit.Unit.choices, initial=TimeLimit.Unit.WORKDAY)
    reason = forms.CharField(
        label="延期理由",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "请填写延期理由"},
    )


class ExtensionDecideForm(forms.Form):
    extension = forms.IntegerField(widget=forms.HiddenInput)
    approve = forms.TypedChoiceField(choices=[("1", "批准"), ("0", "驳回")], coerce=lambda v: v == "1")
    note = forms.CharField(label="审批意见", required=False, max_length=500)


class MergeForm(forms.Form):
    duplicates = forms.MultipleChoiceField(
        label="合并到本事件的重复事件",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "请选择要合并的事件"},
    )
    note = forms.CharField(label="说明", required=False, max_length=500)

    def __init__(self, *args: Any, candidates: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["duplicates"].choices = [(str(c.pk), c.tracking_code) for c in (candidates or [])]


class EventFilterForm(forms.Form):
    q = forms.CharField(label="关键词/查询码", required=False, max_length=100)
    status = forms.ChoiceField(label="状态", required=False)
    urgency = forms.ChoiceField(label="紧急程度", required=False, choices=[("", "全部"), *Urgency.choices])
    warning = forms.ChoiceField(
        label="时限",
        required=False,
        choices=[("", "全部"), ("none", "正常"), ("yellow", "黄色预警"), ("red", "红色超期")],
    )
    channel = forms.ChoiceField(label="来源", required=False)

    def __init__(self, *args: Any, statuses: Any = (), channels: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "全部"), *[(s.code, s.name) for s in statuses]]
        self.fields["channel"].choices = [("", "全部"), *channels]
