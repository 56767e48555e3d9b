from typing import Any

import django
from django.core.checks import Warning, register

from . import CHECKED_DJANGO, django_is_checked


@register()
def django_version_checked(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """At every start: the fast paths of core.db rely on Django internals read for one release."""
    if django_is_checked():
        return []
    checked = ".".join(map(str, CHECKED_DJANGO))
    return [
        Warning(
            f"已安装 Django {django.get_version()}，而 wangge/core/db 的快速路径按 Django {checked} 核对过；"
            "请按 wangge/core/db/README.md 重新核对后更新 CHECKED_DJANGO",
            id="wangge.W030",
        )
    ]
