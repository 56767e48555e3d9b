from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix


def site(request: HttpRequest) -> dict[str, Any]:
    return {
        "SITE_NAME": "网格化基层治理平台",
        # A base map file served by Wangge (territory/tiles.py) wins over an outside tile server.
        # Under the script prefix, so an installation mounted at a sub-path (/wangge/) still finds its tiles.
        "TILE_URL": (
            f"{get_script_prefix()}tiles/{{z}}/{{x}}/{{y}}.png"
            if settings.WANGGE_BASEMAP_MBTILES
            else settings.WANGGE_TILE_URL
        ),
        "TILE_ATTRIBUTION": settings.WANGGE_TILE_ATTRIBUTION,
    }
