"""The real team repositories in ../shared/realworld, copied for a test (never used in place).

They are test data nobody here wrote (podinfo, aks-store-demo, the guestbooks). Without
../shared the tests that need them skip with the reason, except in CI (CI=true), where a
missing ../shared is a failure: CI lays shared/ beside the clone. FAULTBOT_SHARED points
elsewhere (a git worktree has no ../shared of its own).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

SHARED = Path(os.environ.get("FAULTBOT_SHARED") or ROOT.parent / "shared")
REALWORLD = SHARED / "realworld"


def realworld_source(name: str) -> Path:
    """The read-only folder of one real repository; skip (or fail in CI) when ../shared is absent."""
    folder = REALWORLD / name
    if not folder.is_dir():
        reason = f"{folder} is absent: the real repositories live in ../shared/realworld (or set FAULTBOT_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


def copy_realworld(tmp_path: Path, name: str) -> Path:
    """A private copy of one real repository (or of a folder inside one: `podinfo/bases`)."""
    destination = tmp_path / name.replace("/", "-")
    shutil.copytree(realworld_source(name), destination, symlinks=True)
    return destination
