"""The 大字版 (large text) switch: a cookie the server reads, so it works without any script."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

TEXT_COOKIE = "wangge_text"
TEXT_SIZES = ("large", "normal")
YEAR = 365 * 24 * 3600


@require_POST
def text_size(request: HttpRequest) -> HttpResponse:
    """Set or clear the large-text cookie and go back to the page the visitor was on."""
    size = request.POST.get("size", "")
    if size not in TEXT_SIZES:
        return HttpResponseBadRequest(
            "字号参数无效：只能选择大字版或标准字。", content_type="text/plain; charset=utf-8"
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"  # never an open redirect to another host
    response = HttpResponseRedirect(target)
    if size == "large":
        response.set_cookie(
            TEXT_COOKIE, "large", max_age=YEAR, samesite="Lax", secure=request.is_secure(), httponly=True
        )
    else:
        response.delete_cookie(TEXT_COOKIE, samesite="Lax")
    return response
