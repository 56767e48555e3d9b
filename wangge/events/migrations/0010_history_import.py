# Issue 18 C1: closed cases of an older system come in on their own channel, "history" (intake/history.py);
# (channel, external_id) is already unique, so the old case number is the idempotency key without a new column.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0009_city_rules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="channel",
            field=models.CharField(
                choices=[
                    ("resident", "居民上报(我要说)"),
                    ("hotline", "12345热线"),
                    ("patrol", "网格员巡查"),
                    ("api", "接口"),
                    ("open311", "Open311"),
                    ("sensor", "传感器告警"),
                    ("sos", "一键呼叫"),
                    ("walk_in", "来访"),
                    ("history", "历史导入"),
                ],
                max_length=16,
                verbose_name="来源渠道",
            ),
        ),
    ]
