from django.apps import AppConfig


class ClockConfig(AppConfig):
    name = "wangge.clock"
    label = "clock"
    verbose_name = "时限与工作日历"

    def ready(self) -> None:
        from . import (
            calendar,  # noqa: F401 - connects the signals that keep the installation calendar fresh
            coverage,  # noqa: F401 - registers the calendar coverage check (wangge.W020)
        )
