"""Chinese names for what audit rows store as codes: actions (`resident.reveal`, `event.dispatch`) and
object types (`registry.organisation`).

An action is `<subject>.<verb>` (a few older ones have no subject: `device_register`). Its name is the
subject's noun and the verb's name ("组织 · 新建"); a whole action can have its own name. Object types are
`<app_label>.<model_name>` and take the model's verbose_name, so a new model is named without an entry
here. Apps above audit add the verbs of their own vocabulary with `verbs_register` from their
`AppConfig.ready()` (events: its timeline steps under `event.`). Anything unknown is shown in a readable
Chinese form, never as a bare code.
"""

import functools
from collections.abc import Mapping

from django.apps import apps
from django.utils.translation import gettext, gettext_noop

# Subjects of actions that are not the name of a model.
SUBJECTS = {
    "auth": gettext_noop("登录"),
    "event": gettext_noop("事件"),
    "events": gettext_noop("事件配置"),
    "clock": gettext_noop("工作日历"),
    "classifier": gettext_noop("分类模型"),
    "crypto": gettext_noop("加密密钥"),
    "deadline": gettext_noop("时限"),
    "demo": gettext_noop("演示数据"),
    "dispute": gettext_noop("矛盾纠纷"),
    "export": gettext_noop("导出"),
    "grid": gettext_noop("网格"),
    "import": gettext_noop("导入"),
    "memberunit": gettext_noop("党建成员单位"),
    "notification": gettext_noop("通知"),
    "open311": gettext_noop("Open311 接口"),
    "partyorg": gettext_noop("党组织"),
    "user": gettext_noop("用户"),
}

VERBS = {
    "create": gettext_noop("新建"),
    "update": gettext_noop("修改"),
    "delete": gettext_noop("删除"),
    "reveal": gettext_noop("查看完整个人信息"),
    "move_in": gettext_noop("迁入"),
    "move_out": gettext_noop("迁出"),
    "admin_create": gettext_noop("后台新建"),
    "admin_update": gettext_noop("后台修改"),
    "admin_delete": gettext_noop("后台删除"),
    "config_create": gettext_noop("新建配置"),
    "config_update": gettext_noop("修改配置"),
    "config_delete": gettext_noop("删除配置"),
    "calendar_year_mark": gettext_noop("标记日历年度"),
    "lockout": gettext_noop("账号锁定"),
    "login_failed": gettext_noop("登录失败"),
    "otp_begin": gettext_noop("开始绑定动态口令"),
    "otp_enrolled": gettext_noop("绑定动态口令"),
    "role_policy": gettext_noop("修改角色登录策略"),
    "train": gettext_noop("训练"),
    "train_enqueue": gettext_noop("排队训练"),
    "train_failed": gettext_noop("训练失败"),
    "rotate_keys": gettext_noop("轮换密钥"),
    "open": gettext_noop("开始计时"),
    "close": gettext_noop("结束计时"),
    "warning": gettext_noop("预警"),
    "escalate": gettext_noop("超期上报"),
    "generate": gettext_noop("生成"),
    "boundary": gettext_noop("修改边界"),
    "redraw": gettext_noop("调整划分"),
    "retire": gettext_noop("撤销"),
    "staff_assign": gettext_noop("配备人员"),
    "staff_unassign": gettext_noop("撤回人员"),
    "upload": gettext_noop("上传文件"),
    "finish": gettext_noop("完成"),
    "expire": gettext_noop("过期清理"),
    "residents": gettext_noop("居民"),
    "buildings": gettext_noop("楼栋"),
    "places": gettext_noop("场所"),
    "facilities": gettext_noop("设施"),
    "requeue": gettext_noop("重新发送"),
    "key_create": gettext_noop("新建接口密钥"),
    "key_revoke": gettext_noop("吊销接口密钥"),
    "request_update": gettext_noop("更新服务请求"),
    "superuser": gettext_noop("设为超级管理员"),
    "party_add": gettext_noop("登记当事人"),
    "mediation_add": gettext_noop("登记调解"),
    "outcome_set": gettext_noop("登记调解结果"),
}

# Whole actions with a name of their own (no subject, or a name that reads better than subject · verb).
ACTIONS = {
    "device_register": gettext_noop("登记呼叫设备"),
    "device_update": gettext_noop("修改呼叫设备"),
    "device_deactivate": gettext_noop("停用呼叫设备"),
    "sos_watch_start": gettext_noop("一键呼叫值守开始"),
    "sos_ack": gettext_noop("一键呼叫值守确认"),
    "event.create": gettext_noop("事件 · 上报"),
    "event.create_batch": gettext_noop("事件 · 批量上报"),
    "event.hotline_import": gettext_noop("事件 · 导入12345工单"),
    "event.history_import": gettext_noop("事件 · 导入历史事件"),
    "event.extension_decide": gettext_noop("事件 · 延期审批"),
    "event.merge_notify": gettext_noop("事件 · 通知合并事件的反映人"),
}

# Object types that are not a model.
OBJECT_TYPES = {
    "events.history_import": gettext_noop("历史事件导入"),
    "events.hotline_import": gettext_noop("12345工单导入"),
    "export.residents": gettext_noop("居民导出"),
    "export.buildings": gettext_noop("楼栋导出"),
    "export.places": gettext_noop("场所导出"),
    "export.facilities": gettext_noop("设施导出"),
}

OTHER_ACTION = gettext_noop("其他操作")
OTHER_OBJECT = gettext_noop("其他对象")

_registered: dict[str, dict[str, str]] = {}


def verbs_register(subject: str, verbs: Mapping[str, str]) -> None:
    """Names for the verbs of `<subject>.<verb>` actions of an app above audit (from its ready())."""
    _registered.setdefault(subject, {}).update(verbs)


@functools.cache
def _model_noun(model_name: str) -> str:
    """The verbose_name of the model called `model_name` in any app ("" when there is none)."""
    for model in apps.get_models():
        if model._meta.model_name == model_name:
            return str(model._meta.verbose_name)
    return ""


def action_label_known(action: str) -> str:
    """The Chinese name of an audit action, or "" when some part of it has no name."""
    if action in ACTIONS:
        return gettext(ACTIONS[action])
    subject, dot, verb = action.partition(".")
    if not dot:
        return ""
    noun = gettext(SUBJECTS[subject]) if subject in SUBJECTS else _model_noun(subject)
    verb_name = _registered.get(subject, {}).get(verb) or VERBS.get(verb, "")
    if not (noun and verb_name):
        return ""
    return f"{noun} · {gettext(verb_name)}"


def action_label(action: str) -> str:
    """The Chinese name of an audit action; an unknown one is named by what is known of it."""
    known = action_label_known(action)
    if known:
        return known
    subject, dot, verb = action.partition(".")
    noun = (
        gettext(SUBJECTS[subject]) if dot and subject in SUBJECTS else (_model_noun(subject) if dot else "")
    )
    # Two unknown actions must not read the same in the filter: the code follows, in brackets.
    other = f"{gettext(OTHER_ACTION)}（{(verb if dot else action).replace('_', ' ')}）"
    return f"{noun} · {other}" if noun else other


def object_type_label(object_type: str) -> str:
    """The Chinese name of an object type (`app_label.model_name`): the model's verbose_name."""
    if not object_type:
        return ""
    if object_type in OBJECT_TYPES:
        return gettext(OBJECT_TYPES[object_type])
    app_label, _, model_name = object_type.partition(".")
    try:
        return str(apps.get_model(app_label, model_name)._meta.verbose_name)
    except (LookupError, ValueError):
        return gettext(OTHER_OBJECT)
