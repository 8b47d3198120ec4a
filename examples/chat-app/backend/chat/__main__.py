"""Run the chat API: `python -m chat` (listens on port 8000)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from chat.app import create_app
from chat.config import ConfigError, DatabaseConfig, SqliteConfig, listen_port, load_config
from chat.store import MessageStore

SCHEMA_ATTEMPTS = 30  # PostgreSQL may still be starting when the backend comes up

log = logging.getLogger("chat")


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request so a slow query does not block the rest."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    """Log requests through `logging`, except the probes that hit /healthz every few seconds."""

    def log_message(self, fmt: str, *args: Any) -> None:
        if "/healthz" not in self.path:
            log.info("%s %s", self.address_string(), fmt % args)


def make_store(config: DatabaseConfig | SqliteConfig) -> MessageStore:
    """A MessageStore on PostgreSQL (psycopg 3), or on a local SQLite file."""
    if isinstance(config, SqliteConfig):
        path = config.path
        return MessageStore(
            lambda: sqlite3.connect(path, timeout=10), paramstyle="qmark", id_type="INTEGER"
        )
    # Imported here so the app and its tests do not need psycopg installed.
    import psycopg

    return MessageStore(lambda: psycopg.connect(**config.conninfo()), paramstyle="format")


def describe(config: DatabaseConfig | SqliteConfig) -> str:
    """Where the data lives, for the start-up log line (no password)."""
    if isinstance(config, SqliteConfig):
        return f"sqlite {config.path}"
    return f"{config.user}@{config.host}:{config.port}/{config.name}"


def create_schema_with_retry(store: MessageStore) -> None:
    """Create the table, waiting up to SCHEMA_ATTEMPTS seconds for the database."""
    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            store.create_schema()
            return
        except Exception as error:
            if attempt == SCHEMA_ATTEMPTS:
                raise
            log.warning("database not ready (attempt %d): %s", attempt, error)
            time.sleep(1)


def main() -> int:
    """Read the config, prepare the database and serve until interrupted."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(os.environ)
        port = listen_port(os.environ)
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return 2
    store = make_store(config)
    create_schema_with_retry(store)
    server = make_server(
        "",
        port,
        create_app(store),
        server_class=ThreadingWSGIServer,
        handler_class=QuietHandler,
    )
    log.info("listening on :%d (database %s)", port, describe(config))
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
