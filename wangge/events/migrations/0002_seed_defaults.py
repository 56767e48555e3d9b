from django.db import migrations


def seed(apps, schema_editor):
    from wangge.events.seed import CATEGORIES, STATUSES, TIME_LIMITS, TRANSITIONS

    Status = apps.get_model("events", "Status")
    Transition = apps.get_model("events", "Transition")
    Category = apps.get_model("events", "Category")
    TimeLimit = apps.get_model("events", "TimeLimit")
    SosStep = apps.get_model("events", "SosStep")
    by_code = {}
    for i, (code, name, stage, initial, closed) in enumerate(STATUSES):
        by_code[code], _ = Status.objects.get_or_create(
            code=code, defaults=dict(name=name, stage=stage, is_initial=initial, is_closed=closed, sort=i)
        )
    for src, dst, name, roles, note in TRANSITIONS:
        Transition.objects.get_or_create(
            source=by_code[src], target=by_code[dst], defaults=dict(name=name, roles=roles, requires_note=note)
        )
    cats = {}
    for i, (code, name, parent, etype, keywords, dispute) in enumerate(CATEGORIES):
        cats[code], _ = Category.objects.get_or_create(
            code=code,
            defaults=dict(name=name, parent=cats.get(parent), default_type=etype, keywords=keywords,
                          is_dispute=dispute, sort=i),
        )
    if not TimeLimit.objects.exists():
        for cat, urgency, stage, amount, unit in TIME_LIMITS:
            TimeLimit.objects.create(category=cats.get(cat) if cat else None, urgency=urgency, stage=stage,
                                     amount=amount, unit=unit)
    if not SosStep.objects.exists():
        for order, (level, role, minutes) in enumerate(
            [("grid", "grid_worker", 5), ("community", "community_staff", 5), ("street", "street_staff", 5),
             ("district", "district_admin", 10)], start=1
        ):
            SosStep.objects.create(order=order, level=level, role=role, minutes=minutes)


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
