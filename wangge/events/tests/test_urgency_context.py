"""Urgency words read in context (issue 18 C2): idioms that contain a danger word, negations, real danger.

`PROPOSED` is the list of rows the seed migration should hold (the lead copies it into a data migration;
migrations copy lists, they do not import them). Until then the `proposed_words` fixture puts exactly these
rows in place, so the sentences below test the matcher together with the data it will run on.
"""

from typing import Any

import pytest

from wangge.events.models import UrgencyWord
from wangge.events.triage.urgency import suggest_urgency, urgency_hits

# Phrases that mean danger; no single characters (火 alone raised 水深火热 to 特急).
CRITICAL = [
    "着火", "起火", "失火", "火灾", "火情", "大火", "火势", "明火", "火苗", "烧起来", "烧着了", "冒烟", "浓烟",
    "爆炸", "救命", "晕倒", "昏迷", "倒地不起", "燃气泄漏", "煤气泄漏", "天然气泄漏", "漏气", "困人", "被困",
    "溺水", "一键呼叫", "sos",
]  # fmt: skip
URGENT = ["漏水", "断电", "停电", "停水", "爆管", "水管爆", "电梯故障", "井盖丢失", "井盖被偷", "触电"]
# Compounds and idioms that contain a danger word but are not danger.
IGNORE = [
    "火锅", "火车", "火腿", "发火", "上火", "火气", "火爆", "火柴", "火龙果", "火候", "红火", "灭火器", "消火栓",
    "消防栓", "防火门", "防火", "水深火热", "如火如荼", "火疗", "火炬", "恼火", "火烧云", "火星", "火箭", "火山",
    "烟火", "香火", "火热", "火辣", "火速", "心急火燎", "被困扰", "困扰", "轮胎漏气", "车胎漏气", "信息爆炸",
    "烟囱冒烟",
    # 着 as an aspect particle before a 火-word (吃着火锅, 举着火炬): longer than 着火, so it wins.
    "着火锅", "着火车", "着火炬", "着火腿", "禁止明火", "严禁明火",
]  # fmt: skip
PROPOSED = (
    [(w, "critical") for w in CRITICAL] + [(w, "urgent") for w in URGENT] + [(w, "ignore") for w in IGNORE]
)


@pytest.fixture
def proposed_words(db: Any) -> None:
    UrgencyWord.objects.all().delete()
    UrgencyWord.objects.bulk_create([UrgencyWord(word=w, level=level) for w, level in PROPOSED])
    from wangge.events.reference import reference_reset

    reference_reset()  # bulk_create sends no signal


SENTENCES = [
    # The four idioms of the issue, and other everyday words around 火/困/漏气/爆炸/冒烟.
    ("群众生活在水深火热之中，希望多关心", "normal"),
    ("社区文化节办得如火如荼", "normal"),
    ("小区门口新开了一家火疗馆，天天发传单", "normal"),
    ("广场上有人举着火炬跑步", "normal"),
    ("楼下火锅店油烟太大", "normal"),
    ("邻居天天吃着火锅唱歌", "normal"),
    ("火车站附近出租车乱停", "normal"),
    ("水果摊卖的火龙果坏了", "normal"),
    ("邻居经常发火吵架", "normal"),
    ("最近上火了想咨询社区医生", "normal"),
    ("奶茶店生意火爆，排队占道", "normal"),
    ("物业拖着不修，真让人恼火", "normal"),
    ("夜市很红火，但是噪音大", "normal"),
    ("长期被噪音困扰，晚上睡不着", "normal"),
    ("商铺灭火器过期，消防通道被货物占用", "normal"),
    ("路口消火栓被车撞歪", "normal"),
    ("傍晚天上一片火烧云，很好看", "normal"),
    ("电动车轮胎漏气了，想找修车点", "normal"),
    ("过年放烟火太吵", "normal"),
    ("sosa牌音箱声音太大", "normal"),  # a Latin word matches only as a whole word
    ("建议增设健身器材", "normal"),
    # Real danger.
    ("厨房着火了，快来人", "critical"),
    ("3栋楼道起火，浓烟很大", "critical"),
    ("仓库失火了", "critical"),
    ("小区发生火灾", "critical"),
    ("楼道里电动车冒烟", "critical"),
    ("闻到燃气泄漏的味道", "critical"),
    ("楼道里有老人晕倒了", "critical"),
    ("电梯困人了", "critical"),
    ("有人被困在电梯里", "critical"),
    ("救命！有人昏迷", "critical"),
    ("SOS", "critical"),
    ("家里失火车库都烧了", "critical"),  # 失火 and 火车 overlap: the danger word wins
    ("灭火器旁边着火了", "critical"),  # an ignore phrase hides only its own characters
    ("火锅店着火了", "critical"),
    ("不小心把锅烧着火了", "critical"),  # 不小心 is not a negation of 着火
    ("未成年人被困电梯", "critical"),  # 未 is far from 被困
    ("不是火灾，但是冒烟了", "critical"),  # the negation ends with its clause
    ("没有人管，老人晕倒了", "critical"),
    # Negated or hypothetical life-safety words: 紧急 (a person looks soon), never 特急.
    ("没有着火，只是有烧焦味", "urgent"),
    ("不是火灾，是有人烧烤", "urgent"),
    ("楼道堆放杂物，容易引发火灾", "urgent"),
    ("小区存在火灾隐患", "urgent"),
    ("昨晚起火，已扑灭", "urgent"),
    ("电梯停了，无人被困", "urgent"),
    ("建议安装报警器，防止燃气泄漏", "urgent"),
    ("小区组织火灾演练", "urgent"),
    # Urgent words, and their negation.
    ("楼上漏水到我家", "urgent"),
    ("整栋楼断电了", "urgent"),
    ("不停地漏水", "urgent"),
    ("停水已恢复", "normal"),
    ("今天没有停电", "normal"),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_urgency_in_context(proposed_words: None, text: str, expected: str) -> None:
    assert suggest_urgency(text) == expected


def test_at_least_forty_sentences() -> None:
    assert len(SENTENCES) >= 40
    levels = {e for _, e in SENTENCES}
    assert levels == {"normal", "urgent", "critical"}


@pytest.mark.django_db
def test_the_seeded_words_read_the_idioms_as_ordinary() -> None:
    """Migration 0012: the single character 火 (特急 since 0009; it raised these four idioms to 特急) is
    switched off, danger phrases and idioms are rows. An installation that switches 火 back on still has
    the idioms masked."""
    from wangge.events.reference import reference_reset

    assert not UrgencyWord.objects.get(word="火").active
    idioms = ["群众生活在水深火热之中", "活动办得如火如荼", "楼下新开了火疗馆", "有人拿火炬跑步"]
    assert [suggest_urgency(t) for t in idioms] == ["normal"] * 4
    assert suggest_urgency("厨房着火了") == "critical"
    UrgencyWord.objects.filter(word="火").update(active=True)
    reference_reset()
    assert [suggest_urgency(t) for t in idioms] == ["normal"] * 4
    # A longer ignore phrase does not hide a danger word next to it, nor the 火 of a real fire.
    assert suggest_urgency("火炬旁边着火了") == "critical"
    assert suggest_urgency("火很大") == "critical"


def test_hits_say_which_word_and_whether_it_was_negated(proposed_words: None) -> None:
    hits = urgency_hits("没有着火，但是楼上漏水")
    assert [(h.word, h.level, h.negated) for h in hits] == [
        ("着火", "critical", True),
        ("漏水", "urgent", False),
    ]
    assert urgency_hits("") == []
