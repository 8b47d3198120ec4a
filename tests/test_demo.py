"""`faultbot demo`: real bare repos from examples/chat-app, validated and planned, nothing pushed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.gitrepos import git


def test_demo_builds_validates_and_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--teams", "2", "--workdir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["validation"] == {"ok": True, "problems": []}
    assert set(report["plans"]) == {"team-a", "team-b"}
    for team, entries in report["plans"].items():
        families = {e["fault"].split("/")[0] for e in entries if e["applicable"]}
        assert families == {"web-unreachable", "db-unreachable", "app-bug"}, team
        assert all(e["diff"].startswith("diff --git") for e in entries if e["applicable"])
        bare = tmp_path / "remotes" / f"{team}.git"
        assert git(bare, "rev-list", "--count", "main") == "1"  # planning pushed nothing


def test_demo_human_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--teams", "1", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "validate: ok" in out and "team-a" in out
    assert "not built yet" in out  # the demo says plainly what it does not do yet


def test_demo_refuses_silly_team_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--teams", "0"]) == 2
    assert "--teams must be between 1 and 8" in capsys.readouterr().err
