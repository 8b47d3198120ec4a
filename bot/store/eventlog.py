"""The state store: an append-only event log in any SQLAlchemy database (SQLite by default).

Every state change is one row: when, which team and fault, what happened, who said so
(`source`: the bot, a poll, a webhook, ArgoCD), and its facts as JSON. Nothing is updated
or deleted, so the timeline an organizer reads is the one the bot lived; current state is
derived from it (`Store.events_for`, and the engine's fold over them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Integer, String, create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.base.redact import redact_url
from bot.errors import FaultbotError
from bot.game.clock import as_utc
from bot.game.events import Event, Facts, Kind, decode, encode

F = TypeVar("F", bound=Facts)


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


class Store:
    """Append-only event log."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, future=True)
        except Exception as exc:  # bad URL or missing driver: a config problem, said plainly
            raise FaultbotError(f"event.state: cannot open {url!r}: {exc}") from exc
        if url.startswith("sqlite"):
            _check_sqlite_path(url)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            _Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:  # unreachable server, bad credentials, read-only file...
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise FaultbotError(f"event.state: cannot open {redact_url(url)}: {reason}") from None

    def append(self, team: str, facts: Facts, *, fault: str | None = None, source: str = "bot",
               at: datetime) -> Event:
        """Record one event and return it (with its id)."""
        kind, clean = encode(facts)
        with Session(self.engine) as session, session.begin():
            row = EventRow(at=as_utc(at), team=team, fault=fault, kind=kind, source=source, facts=clean)
            session.add(row)
            session.flush()
            return _event(row)

    def append_all(self, team: str, entries: Sequence[tuple[Facts, str | None]], *, source: str = "bot",
                   at: datetime) -> list[Event]:
        """Record several events (facts, fault) in one transaction: all of them or none.

        The watcher writes "processed up to this head" together with what processing it
        found, so a crash between the two cannot leave a head marked seen but never searched.
        """
        with Session(self.engine) as session, session.begin():
            rows = []
            for facts, fault in entries:
                kind, clean = encode(facts)
                rows.append(EventRow(at=as_utc(at), team=team, fault=fault, kind=kind, source=source, facts=clean))
            session.add_all(rows)
            session.flush()
            return [_event(row) for row in rows]

    def events(self, team: str | None = None, fault: str | None = None, kinds: tuple[Kind, ...] = ()) -> list[Event]:
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

    def last(self, team: str, fault: str | None = None, kinds: tuple[Kind, ...] = ()) -> Event | None:
        """The latest matching event."""
        found = self.events(team, fault, kinds)
        return found[-1] if found else None

    def latest(self, team: str, facts_type: type[F], fault: str | None = None) -> F | None:
        """The facts of the latest event of one type (for a team, and a fault if given)."""
        found = self.last(team, fault, (facts_type.KIND,))
        return found.facts if found is not None and isinstance(found.facts, facts_type) else None

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


def _event(row: EventRow) -> Event:
    return Event(row.id, as_utc(row.at), row.team, row.fault, row.source, decode(row.kind, row.facts or {}))


def _check_sqlite_path(url: str) -> None:
    """A SQLite file whose folder is missing, or that is a folder: say so before SQLite says
    "unable to open database file"."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if path.is_dir():
        raise FaultbotError(f"event.state: {path} is a folder; name a file in it, e.g. sqlite:///{path / 'faultbot.db'}")
    if not path.parent.is_dir():
        raise FaultbotError(f"event.state: the folder {path.parent} does not exist; create it or change event.state")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the CLI read while the daemon writes; synchronous=FULL makes a kill -9 safe.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
