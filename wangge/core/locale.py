"""The language of pages and messages: Chinese unless the user chose another one.

Django's LocaleMiddleware follows the browser's Accept-Language, so an office PC or phone set to English
showed English pages to staff who never asked for them. Here the only inputs are the language cookie
written by the language switch (Django's `set_language` view, `/i18n/setlang/`) and LANGUAGE_CODE.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers


def chosen_language(request: HttpRequest) -> str:
    """The language the user chose with the switch, else the installation's default (LANGUAGE_CODE)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen:
        try:
            # Only a language of LANGUAGES counts; an unknown cookie value falls back to the default.
            return translation.get_supported_language_variant(chosen)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


class ChosenLanguageMiddleware:
    """In LocaleMiddleware's place: activates `chosen_language` for the request (pages, forms, API errors)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = chosen_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
        # Left active after the answer, as LocaleMiddleware does: a streamed export is rendered later.
        response = self.get_response(request)
        # The answer depends on the cookie only, never on Accept-Language.
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
