"""Background tasks (django-tasks) of the events clock. Thin wrappers: the work is in clock/notify.

The django-tasks database worker has no scheduler: `wangge sweep --loop 60` (embedded install) or cron /
a systemd timer running `wangge sweep` (production) drive the periodic sweep; any scheduler may also
enqueue `clock_sweep_task`.
"""

from typing import Any

from django_tasks import task


@task()
def clock_sweep_task() -> dict[str, Any]:
    """One pass of the time-limit sweep; returns its counts."""
    from .clock import clock_sweep

    return clock_sweep().as_dict()


@task()
def notifications_send() -> dict[str, int]:
    """Deliver due notifications (enqueued after commit by services that notify); failed sends wait for
    their retry time, which the periodic sweep picks up."""
    from .notify import notifications_send_pending

    result = notifications_send_pending()
    return {"sent": result.sent, "failed": result.failed, "dead": result.dead}
