"""Forms of the casework pages: disputes (矛盾纠纷调解), return visits (回访) and devices (设备). They parse
what a person typed; every rule is enforced by the services (disputes.py, services.py, devices.py),
whose Chinese errors the views show next to the form."""

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wangge.core.forms import Form

from .forms import translated_choices
from .models import Device, DisputeOutcome, DisputeParty

# <input type="datetime-local"> sends 2025-03-01T14:30; typed-in values may use a space.
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
BINDING = re.compile(r"^(resident|place|building):(\d{1,12})$")
BINDING_KINDS = ("resident", "place", "building")


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _datetime_field(label: Any, required_message: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        error_messages={"required": required_message, "invalid": _("时间格式不正确")},
    )


# --- disputes -----------------------------------------------------------------------------------


class PartyForm(Form):
    """A party: a resident chosen from the register search, or a name for someone not on it."""

    side = forms.ChoiceField(
        label=_("当事人身份"),
        choices=translated_choices(DisputeParty.Side.choices),
        initial=DisputeParty.Side.APPLICANT,
        error_messages={"required": _("请选择当事人身份"), "invalid_choice": _("请选择当事人身份")},
    )
    resident = forms.IntegerField(
        required=False,
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"invalid": _("请选择有效的居民"), "min_value": _("请选择有效的居民")},
    )
    name = forms.CharField(
        label=_("当事人姓名（不在人房信息中时填写）"),
        required=False,
        max_length=50,
    )
    note = forms.CharField(
        label=_("备注"),
        required=False,
        max_length=200,
    )


class SessionForm(Form):
    held_at = _datetime_field(_("调解时间"), _("请填写调解时间"))
    mediator = forms.CharField(
        label=_("调解员"),
        max_length=50,
        error_messages={"required": _("请填写调解员")},
    )
    place = forms.CharField(
        label=_("调解地点"),
        required=False,
        max_length=100,
    )
    summary = forms.CharField(
        label=_("调解情况"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请填写调解情况")},
    )


class OutcomeForm(Form):
    result = forms.ChoiceField(
        label=_("调解结果"),
        choices=translated_choices(DisputeOutcome.Result.choices),
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择调解结果"), "invalid_choice": _("请选择调解结果")},
    )
    agreement_text = forms.CharField(
        label=_("协议内容（调解成功时必填）"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    decided_at = _datetime_field(_("结果时间"), _("请填写结果时间"))


class DisputeFilterForm(Form):
    q = forms.CharField(label=_("关键词/查询码"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("办理状态"),
        required=False,
        choices=[("", _("全部")), ("open", _("办理中")), ("closed", _("已办结"))],
    )
    result = forms.ChoiceField(
        label=_("调解结果"),
        required=False,
        choices=[
            ("", _("全部")),
            ("none", _("尚无结果")),
            *translated_choices(DisputeOutcome.Result.choices),
        ],
    )


# --- return visits ------------------------------------------------------------------------------


class ReturnVisitForm(Form):
    outcome = forms.CharField(
        label=_("回访情况"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写回访情况")},
    )
    reopen = forms.BooleanField(label=_("群众仍不满意，重新打开事件"), required=False)
    reason = forms.CharField(
        label=_("重新打开理由（可不填，默认用回访情况）"),
        required=False,
        max_length=300,
    )


# --- devices ------------------------------------------------------------------------------------


def _optional_bool(value: Any) -> bool | None:
    return {"1": True, "0": False}.get(value)


class DeviceForm(Form):
    """Register (all fields) or correct (device id fixed) a device. `binding` is "resident:ID",
    "place:ID" or "building:ID" chosen from the search, or empty with a point (lat/lng)."""

    device_id = forms.CharField(
        label=_("设备编号"),
        max_length=64,
        help_text=_("MQTT 主题中的设备编号：1–64 位字母、数字或 _ . : -"),
        error_messages={"required": _("请填写设备编号")},
        widget=forms.TextInput(attrs={"autocapitalize": "off", "autocomplete": "off", "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(
        label=_("设备类型"),
        choices=translated_choices(Device.Kind.choices),
        error_messages={"required": _("请选择设备类型"), "invalid_choice": _("请选择设备类型")},
    )
    name = forms.CharField(
        label=_("设备名称（可选）"),
        required=False,
        max_length=100,
    )
    life_safety = forms.TypedChoiceField(
        label=_("生命安全类（告警按一键呼叫处理）"),
        required=False,
        choices=[("", _("按类型默认（手环、烟感、燃气为是）")), ("1", _("是")), ("0", _("否"))],
        coerce=_optional_bool,
        empty_value=None,
    )
    binding = forms.CharField(required=False, max_length=40)
    lat = forms.FloatField(
        label=_("纬度（WGS-84，无绑定对象时填写）"),
        required=False,
        min_value=-90,
        max_value=90,
        error_messages={"invalid": _("纬度须为数字")},
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    lng = forms.FloatField(
        label=_("经度（WGS-84）"),
        required=False,
        min_value=-180,
        max_value=180,
        error_messages={"invalid": _("经度须为数字")},
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    active = forms.BooleanField(label=_("启用（接收该设备的消息）"), required=False)
    bind_kind = forms.ChoiceField(
        label=_("绑定对象类型"),
        required=False,
        choices=[("resident", _("居民（手环）")), ("place", _("场所/商户")), ("building", _("楼栋"))],
    )
    bind_q = forms.CharField(label=_("查找绑定对象"), required=False, max_length=100)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["device_id"].disabled = True
            self.fields["device_id"].required = False
        else:
            del self.fields["active"]

    def clean_binding(self) -> dict[str, int | None]:
        value = (self.cleaned_data.get("binding") or "").strip()
        out: dict[str, int | None] = {f"{k}_id": None for k in BINDING_KINDS}
        if not value:
            return out
        m = BINDING.match(value)
        if m is None:
            raise forms.ValidationError(_("绑定对象无效，请重新查找选择"))
        out[f"{m.group(1)}_id"] = int(m.group(2))
        return out


class DeviceFilterForm(Form):
    q = forms.CharField(label=_("设备编号或名称"), required=False, max_length=64)
    kind = forms.ChoiceField(
        label=_("设备类型"),
        required=False,
        choices=[("", _("全部")), *translated_choices(Device.Kind.choices)],
    )
    active = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), ("1", _("启用")), ("0", _("停用"))]
    )
