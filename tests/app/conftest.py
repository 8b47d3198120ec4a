"""Fixtures for the application layer's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.eventlog import Store

STATE_ENV = "FAULTBOT_STATE_URL"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh event log in a SQLite file."""
    opened = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


@pytest.fixture
def state(state_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The event's state (a SQLite file, then a PostgreSQL database), also exported as
    $FAULTBOT_STATE_URL, which a PostgreSQL game's config names in `event.state_env` as an
    organizer's would (tests/app/test_daemon.py's game_config)."""
    monkeypatch.setenv(STATE_ENV, state_url)
    return state_url
