"""Content-Disposition for Chinese file names (RFC 6266 / 5987), shared by the API and the pages."""

from urllib.parse import quote

from django.http import HttpResponseBase


def attachment(response: HttpResponseBase, filename: str) -> HttpResponseBase:
    ascii_name = "".join(ch if ch.isascii() and ch not in '"\\' else "_" for ch in filename)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response["Cache-Control"] = "no-store"
    return response
