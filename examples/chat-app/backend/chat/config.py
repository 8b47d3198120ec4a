"""Database settings, read from the environment the Deployment provides.

In the cluster the backend talks to PostgreSQL (DB_HOST, DB_PORT, DB_NAME, DB_USER,
DB_PASSWORD). On a laptop, DATABASE_URL=sqlite:///chat.db runs it on a SQLite file instead,
with no database server (`sqlite:////abs/path.db` for an absolute path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED_VARIABLES = ("DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD")
DEFAULT_DB_PORT = 5432
DEFAULT_LISTEN_PORT = 8000
SQLITE_PREFIX = "sqlite:///"


class ConfigError(Exception):
    """The environment does not describe a usable database."""


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the database is and how to log in to it."""

    host: str
    port: int
    name: str
    user: str
    password: str

    def conninfo(self) -> dict[str, str | int]:
        """Keyword arguments for psycopg.connect()."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.name,
            "user": self.user,
            "password": self.password,
            # Fail fast so a wrong DB_HOST shows up in the logs, not as a hung request.
            "connect_timeout": 5,
        }


@dataclass(frozen=True)
class SqliteConfig:
    """A local SQLite file (development and local testing)."""

    path: str


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip() or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name} must be between 1 and 65535, got {port}")
    return port


def listen_port(environ: Mapping[str, str]) -> int:
    """The port to serve on: PORT, or 8000."""
    return _port(environ, "PORT", DEFAULT_LISTEN_PORT)


def load_config(environ: Mapping[str, str]) -> DatabaseConfig | SqliteConfig:
    """Build the database settings from DATABASE_URL (SQLite) or DB_* variables, or raise ConfigError."""
    url = environ.get("DATABASE_URL", "").strip()
    if url:
        if not url.startswith(SQLITE_PREFIX) or url == SQLITE_PREFIX:
            raise ConfigError("DATABASE_URL must be sqlite:///PATH; PostgreSQL is configured with DB_* variables")
        return SqliteConfig(url.removeprefix(SQLITE_PREFIX))
    missing = [name for name in REQUIRED_VARIABLES if not environ.get(name, "").strip()]
    if missing:
        raise ConfigError(
            "missing required environment variable(s): "
            + ", ".join(missing)
            + " (set them in the backend Deployment's env)"
        )
    port = _port(environ, "DB_PORT", DEFAULT_DB_PORT)
    return DatabaseConfig(
        host=environ["DB_HOST"].strip(),
        port=port,
        name=environ["DB_NAME"].strip(),
        user=environ["DB_USER"].strip(),
        password=environ["DB_PASSWORD"],
    )
