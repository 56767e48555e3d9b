"""Refuse NUL characters (U+0000) in query strings and form fields, before any view sees them.

PostgreSQL cannot store or even compare a text containing NUL: psycopg raises on such a parameter, so
one "%00" in a search box or a hand-read form field is a server error (or, on SQLite, a stored value
that breaks the next PostgreSQL migration). Django's and DRF's CharFields refuse NUL by themselves, but
views that read request.GET / request.POST by hand bypass them; this middleware is the one place all
of them pass. JSON bodies are checked by wangge.core.parsers.JSONParser; DRF parses /api/ form bodies
into serializers (which refuse NUL) and Open311 answers in its own error format (open311.views).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict

NUL = "\x00"
MESSAGE = "提交的内容含有空字符（\\x00），请删除后重试。"
API_PREFIX = "/api/"
OWN_FORMAT_PREFIXES = ("/open311/",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def has_nul(data: QueryDict) -> bool:
    """True if any key or value of a QueryDict (files excluded) contains a NUL character."""
    return any(NUL in key or any(NUL in v for v in values) for key, values in data.lists())


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.startswith(OWN_FORMAT_PREFIXES) and self._refused(
            request, api=path.startswith(API_PREFIX)
        ):
            if path.startswith(API_PREFIX):
                return JsonResponse({"code": "nul_character", "message": MESSAGE}, status=400)
            return HttpResponseBadRequest(MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _refused(request: HttpRequest, *, api: bool) -> bool:
        # An empty query string has no NUL: skip building request.GET (most API calls have none).
        if request.META.get("QUERY_STRING") and has_nul(request.GET):
            return True
        # Form bodies of pages only: DRF reads /api/ bodies with its own parsers.
        if api or request.method != "POST" or request.content_type not in FORM_TYPES:
            return False
        return has_nul(request.POST)
