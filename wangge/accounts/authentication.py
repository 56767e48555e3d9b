"""API token authentication that reads the token, its user and the user's territory in one statement
(every scoped read needs the territory), compiled once per process: every API request pays for this
lookup, and Django's compilation of it cost more CPU than the database (about a millisecond a request,
measured with bench/intake)."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from wangge.core.db.queries import Prepared

_KEY_MAX = Token._meta.get_field("key").max_length or 40
_TOKEN = Prepared(
    lambda key: Token.objects.select_related("user", "user__territory").filter(key=key), key=str
)


def token_user(key: str) -> tuple[Any, Token] | None:
    """(user with its territory loaded, token) for an API key, or None if there is no such key."""
    if len(key) > _KEY_MAX or not key.isprintable():  # no token has it; PostgreSQL refuses NUL in text
        return None
    token = _TOKEN.one(key=key)
    return None if token is None else (token.user, token)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        found = token_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user, token = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, token)
