"""The state store: an append-only event log in any SQLAlchemy database (SQLite by default).

Every state change is one row: when, which team and fault, what happened, who said so
(`source`: the bot, a poll, a webhook, ArgoCD), and its facts as JSON. Nothing is updated
or deleted, so the timeline an organizer reads is the one the bot lived; current state is
derived from it (`Store.events_for`, and the engine's fold over them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.errors import FaultbotError


class _Base(DeclarativeBase):
    pass


class EventRow(_Base):
    __tablename__ = "faultbot_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    fault: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(32))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True)
class Event:
    """One recorded fact."""

    id: int
    at: datetime
    team: str
    fault: str | None
    kind: str
    source: str
    facts: Mapping[str, Any]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def sqlite_url_for(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve().as_posix()}"


def resolve_url(url: str, base: Path) -> str:
    """A relative SQLite path in repos.yaml is relative to the config file, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return sqlite_url_for(base / url[len(prefix):])
    return url


class Store:
    """Append-only event log."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, future=True)
        except Exception as exc:  # bad URL or missing driver: a config problem, said plainly
            raise FaultbotError(f"event.state: cannot open {url!r}: {exc}") from exc
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)

    def append(
        self, team: str, kind: str, facts: Mapping[str, Any] | None = None, *,
        fault: str | None = None, source: str = "bot", at: datetime,
    ) -> Event:
        """Record one event and return it (with its id)."""
        clean = json.loads(json.dumps(dict(facts or {}), default=str))
        with Session(self.engine) as session, session.begin():
            row = EventRow(at=_utc(at), team=team, fault=fault, kind=kind, source=source, facts=clean)
            session.add(row)
            session.flush()
            return _event(row)

    def events(self, team: str | None = None, fault: str | None = None, kinds: tuple[str, ...] = ()) -> list[Event]:
        """Events in the order they were recorded, optionally filtered."""
        query = select(EventRow).order_by(EventRow.id)
        if team is not None:
            query = query.where(EventRow.team == team)
        if fault is not None:
            query = query.where(EventRow.fault == fault)
        if kinds:
            query = query.where(EventRow.kind.in_(kinds))
        with Session(self.engine) as session:
            return [_event(row) for row in session.scalars(query)]

    def last(self, team: str, fault: str | None = None, kinds: tuple[str, ...] = ()) -> Event | None:
        """The latest matching event."""
        found = self.events(team, fault, kinds)
        return found[-1] if found else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


def _event(row: EventRow) -> Event:
    return Event(row.id, _utc(row.at), row.team, row.fault, row.kind, row.source, dict(row.facts))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the CLI read while the daemon writes; synchronous=FULL makes a kill -9 safe.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
