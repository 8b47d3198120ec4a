"""A developer's GIT_* variables cannot change what the suite proves (issue 16 item 10).

git lets GIT_AUTHOR_NAME & co. outrank `-c user.name=...`, so a developer who exports them
would see tests that commit "as Alice" commit as themselves, and fail. The fixtures and
helpers drop every GIT_* variable of the shell, as the product does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.gitrepos import git, make_team_repo

ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]
DEVELOPER = {
    "GIT_AUTHOR_NAME": "Dev Eloper", "GIT_AUTHOR_EMAIL": "dev@laptop.invalid",
    "GIT_COMMITTER_NAME": "Dev Eloper", "GIT_COMMITTER_EMAIL": "dev@laptop.invalid",
    "GIT_AUTHOR_DATE": "2001-01-01T00:00:00Z",
}


def test_the_helpers_commit_as_asked_whatever_the_shell_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEVELOPER.items():
        monkeypatch.setenv(name, value)  # after the autouse fixture: as if the helpers met them
    remote = make_team_repo(tmp_path)
    assert git(remote.bare, "log", "-1", "--format=%an <%ae> %cn", "main") == "Org Admin <admin@example.com> Org Admin"
    (remote.clone / "README.md").write_text("on-call: alice\n")
    git(remote.clone, *ALICE, "commit", "-qam", "Docs")
    assert git(remote.clone, "log", "-1", "--format=%an <%ae>|%cn", "main") == "Alice Ng <alice@example.com>|Alice Ng"
    assert git(remote.clone, "log", "-1", "--format=%ad", "--date=format:%Y", "main") != "2001"


def test_tests_that_commit_as_a_team_member_pass_with_a_developers_identity_exported(tmp_path: Path) -> None:
    """The autouse fixture drops them before any test runs: run a few real tests in a shell that has them."""
    nodes = [
        "tests/repo/test_detect.py::test_revert_is_detected_as_revert[web-unreachable/service-selector-typo]",
        "tests/repo/test_detect.py::test_a_re_break_after_the_fix_is_a_regression",
    ]
    env = {**os.environ, **DEVELOPER}
    # Its own basetemp: pytest would otherwise prune the oldest runs' temp folders, which may be in use.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", f"--basetemp={tmp_path / 'inner'}", *nodes],
                            cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
