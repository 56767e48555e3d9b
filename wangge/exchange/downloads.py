"""Content-Disposition for Chinese file names (RFC 6266 / 5987), shared by the API and the pages."""

from typing import TypeVar
from urllib.parse import quote

from django.http import HttpResponseBase

R = TypeVar("R", bound=HttpResponseBase)


def attachment(response: R, filename: str) -> R:
    ascii_name = "".join(ch if ch.isascii() and ch not in '"\\' else "_" for ch in filename)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response["Cache-Control"] = "no-store"
    return response
