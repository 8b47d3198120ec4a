"""Fixtures of the daemon tests."""

from __future__ import annotations

import pytest

STATE_ENV = "FAULTBOT_STATE_URL"


@pytest.fixture
def state(state_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The event's state (a SQLite file, then a PostgreSQL database), also exported as
    $FAULTBOT_STATE_URL, which a PostgreSQL game's config names in `event.state_env` as an
    organizer's would (tests/app/test_daemon.py's game_config)."""
    monkeypatch.setenv(STATE_ENV, state_url)
    return state_url
