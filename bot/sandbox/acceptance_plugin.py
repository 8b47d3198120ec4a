"""The pytest plugin a fault's acceptance test runs with (`-p bot.sandbox.acceptance_plugin`),
inside the sandbox: fixtures for the commit being judged.

- `checkout`: the folder holding the commit's files (a private copy);
- `folders`: role name -> that role's folder in the checkout (`folders["backend_source"]`);
- `backend`: the commit's backend, started as the check's `serve:` says (on SQLite for the
  chat app), fresh for each test; `.get(path)` and `.post_json(path, doc)` return
  `(status, body)`, `.url` is its base URL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.serve import ACCEPTANCE_ENV, Backend, start_backend


def _config() -> dict[str, Any]:
    raw = os.environ.get(ACCEPTANCE_ENV)
    if not raw:
        pytest.fail(f"{ACCEPTANCE_ENV} is not set: acceptance tests run through faultbot's sandbox", pytrace=False)
    config: dict[str, Any] = json.loads(raw)
    return config


@pytest.fixture
def checkout() -> Path:
    """The commit's files."""
    return Path(_config()["checkout"])


@pytest.fixture
def folders() -> dict[str, Path]:
    """Role name -> folder in the checkout."""
    config = _config()
    return {role: Path(config["checkout"]) / folder for role, folder in config["folders"].items()}


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    """The commit's backend, running, with an empty database."""
    try:
        started = start_backend(_config()["serve"], tmp_path)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield started
    finally:
        started.stop()
