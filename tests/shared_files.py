"""Where the project's shared material (`shared/contracts`, `shared/realworld`) lives for tests.

`shared/` sits beside the repository checkout. In a `git worktree` it sits beside the main
checkout instead, so a worktree's contract tests run too rather than quietly skipping;
FAULTBOT_SHARED overrides both. A test that needs a missing file skips on a developer's
machine but FAILS in CI (CI=true): a contract check that silently did not run must not
look green (issue 16 item 10).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _main_checkout(repo_root: Path) -> Path:
    """The main checkout of a worktree (`.git` is then a file naming the worktree's git dir)."""
    marker = repo_root / ".git"
    if not marker.is_file():
        return repo_root
    git_dir = Path(marker.read_text(encoding="utf-8").removeprefix("gitdir:").strip())
    commondir = git_dir / "commondir"
    if not commondir.is_file():
        return repo_root
    return (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve().parent


def shared_dir(repo_root: Path = REPO_ROOT) -> Path:
    """The shared folder: $FAULTBOT_SHARED, else `../shared` of this or the main checkout."""
    if os.environ.get("FAULTBOT_SHARED"):
        return Path(os.environ["FAULTBOT_SHARED"])
    beside = repo_root.parent / "shared"
    if beside.is_dir():
        return beside
    return _main_checkout(repo_root).parent / "shared"


SHARED_DIR = shared_dir()
CONTRACTS_DIR = SHARED_DIR / "contracts"


def in_ci() -> bool:
    """Whether we run in CI, where missing test material is an error, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(path: Path) -> Path:
    """`path` if it exists; otherwise skip the test, or fail it in CI."""
    if path.exists():
        return path
    message = f"{path} is missing: shared/ must sit beside the repository checkout (or set FAULTBOT_SHARED)"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


__all__ = ["CONTRACTS_DIR", "SHARED_DIR", "in_ci", "require", "shared_dir"]
