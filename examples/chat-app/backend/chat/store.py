"""Message storage over any DB-API 2 driver (psycopg in production, sqlite3 in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Each DB-API driver spells its query parameters differently.
PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@dataclass(frozen=True)
class Message:
    """One chat message as stored."""

    id: int
    author: str
    text: str
    created_at: str  # ISO 8601, UTC


def _iso(value: object) -> str:
    # PostgreSQL hands back a datetime, SQLite the string we stored.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


class MessageStore:
    """Reads and writes messages; opens one connection per unit of work.

    `connect` returns a new DB-API 2 connection. `id_type` is the column type
    that auto-increments: SERIAL on PostgreSQL, INTEGER (a rowid alias) on SQLite.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        paramstyle: str = "format",
        id_type: str = "SERIAL",
    ) -> None:
        if paramstyle not in PLACEHOLDERS:
            supported = ", ".join(sorted(PLACEHOLDERS))
            raise ValueError(f"unsupported paramstyle {paramstyle!r}; use one of: {supported}")
        self._connect = connect
        self._p = PLACEHOLDERS[paramstyle]
        self._id_type = id_type

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        connection = self._connect()
        try:
            cursor = connection.cursor()
            try:
                yield cursor
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        finally:
            connection.close()

    def create_schema(self) -> None:
        """Create the messages table if it is not there yet."""
        with self._cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS messages ("
                f" id {self._id_type} PRIMARY KEY,"
                " author VARCHAR(64) NOT NULL,"
                " text VARCHAR(2000) NOT NULL,"
                " created_at TIMESTAMPTZ NOT NULL"
                ")"
            )

    def ping(self) -> None:
        """Run a trivial query; raises the driver's error if the database is unreachable."""
        with self._cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def list_messages(self, *, limit: int, offset: int) -> list[Message]:
        """Messages oldest first, skipping the first `offset` of them."""
        p = self._p
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT id, author, text, created_at FROM messages"
                f" ORDER BY id ASC LIMIT {p} OFFSET {p}",
                (limit, offset),
            )
            rows = cursor.fetchall()
        return [
            Message(id=row[0], author=row[1], text=row[2], created_at=_iso(row[3])) for row in rows
        ]

    def add_message(self, *, author: str, text: str, now: datetime | None = None) -> Message:
        """Store a message and return it with its id and timestamp."""
        created_at = (now or datetime.now(UTC)).isoformat()
        p = self._p
        with self._cursor() as cursor:
            cursor.execute(
                f"INSERT INTO messages (author, text, created_at) VALUES ({p}, {p}, {p})"
                " RETURNING id, created_at",
                (author, text, created_at),
            )
            row = cursor.fetchone()
        return Message(id=row[0], author=author, text=text, created_at=_iso(row[1]))
