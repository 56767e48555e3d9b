"""Background task of the clock (django-tasks). The db worker has no scheduler: `wangge sweep --loop
60` (embedded install) or cron / a systemd timer running `wangge sweep` (production) drive the sweep;
any scheduler may also enqueue `clock_sweep_task`."""

from typing import Any

from django_tasks import task


@task()
def clock_sweep_task() -> dict[str, Any]:
    """One pass of the sweep (generic deadlines and every registered source); returns its counts."""
    from .sweep import clock_sweep

    return clock_sweep().as_dict()
