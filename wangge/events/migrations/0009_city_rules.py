# City rules become rows (issue 17): the words that make triage propose 特急/紧急 (were
# classifier.URGENCY_KEYWORDS and settings.WANGGE_URGENCY_KEYWORDS) and the roles that may blow the whistle or
# supervise (were whistle.WHISTLE_ROLES and views.SUPERVISORS). Seeded with the values the code had; the
# lists are copied here, not imported, so this migration keeps seeding the same rows whatever the code says.

from django.db import migrations, models

CRITICAL = [
    "火", "着火", "起火", "失火", "火灾", "冒烟", "救命", "晕倒", "昏迷", "倒地不起", "燃气泄漏", "煤气泄漏",
    "天然气泄漏", "漏气", "困人", "被困", "一键呼叫", "sos",
]
URGENT = ["漏水", "断电", "停电", "停水", "爆管", "水管爆", "电梯故障", "井盖丢失", "井盖被偷", "触电"]
# Words that contain a keyword but do not mean it (火锅 is not a fire).
IGNORE = [
    "火锅", "火车", "火腿", "发火", "上火", "火气", "火爆", "火柴", "火龙果", "火候", "红火",
    "灭火器", "消火栓", "消防栓", "防火门", "防火",
]
# Fire-safety equipment is a 消防隐患 to fix, not a fire: it must not page the on-duty SOS chain.
EQUIPMENT = {"灭火器", "消火栓", "消防栓", "防火门", "防火"}
SUPERVISORS = ["district_admin", "street_staff", "community_staff"]


def seed(apps, schema_editor):
    UrgencyWord = apps.get_model("events", "UrgencyWord")
    EventRoleRule = apps.get_model("events", "EventRoleRule")
    for level, words in (("critical", CRITICAL), ("urgent", URGENT), ("ignore", IGNORE)):
        for word in words:
            note = "消防设施，是隐患不是火情" if word in EQUIPMENT else ""
            UrgencyWord.objects.get_or_create(word=word, defaults={"level": level, "note": note})
    for role in SUPERVISORS:
        EventRoleRule.objects.get_or_create(role=role, defaults={"may_whistle": True, "supervises": True})


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0008_move_calendar_notification'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventRoleRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('district_admin', '区级管理员'), ('street_staff', '街道工作人员'), ('community_staff', '社区工作人员'), ('grid_worker', '网格员'), ('dept_handler', '部门处置人员'), ('party_member', '党员'), ('resident', '居民')], max_length=32, unique=True, verbose_name='角色')),
                ('may_whistle', models.BooleanField(default=False, verbose_name='可以吹哨')),
                ('supervises', models.BooleanField(default=False, verbose_name='督办(接收督办通知、决定待办事项)')),
                ('note', models.CharField(blank=True, max_length=200, verbose_name='说明')),
            ],
            options={
                'verbose_name': '角色事件规则',
                'verbose_name_plural': '角色事件规则',
                'ordering': ['role'],
            },
        ),
        migrations.CreateModel(
            name='UrgencyWord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('word', models.CharField(max_length=50, unique=True, verbose_name='词语')),
                ('level', models.CharField(choices=[('critical', '特急'), ('urgent', '紧急'), ('ignore', '排除(不算紧急)')], max_length=16, verbose_name='紧急程度')),
                ('active', models.BooleanField(default=True, verbose_name='启用')),
                ('note', models.CharField(blank=True, max_length=200, verbose_name='说明')),
            ],
            options={
                'verbose_name': '紧急程度关键词',
                'verbose_name_plural': '紧急程度关键词',
                'ordering': ['level', 'word'],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
