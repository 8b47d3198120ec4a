"""Closing a store while another thread still uses a connection (a tick the daemon's stop
abandoned) leaves no connection open behind it: the driver's connection is closed when the
tick gives it back, not whenever the garbage collector finds it."""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from bot.store.eventlog import Store


def test_a_connection_in_use_when_the_store_closes_is_closed_when_given_back(
        state_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}"))
    store = Store(state_url)
    holding, release = threading.Event(), threading.Event()
    driver: list[Any] = []

    def tick(engine: sa.Engine) -> None:
        with engine.connect() as conn:
            driver.append(conn.connection.dbapi_connection)
            holding.set()
            release.wait(30)
            conn.execute(sa.text("SELECT 1"))

    thread = threading.Thread(target=tick, args=(store.engine,))
    thread.start()
    assert holding.wait(30)
    store.close()
    release.set()
    thread.join(30)
    assert _closed(driver.pop())  # closed as it came back, before any garbage collection
    del store
    gc.collect()
    assert unraisable == []


def _closed(connection: Any) -> bool:
    closed = getattr(connection, "closed", None)  # psycopg: a bool; sqlite3 has none: a closed one refuses a cursor
    if isinstance(closed, bool):
        return closed
    try:
        connection.cursor()
    except Exception:  # noqa: BLE001 - sqlite3.ProgrammingError: Cannot operate on a closed database
        return True
    return False
