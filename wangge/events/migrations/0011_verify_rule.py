# Issue 18 A2: who may verify (核查) an event's handling becomes a row, `EventRoleRule.may_verify`, instead of
# "any staff member" — and never the handler or whoever gave the feedback (common/actions.py). Seeded with
# the staff roles that verified before (grid worker, community, street and district staff); the department
# handler gets a row too, without it, so the admin shows the choice. The roles are copied here, not imported.

from django.db import migrations, models

VERIFIERS = ["district_admin", "street_staff", "community_staff", "grid_worker"]
NOT_VERIFIERS = ["dept_handler"]


def seed(apps, schema_editor):
    EventRoleRule = apps.get_model("events", "EventRoleRule")
    for role in VERIFIERS:
        rule, _ = EventRoleRule.objects.get_or_create(role=role)
        rule.may_verify = True
        rule.save(update_fields=["may_verify"])
    for role in NOT_VERIFIERS:
        EventRoleRule.objects.get_or_create(role=role, defaults={"note": "处置部门的工作由网格员或上级核查"})


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0010_history_import"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventrolerule",
            name="may_verify",
            field=models.BooleanField(default=False, verbose_name="可以核查(他人的处置结果)"),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
