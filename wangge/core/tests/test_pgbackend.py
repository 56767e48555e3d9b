"""core.pgbackend: the health check reads the socket; a connection the server closed is replaced."""

import select
import socket
import time
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from psycopg.pq import TransactionStatus

from wangge.core.pgbackend.base import DatabaseWrapper, idle_and_open

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _check_now() -> None:
    """What Django does before a request's first query on a kept connection."""
    connection.health_check_done = False  # type: ignore[attr-defined]
    connection.close_if_health_check_failed()


@on_postgresql
def test_the_engine_is_ours() -> None:
    assert isinstance(connections["default"], DatabaseWrapper)


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_healthy_connection_is_kept_without_a_round_trip(monkeypatch: Any) -> None:
    pid = _backend_pid()
    raw = connection.connection
    monkeypatch.setattr(connection, "is_usable", lambda: pytest.fail("a round trip was made"))
    _check_now()
    assert connection.connection is raw and _backend_pid() == pid


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_the_server_closed_is_replaced_before_the_next_query() -> None:
    pid = _backend_pid()
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"], port=s["PORT"] or None
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    raw = connection.connection
    deadline = time.monotonic() + 5
    while not select.select([raw.fileno()], [], [], 0.05)[0] and time.monotonic() < deadline:
        pass  # the server's goodbye reaches the socket
    _check_now()
    assert connection.connection is None  # closed: the next query connects anew
    assert _backend_pid() != pid


def test_only_an_open_idle_connection_with_nothing_to_read_counts_as_healthy() -> None:
    def conn(closed: bool = False, status: Any = TransactionStatus.IDLE, fileno: Any = None) -> Any:
        return SimpleNamespace(closed=closed, info=SimpleNamespace(transaction_status=status), fileno=fileno)

    assert not idle_and_open(conn(closed=True))
    assert not idle_and_open(conn(status=TransactionStatus.INTRANS))
    assert not idle_and_open(conn(status=TransactionStatus.INERROR))
    assert not idle_and_open(conn(fileno=lambda: -1))  # no socket any more
    a, b = socket.socketpair()
    with a, b:
        assert idle_and_open(conn(fileno=a.fileno))
        b.sendall(b"E")  # the server said something while the connection was idle
        assert not idle_and_open(conn(fileno=a.fileno))
