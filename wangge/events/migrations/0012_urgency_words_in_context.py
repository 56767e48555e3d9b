# Urgency words read in context (issue 18 C2): the single character 火 raised 水深火热, 如火如荼, 火疗 and 火炬
# to 特急 and started the SOS watch. It is switched off (kept, so an installation sees why) and replaced by
# phrases that mean danger; idioms and compounds that contain a danger word are added as `ignore` words,
# which the matcher masks before matching (longest match first). Rows an installation already has are left
# as they are; only missing words are added. The lists are copied here, not imported.

from django.db import migrations

MARK = "议题18：按词语匹配"
CRITICAL = [
    "着火", "起火", "失火", "火灾", "火情", "大火", "火势", "明火", "火苗", "烧起来", "烧着了", "冒烟", "浓烟",
    "爆炸", "救命", "晕倒", "昏迷", "倒地不起", "燃气泄漏", "煤气泄漏", "天然气泄漏", "漏气", "困人", "被困",
    "溺水", "一键呼叫", "sos",
]  # fmt: skip
URGENT = ["漏水", "断电", "停电", "停水", "爆管", "水管爆", "电梯故障", "井盖丢失", "井盖被偷", "触电"]
IGNORE = [
    "火锅", "火车", "火腿", "发火", "上火", "火气", "火爆", "火柴", "火龙果", "火候", "红火", "灭火器", "消火栓",
    "消防栓", "防火门", "防火", "水深火热", "如火如荼", "火疗", "火炬", "恼火", "火烧云", "火星", "火箭", "火山",
    "烟火", "香火", "火热", "火辣", "火速", "心急火燎", "被困扰", "困扰", "轮胎漏气", "车胎漏气", "信息爆炸",
    "烟囱冒烟", "着火锅", "着火车", "着火炬", "着火腿", "禁止明火", "严禁明火",
]  # fmt: skip
SINGLE = "火"
SINGLE_NOTE = "单字“火”会命中水深火热、如火如荼等，已停用，改用“着火”“起火”等词语（议题18）"


def forwards(apps, schema_editor):
    UrgencyWord = apps.get_model("events", "UrgencyWord")
    UrgencyWord.objects.filter(word=SINGLE, level="critical", active=True).update(active=False, note=SINGLE_NOTE)
    for level, words in (("critical", CRITICAL), ("urgent", URGENT), ("ignore", IGNORE)):
        for word in words:
            UrgencyWord.objects.get_or_create(word=word, defaults={"level": level, "note": MARK})


def backwards(apps, schema_editor):
    UrgencyWord = apps.get_model("events", "UrgencyWord")
    UrgencyWord.objects.filter(note=MARK).delete()
    UrgencyWord.objects.filter(word=SINGLE, note=SINGLE_NOTE).update(active=True, note="")


class Migration(migrations.Migration):
    dependencies = [("events", "0011_verify_rule")]

    operations = [migrations.RunPython(forwards, backwards)]
