"""Timeline rows written before issue 18 A7 name the actor by login (community1); the page header names
the person (display name). Rewrite those rows to the display name so old and new steps read alike. Only
rows whose stored name is still the actor's own login are touched; reversing leaves the names."""

from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    TimelineEntry = apps.get_model("events", "TimelineEntry")
    named = User.objects.exclude(display_name="").values_list("pk", "username", "display_name")
    for pk, username, display_name in named.iterator():
        if display_name != username:
            TimelineEntry.objects.filter(actor_id=pk, actor_name=username).update(
                actor_name=display_name[:150]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("events", "0014_chinese_labels"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
