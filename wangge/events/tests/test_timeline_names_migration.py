"""Migration events/0015: timeline rows written before issue 18 A7 named the actor by login; they are
rewritten to the display name the page header shows, and nothing else is touched."""

import importlib
from typing import Any

from django.apps import apps

from wangge.events.models import TimelineEntry
from wangge.events.tests.core_helpers import report

migration = importlib.import_module("wangge.events.migrations.0015_timeline_actor_names")


def test_old_rows_get_the_display_name(world: Any) -> None:
    event = report()
    grid1, grid2 = world.users.grid1, world.users.grid2
    grid1.display_name = "张三"
    grid1.save(update_fields=["display_name"])
    old = TimelineEntry.objects.create(event=event, action="note", actor=grid1, actor_name="grid1")
    renamed = TimelineEntry.objects.create(event=event, action="note", actor=grid1, actor_name="张老三")
    other = TimelineEntry.objects.create(event=event, action="note", actor=grid2, actor_name="grid1")
    system = TimelineEntry.objects.create(event=event, action="note", actor=None, actor_name="system")

    migration.forwards(apps, None)

    names = dict(
        TimelineEntry.objects.filter(pk__in=[old.pk, renamed.pk, other.pk, system.pk]).values_list(
            "pk", "actor_name"
        )
    )
    assert names[old.pk] == "张三"
    assert names[renamed.pk] == "张老三"  # a name that is not the login is the name they had then
    assert names[other.pk] == "grid1"  # another account's row with that text is not this person's
    assert names[system.pk] == "system"
