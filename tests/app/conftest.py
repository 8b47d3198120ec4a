"""Fixtures for the application layer's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.eventlog import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh event log in a SQLite file."""
    opened = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()
