"""One of many processes opening the same fresh state at once (tests/store/test_schema_race.py).

The processes are forked from a forkserver that imported this module (the store, SQLAlchemy, both
drivers) once, so twenty of them start in a fraction of a second instead of twenty interpreter
start-ups, and all reach the schema at the same moment.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone

# Imported once in the forkserver rather than in each of the twenty children: the drivers and
# dialects SQLAlchemy would otherwise import lazily on each child's first connect.
import psycopg  # noqa: F401
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

from bot.game.events import Started
from bot.store.eventlog import Store


def start(url: str, ready: threading.Barrier) -> None:
    """Wait until every starter is ready, then open the store (creating its schema) and append one event."""
    ready.wait(timeout=60)
    store = Store(url)
    try:
        store.append(f"pid-{os.getpid()}", Started(), at=datetime.now(timezone.utc))
    finally:
        store.close()
