"""Default rules for a new installation: status graph, category tree, time limits.

Loaded by migration 0002; every row is editable afterwards (admin/API).
"""

from django.utils.translation import gettext_noop

from wangge.clock.seed import FIXED_HOLIDAYS as CLOCK_FIXED_HOLIDAYS

# code, name, stage, is_initial, is_closed
STATUSES = [
    ("pending", gettext_noop("待受理"), "accept", True, False),
    ("accepted", gettext_noop("已受理"), "dispatch", False, False),
    ("rejected", gettext_noop("不予受理"), "", False, True),
    ("dispatched", gettext_noop("已派遣"), "handle", False, False),
    ("handling", gettext_noop("处置中"), "handle", False, False),
    ("suspended", gettext_noop("挂起"), "", False, False),
    ("handled", gettext_noop("已处置"), "verify", False, False),
    ("verifying", gettext_noop("核查中"), "verify", False, False),
    ("closed", gettext_noop("已结案"), "", False, True),
    ("rated", gettext_noop("已评价"), "", False, True),
]

# source, target, action name, roles ([] = any staff), requires_note
TRANSITIONS: list[tuple[str, str, str, list[str], bool]] = [
    ("pending", "accepted", "受理", [], False),
    ("pending", "rejected", "不予受理", [], True),
    ("accepted", "dispatched", "派遣", [], False),
    ("dispatched", "handling", "签收", [], False),
    ("dispatched", "accepted", "退回", [], True),
    ("dispatched", "suspended", "挂起", [], True),
    ("handling", "handled", "处置反馈", [], True),
    ("handling", "accepted", "上报(本级无法解决)", [], True),
    ("handling", "suspended", "挂起", [], True),
    ("suspended", "handling", "恢复处置", [], False),
    ("handled", "verifying", "开始核查", [], False),
    ("handled", "closed", "核查通过并结案", [], False),
    ("handled", "handling", "返工", [], True),
    ("verifying", "closed", "核查通过并结案", [], False),
    ("verifying", "handling", "返工", [], True),
    ("closed", "rated", "评价", [], False),
    ("closed", "handling", "重新打开", [], True),
    ("rated", "handling", "重新打开", [], True),
]

# code, name, parent code, default type, keywords, is_dispute
CATEGORIES = [
    ("01", "市容环境", None, "complaint", "", False),
    ("0101", "环境卫生", "01", "complaint", "垃圾,卫生,脏,臭,清扫,垃圾桶,满溢,粪便,污水", False),
    ("0102", "乱堆杂物", "01", "complaint", "堆放,杂物,堆积,建筑垃圾,占用楼道,楼道堆", False),
    ("0103", "油烟扰民", "01", "complaint", "油烟,烧烤,排烟,餐馆,饭店,呛", False),
    ("0104", "噪音扰民", "01", "complaint", "噪音,噪声,吵,广场舞,装修声,深夜,喇叭", False),
    ("0105", "暴露垃圾/违规焚烧", "01", "complaint", "焚烧,烧垃圾,露天烧", False),
    ("02", "宣传广告", None, "complaint", "", False),
    ("0201", "违规张贴小广告", "02", "complaint", "小广告,张贴,涂写,牛皮癣,喷涂", False),
    ("03", "施工管理", None, "complaint", "", False),
    ("0301", "施工扰民", "03", "complaint", "施工,工地,夜间施工,扬尘,渣土", False),
    ("04", "街面秩序", None, "complaint", "", False),
    ("0401", "占道经营", "04", "complaint", "占道,摆摊,流动摊贩,小贩,摊点", False),
    ("0402", "出店经营", "04", "complaint", "出店,店外经营,门前摆放,越门", False),
    ("0403", "无证经营", "04", "report", "无证,没有执照,黑作坊,无照", False),
    ("0404", "乱停乱放", "04", "complaint", "乱停,违停,停车占道,共享单车,电动车乱放,堵门", False),
    ("05", "突发事件", None, "help", "", False),
    ("0501", "消防隐患", "05", "report", "消防,火灾,着火,通道堵塞,飞线充电,电动车充电,灭火器", False),
    ("0502", "安全求助(一键呼叫)", "05", "help", "摔倒,呼救,救命,SOS,一键呼叫,晕倒", False),
    ("0503", "燃气泄漏", "05", "help", "燃气,煤气,漏气,天然气", False),
    ("06", "社区事务", None, "complaint", "", False),
    ("0601", "矛盾纠纷", "06", "complaint", "纠纷,吵架,争执,邻里,打架,矛盾,调解", True),
    ("0602", "物业纠纷", "06", "complaint", "物业,物业费,保安,物业公司,业委会", True),
    ("0603", "房屋渗水/外墙脱落", "06", "complaint", "漏水,渗水,外墙,脱落,墙皮,楼顶漏", False),
    ("0604", "电梯故障", "06", "complaint", "电梯,困人,停运,电梯坏", False),
    ("0605", "停车问题", "06", "complaint", "停车位,车位,停车难,停车收费", False),
    ("0606", "求助", "06", "help", "帮忙,帮助,困难,求助,独居,老人需要", False),
    ("0607", "咨询", "06", "consult", "咨询,请问,怎么办理,如何,政策", False),
    ("0608", "建议", "06", "suggestion", "建议,希望,提议,增设", False),
    ("07", "部件问题", None, "complaint", "", False),
    ("0701", "井盖破损/丢失", "07", "complaint", "井盖,窨井,下水道盖", False),
    ("0702", "路灯不亮", "07", "complaint", "路灯,灯不亮,照明,黑灯", False),
    ("0703", "消防栓损坏", "07", "complaint", "消防栓,消火栓", False),
    ("0704", "公共设施损坏", "07", "complaint", "健身器材,座椅,护栏,损坏,坏了", False),
    ("99", "其他", None, "complaint", "", False),
]

# category code (None = any), urgency ("" = any), stage, amount, unit
TIME_LIMITS = [
    (None, "", "accept", 2, "workhour"),
    (None, "urgent", "accept", 30, "minute"),
    (None, "critical", "accept", 10, "minute"),
    (None, "", "dispatch", 2, "workhour"),
    (None, "urgent", "dispatch", 30, "minute"),
    (None, "critical", "dispatch", 10, "minute"),
    (None, "", "handle", 5, "workday"),
    (None, "urgent", "handle", 1, "workday"),
    (None, "critical", "handle", 120, "minute"),
    (None, "", "verify", 1, "workday"),
    (None, "urgent", "verify", 4, "workhour"),
    (None, "critical", "verify", 60, "minute"),
    ("0607", "", "handle", 2, "workday"),
    ("0702", "", "handle", 1, "workday"),
    ("0601", "", "handle", 15, "workday"),
    ("0502", "", "accept", 5, "minute"),
]

# The fixed-date public holidays moved to wangge.clock.seed (migration 0007 still reads them here).
FIXED_HOLIDAYS = CLOCK_FIXED_HOLIDAYS
