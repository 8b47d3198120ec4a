"""Where an event writes: its state and git caches, and where a crash is logged.

Relative `event.state` and `event.workdir` resolve under $FAULTBOT_STATE_DIR when it is set
(the container image sets /state: the config is mounted read-only at /config), else beside
the config file, as an organizer running it by hand expects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, EventPaths, load_config
from bot.errors import FaultbotError

if TYPE_CHECKING:
    from bot.store.eventlog import Store

STATE_DIR_ENV = "FAULTBOT_STATE_DIR"
DEFAULT_CONFIG = Path("repos.yaml")


def state_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """$FAULTBOT_STATE_DIR, if set."""
    value = (os.environ if environ is None else environ).get(STATE_DIR_ENV, "").strip()
    return Path(value) if value else None


def open_store(config: Config, config_path: Path) -> Store:
    """The event's store, at the URL repos.yaml names or the variable `event.state_env` names
    (relative SQLite paths: see event_paths)."""
    from bot.store.eventlog import Store  # SQLAlchemy: loaded when a command opens the store (see run_inject)

    url = event_paths(config, config_path).state_url  # an unset state_env is a one-line error naming the file
    try:
        return Store(url)
    except FaultbotError as exc:
        raise FaultbotError(f"{config_path.name}: {exc.message}") from None


def event_paths(config: Config, config_path: Path, environ: Mapping[str, str] | None = None) -> EventPaths:
    """The event's state URL (from the variable `event.state_env` names, if set) and workdir,
    relative paths resolved as the module says."""
    env = os.environ if environ is None else environ
    return config.paths(config_path, state_dir(env), env)


def config_argument(argv: Sequence[str]) -> Path:
    """The --config a command line names (the CLI's default otherwise)."""
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return DEFAULT_CONFIG


def crash_dir(argv: Sequence[str]) -> Path:
    """Where to write a crash log: the event's workdir, else the state dir, else ./.faultbot."""
    try:
        config_path = config_argument(argv)
        config, _ = load_config(config_path)
        return event_paths(config, config_path).workdir
    except (FaultbotError, OSError):
        found = state_dir()
        return found / ".faultbot" if found is not None else Path(".faultbot")
