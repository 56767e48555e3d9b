from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "SITE_NAME": "网格化基层治理平台",
        "TILE_URL": settings.WANGGE_TILE_URL,
        "TILE_ATTRIBUTION": settings.WANGGE_TILE_ATTRIBUTION,
    }
