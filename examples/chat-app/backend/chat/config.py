"""Database settings, read from the environment the Deployment provides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED_VARIABLES = ("DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD")
DEFAULT_DB_PORT = 5432


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


def load_config(environ: Mapping[str, str]) -> DatabaseConfig:
    """Build the database settings from DB_* variables, or raise ConfigError."""
    missing = [name for name in REQUIRED_VARIABLES if not environ.get(name, "").strip()]
    if missing:
        raise ConfigError(
            "missing required environment variable(s): "
            + ", ".join(missing)
            + " (set them in the backend Deployment's env)"
        )
    raw_port = environ.get("DB_PORT", "").strip() or str(DEFAULT_DB_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise ConfigError(f"DB_PORT must be a number, got {raw_port!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"DB_PORT must be between 1 and 65535, got {port}")
    return DatabaseConfig(
        host=environ["DB_HOST"].strip(),
        port=port,
        name=environ["DB_NAME"].strip(),
        user=environ["DB_USER"].strip(),
        password=environ["DB_PASSWORD"],
    )
