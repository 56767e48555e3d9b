from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def demo_keys(app_configs: Any, **kwargs: Any) -> list[Warning]:
    out = []
    if settings.DEMO_ENCRYPTION_KEY in settings.WANGGE_ENCRYPTION_KEYS:
        out.append(Warning("正在使用演示加密密钥，请设置 WANGGE_ENCRYPTION_KEYS", id="wangge.W001"))
    if settings.WANGGE_HASH_KEY.startswith("demo-"):
        out.append(Warning("正在使用演示哈希密钥，请设置 WANGGE_HASH_KEY", id="wangge.W002"))
    if settings.SECRET_KEY.startswith("wangge-insecure"):
        out.append(Warning("正在使用演示 SECRET_KEY，请设置 WANGGE_SECRET_KEY", id="wangge.W003"))
    return out


@register(deploy=True)
def public_api_docs(app_configs: Any, **kwargs: Any) -> list[Warning]:
    # The schema lists every endpoint and parameter; in production only staff accounts should read it.
    if settings.WANGGE_PUBLIC_API_DOCS:
        return [
            Warning(
                "API 文档（/api/schema/、/api/docs/、/api/redoc/）允许匿名访问，"
                "生产环境请设置 WANGGE_PUBLIC_API_DOCS=false",
                id="wangge.W010",
            )
        ]
    return []
