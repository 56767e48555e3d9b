from typing import Any

from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "wangge.exchange"
    label = "exchange"
    verbose_name = "导入导出"

    def ready(self) -> None:
        from wangge.clock.sweep import register_source

        # Imports whose worker died (killed, out of memory) are failed visibly by every `wangge sweep`.
        register_source("imports", imports_expire_source)


def imports_expire_source(*, now: Any) -> dict[str, Any]:
    """The exchange's part of the periodic sweep: fail the imports whose worker stopped reporting."""
    from .services import import_jobs_expire

    jobs = import_jobs_expire(now=now)
    return {"imports_expired": len(jobs), "notes": [f"导入任务#{job.pk} 中断：{job.message}" for job in jobs]}
