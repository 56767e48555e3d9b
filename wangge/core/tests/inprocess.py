"""Calling the WSGI app directly inside a pytest-django test transaction."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@contextmanager
def keep_test_connection() -> Iterator[None]:
    """Requests through the plain WSGI handler would close the test's database connection at their
    start and end (close_old_connections); django.test.Client disconnects that handler around each of
    its own requests (and connects it back after), and so does this, around a block of requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
