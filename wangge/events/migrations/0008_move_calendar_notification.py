# The calendar (CalendarDay, CalendarYear, FixedHoliday) moved to wangge.clock and the notifications to
# wangge.notify. No table is copied or renamed: the models keep their tables (Meta.db_table) and leave the
# events' state here (clock/0001 and notify/0001 took them in). In the database only the notifications
# change: the event column becomes the generic subject (content type + object id) and the subject's
# territory path, filled from the events (and back, when unapplied). The events keep proxy models of the
# four, so their admin pages and audit labels stay where they were.

import django.db.models.deletion
from django.db import migrations, models

TABLE, EVENTS = "events_notification", "events_event"


def subject_from_event(apps, schema_editor):
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {qn(TABLE)} WHERE {qn('event_id')} IS NOT NULL")
        if cursor.fetchone() is None:
            return
        ContentType = apps.get_model("contenttypes", "ContentType")
        ct, _ = ContentType.objects.using(connection.alias).get_or_create(app_label="events", model="event")
        cursor.execute(
            f"UPDATE {qn(TABLE)} SET {qn('content_type_id')} = %s, {qn('object_id')} = {qn('event_id')}, "
            f"{qn('path')} = COALESCE((SELECT e.{qn('path')} FROM {qn(EVENTS)} e "
            f"WHERE e.{qn('id')} = {qn(TABLE)}.{qn('event_id')}), '') "
            f"WHERE {qn('event_id')} IS NOT NULL",
            [ct.pk],
        )


def event_from_subject(apps, schema_editor):
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    ContentType = apps.get_model("contenttypes", "ContentType")
    ct = ContentType.objects.using(connection.alias).filter(app_label="events", model="event").first()
    if ct is None:
        return
    with connection.cursor() as cursor:
        # Notifications about anything other than an (existing) event keep no subject.
        cursor.execute(
            f"UPDATE {qn(TABLE)} SET {qn('event_id')} = {qn('object_id')} "
            f"WHERE {qn('content_type_id')} = %s AND {qn('object_id')} IN (SELECT {qn('id')} FROM {qn(EVENTS)})",
            [ct.pk],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0007_calendar_coverage"),
        ("clock", "0001_initial"),
        ("notify", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(
                    model_name="notification",
                    name="content_type",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
                migrations.AddField(
                    model_name="notification",
                    name="object_id",
                    field=models.PositiveBigIntegerField(blank=True, null=True),
                ),
                migrations.AddField(
                    model_name="notification",
                    name="path",
                    field=models.CharField(blank=True, db_index=True, max_length=15),
                ),
                migrations.AddIndex(
                    model_name="notification",
                    index=models.Index(
                        fields=["content_type", "object_id"], name="notify_notification_about"
                    ),
                ),
                migrations.RunPython(subject_from_event, event_from_subject),
                migrations.RemoveField(model_name="notification", name="event"),
            ],
            state_operations=[
                migrations.DeleteModel(name="Notification"),
                migrations.DeleteModel(name="CalendarDay"),
                migrations.DeleteModel(name="CalendarYear"),
                migrations.DeleteModel(name="FixedHoliday"),
            ],
        ),
        migrations.CreateModel(
            name="CalendarDay",
            fields=[],
            options={
                "verbose_name": "工作日历调整",
                "verbose_name_plural": "工作日历调整",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("clock.calendarday",),
        ),
        migrations.CreateModel(
            name="CalendarYear",
            fields=[],
            options={
                "verbose_name": "日历年度覆盖",
                "verbose_name_plural": "日历年度覆盖",
                "ordering": ("-year",),
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("clock.calendaryear",),
        ),
        migrations.CreateModel(
            name="FixedHoliday",
            fields=[],
            options={
                "verbose_name": "固定日期节假日",
                "verbose_name_plural": "固定日期节假日",
                "ordering": ("month", "day"),
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("clock.fixedholiday",),
        ),
        migrations.CreateModel(
            name="Notification",
            fields=[],
            options={
                "verbose_name": "通知",
                "verbose_name_plural": "通知",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("notify.notification",),
        ),
    ]
