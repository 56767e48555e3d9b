"""The answer to a locked-out sign-in (settings.AXES_LOCKOUT_CALLABLE): a Chinese page, or the API's
{"code", "message"} body, both 429 with Retry-After."""

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_CODE = "login_locked"


def lockout_minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message() -> str:
    minutes = lockout_minutes()
    wait = f"请 {minutes} 分钟后再试" if minutes else "请联系管理员解锁"
    return f"登录失败次数过多，该账号或当前网络地址已被暂时锁定，{wait}。如需立即解锁，请联系管理员。"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    message = lockout_message()
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": LOCKED_CODE, "message": message}, status=429, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    if minutes := lockout_minutes():
        response["Retry-After"] = str(minutes * 60)
    return response
