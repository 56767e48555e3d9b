"""Seed key groups (一老一小一特, 七色牌 colours) and GB/T 30428 facility classes. Editable in admin."""

from django.db import migrations

KEY_GROUPS = [
    # code, name, kind, min_age, max_age, colour, sensitive
    ("elderly_60", "60岁以上老人", "derived", 60, None, "orange", False),
    ("elderly_80", "80岁以上高龄老人", "derived", 80, None, "", False),
    ("infant_0_3", "0-3岁婴幼儿", "derived", 0, 2, "", False),
    ("child_0_6", "0-6岁儿童", "derived", 0, 5, "", False),
    ("school_age", "学龄儿童(6-14岁)", "derived", 6, 14, "", False),
    ("disabled", "残疾人", "set", None, None, "blue", True),
    ("empty_nest", "空巢老人", "set", None, None, "yellow", False),
    ("living_alone", "独居老人", "set", None, None, "purple", False),
    ("bereaved", "失独家庭", "set", None, None, "", True),
    ("dementia", "失智老人", "set", None, None, "", True),
    ("destitute", "特困人员", "set", None, None, "red", True),
    ("low_income", "低保户", "set", None, None, "red", True),
    ("left_behind_child", "留守儿童", "set", None, None, "", True),
    ("short_rent", "短租户", "set", None, None, "grey", False),
    ("long_rent", "长租户", "set", None, None, "green", False),
]

FACILITY_CLASSES = [
    ("01", "公用设施", "01", "上水井盖"), ("01", "公用设施", "02", "污水井盖"), ("01", "公用设施", "03", "雨水井盖"),
    ("01", "公用设施", "04", "电力井盖"), ("01", "公用设施", "05", "通信井盖"), ("01", "公用设施", "06", "消防栓"),
    ("01", "公用设施", "07", "路灯"), ("01", "公用设施", "08", "电线杆"), ("01", "公用设施", "09", "监控电子眼"),
    ("01", "公用设施", "10", "电梯"),
    ("02", "交通设施", "01", "公交站亭"), ("02", "交通设施", "02", "交通信号灯"), ("02", "交通设施", "03", "交通标志牌"),
    ("02", "交通设施", "04", "隔离护栏"), ("02", "交通设施", "05", "停车场"),
    ("03", "市容环境设施", "01", "公共厕所"), ("03", "市容环境设施", "02", "垃圾箱"), ("03", "市容环境设施", "03", "垃圾间(楼)"),
    ("03", "市容环境设施", "04", "广告牌匾"),
    ("04", "园林绿化设施", "01", "古树名木"), ("04", "园林绿化设施", "02", "行道树"), ("04", "园林绿化设施", "03", "绿地"),
    ("04", "园林绿化设施", "04", "雕塑"),
    ("05", "房屋土地", "01", "宣传栏"),
    ("06", "其他设施", "01", "健身设施"), ("06", "其他设施", "02", "充电桩"), ("06", "其他设施", "03", "智能门禁"),
]


def seed(apps, schema_editor):
    KeyGroup = apps.get_model("registry", "KeyGroup")
    FacilityClass = apps.get_model("registry", "FacilityClass")
    for i, (code, name, kind, lo, hi, colour, sensitive) in enumerate(KEY_GROUPS):
        KeyGroup.objects.get_or_create(
            code=code,
            defaults=dict(name=name, kind=kind, min_age=lo, max_age=hi, colour=colour, sensitive=sensitive, sort=i),
        )
    for major, major_name, minor, name in FACILITY_CLASSES:
        FacilityClass.objects.get_or_create(major=major, minor=minor, defaults=dict(major_name=major_name, name=name))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
