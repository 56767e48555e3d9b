"""The notification queue on its own: messages about any object, dedupe, retries, dead rows, scoping."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from wangge.core.errors import InvalidInput
from wangge.notify import channels, services
from wangge.notify.models import Notification
from wangge.notify.selectors import notification_list

T0 = datetime(2025, 3, 10, 1, 0, tzinfo=UTC)


class AlwaysDown(channels.Channel):
    name = "down"
    calls = 0

    def send(self, notification: Notification) -> None:
        AlwaysDown.calls += 1
        raise channels.ChannelError("网关超时 13812345678")


@pytest.fixture
def down(settings: Any) -> type[AlwaysDown]:
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.notify.tests.test_notify.AlwaysDown"]
    settings.WANGGE_NOTIFY_RETRY_BASE_SECONDS = 60
    settings.WANGGE_NOTIFY_MAX_ATTEMPTS = 3
    AlwaysDown.calls = 0
    return AlwaysDown


@pytest.mark.django_db
def test_a_message_about_an_object_records_it_and_its_path_and_is_queued_once(world):
    grid = world.g111
    args = {"kind": "remind", "key": "visit:1", "subject": "【提醒】入户走访", "obj": grid}
    assert services.notification_queue(recipients=[world.users.grid1, world.users.grid2], **args) == 2
    assert services.notification_queue(recipients=[world.users.grid1, world.users.grid2], **args) == 0
    rows = Notification.objects.order_by("id")
    assert {(n.content_type, n.object_id, n.path) for n in rows} == {
        (ContentType.objects.get_for_model(grid), grid.pk, grid.path)
    }
    assert rows[0].about == grid
    # Nothing in particular: no subject, no path; an explicit path wins over the object's.
    services.notification_queue(kind="note", key="n", subject="s", recipients=[world.users.admin])
    services.notification_queue(
        kind="note", key="p", subject="s", obj=grid, path="420802", recipients=[world.users.admin]
    )
    assert Notification.objects.get(kind="note", dedupe_key__startswith="n:").content_type is None
    assert Notification.objects.get(kind="note", dedupe_key__startswith="p:").path == "420802"


@pytest.mark.django_db
def test_delivery_retries_with_backoff_then_gives_up(world, down):
    services.notification_queue(kind="remind", key="k", subject="s", recipients=[world.users.grid1])
    n = Notification.objects.get()
    r = services.notifications_send_pending(now=T0)
    assert (r.sent, r.failed, r.dead) == (0, 1, 0)
    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at) == ("queued", 1, T0 + timedelta(seconds=60))
    assert "13812345678" not in n.error and "*******" in n.error
    assert services.notifications_send_pending(now=T0 + timedelta(seconds=59)).failed == 0  # not due yet
    assert services.notifications_send_pending(now=T0 + timedelta(seconds=60)).failed == 1
    r = services.notifications_send_pending(now=T0 + timedelta(seconds=60 + 120))
    assert (r.failed, r.dead) == (1, 1)
    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at) == ("failed", 3, None)
    assert services.notifications_send_pending(now=T0 + timedelta(days=2)).failed == 0 and down.calls == 3
    assert services.notifications_requeue(actor=world.users.admin, ids=[n.pk]) == 1


@pytest.mark.django_db
def test_the_sweep_source_delivers_what_is_due(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.notify.channels.LogChannel"]
    services.notification_queue(kind="remind", key="k", subject="s", recipients=[world.users.grid1])
    assert services.notifications_sweep(now=T0) == {
        "notifications_sent": 1,
        "notifications_failed": 0,
        "notifications_dead": 0,
    }
    assert Notification.objects.get().state == "sent"


@pytest.mark.django_db
def test_the_former_channel_paths_still_name_the_built_in_channels(world, settings):
    settings.WANGGE_NOTIFY_CHANNELS = ["wangge.events.notify.LogChannel"]
    assert [type(c) for c in channels.configured_channels()] == [channels.LogChannel]


@pytest.mark.django_db
def test_lists_are_ones_own_or_scoped_by_the_subjects_territory(world):
    services.notification_queue(
        kind="a", key="here", subject="s", obj=world.g111, recipients=[world.users.grid1]
    )
    services.notification_queue(
        kind="a", key="there", subject="s", obj=world.g211, recipients=[world.users.grid1]
    )
    services.notification_queue(kind="a", key="none", subject="s", recipients=[world.users.grid1])
    assert notification_list(user=world.users.grid1).count() == 3
    assert notification_list(user=world.users.community1).count() == 0
    assert [n.path for n in notification_list(user=world.users.community1, scope="territory")] == [
        world.g111.path
    ]
    assert notification_list(user=world.users.admin, scope="territory").count() == 2  # not the pathless one
    with pytest.raises(InvalidInput):
        notification_list(user=world.users.grid1, scope="all")
