"""The real team repositories in ../shared/realworld, copied for a test (never used in place).

They are test data nobody here wrote (podinfo, aks-store-demo, the guestbooks). Without
../shared the tests that need them skip with the reason, except in CI (CI=true), where a
missing ../shared is a failure: CI lays shared/ beside the clone. FAULTBOT_SHARED points
elsewhere (a git worktree has no ../shared of its own).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.shared_files import SHARED_DIR, require

REALWORLD = SHARED_DIR / "realworld"


def realworld_source(name: str) -> Path:
    """The read-only folder of one real repository; skip (or fail in CI) when ../shared is absent."""
    return require(REALWORLD / name)


def copy_realworld(tmp_path: Path, name: str) -> Path:
    """A private copy of one real repository (or of a folder inside one: `podinfo/bases`)."""
    destination = tmp_path / name.replace("/", "-")
    shutil.copytree(realworld_source(name), destination, symlinks=True)
    return destination
