"""Running faultbot as operators do (issue 16 item 9): a read-only config with a writable state
folder, a crash log where it can be written and found, and `faults verify` that refuses a
folder that is no team repository instead of copying it for minutes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.faults import check_team_tree
from bot.errors import FaultbotError
from tests.gitrepos import git, make_team_repo

SELECTOR = "web-unreachable/service-selector-typo"


def read_only_config(tmp_path: Path, url: str) -> Path:
    """A repos.yaml with the default state and workdir, in a folder that must stay untouched (/config)."""
    folder = tmp_path / "config"
    folder.mkdir()
    path = folder / "repos.yaml"
    path.write_text("event: {name: Game day}\n"
                    "defaults: {personas: [{name: Kenji Sato, email: k.sato@example.com}]}\n"
                    f"teams:\n  - name: team-a\n    url: {url}\n", encoding="utf-8")
    return path


def test_relative_state_and_workdir_go_under_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = make_team_repo(tmp_path)
    config = read_only_config(tmp_path, remote.url)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("FAULTBOT_STATE_DIR", str(state))
    monkeypatch.chdir(tmp_path)
    assert main(["inject", "--config", str(config), "team-a", SELECTOR]) == 0
    assert sorted(p.name for p in config.parent.iterdir()) == ["repos.yaml"]  # nothing written beside it
    assert (state / "faultbot.db").is_file() and (state / ".faultbot" / "repos" / "team-a" / ".git").is_dir()
    assert main(["status", "--cached", "--config", str(config)]) == 0


def test_without_a_state_dir_they_stay_beside_the_config(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    config = read_only_config(tmp_path, remote.url)
    assert main(["inject", "--config", str(config), "team-a", SELECTOR]) == 0
    assert (config.parent / "faultbot.db").is_file() and (config.parent / ".faultbot" / "repos" / "team-a").is_dir()


def test_a_crash_is_logged_in_the_events_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    config = read_only_config(tmp_path, remote.url)
    state = tmp_path / "state"
    state.mkdir()
    # An unexpected failure deep inside: a SQLite file whose events table is not ours (a file
    # that is no database at all is a one-line error now, issue 15 item 7).
    with closing(sqlite3.connect(state / "faultbot.db")) as db:
        db.execute("CREATE TABLE faultbot_events (something_else TEXT)")
    monkeypatch.setenv("FAULTBOT_STATE_DIR", str(state))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["status", "--cached", "--config", str(config)]) == 1
    log = state / ".faultbot" / "crash.log"
    assert f"(traceback in {log})" in capsys.readouterr().err
    assert "Traceback" in log.read_text() and not (elsewhere / ".faultbot").exists()


def test_faults_verify_refuses_a_folder_that_is_no_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    assert main(["faults", "verify", "--repo", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"faultbot: --repo {tmp_path}: not a git repository (no .git here); " \
                  "pass the top folder of a clone of a team's repository"


def test_faults_verify_bounds_the_walk_of_a_huge_tree(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    check_team_tree(remote.clone)  # a team repo passes
    files = len(git(remote.clone, "ls-files").splitlines())
    with pytest.raises(FaultbotError, match=f"more than {files - 1} files"):
        check_team_tree(remote.clone, max_files=files - 1)
