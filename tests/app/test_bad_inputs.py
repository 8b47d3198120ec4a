"""Every case of the bad-input corpus (tests/app/bad_inputs/cases.yaml) gets its one-line error.

Each runs the real CLI in-process (`faultbot run` in a process of its own, with a deadline,
since a regression there would not return): exit status 2, the expected line on stderr,
never "internal error" or a traceback, and, where the case says so, nothing recorded in the
event's state. A new internal error on bad input fails CI here.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.app.cli import main
from bot.catalog.faults import DEFAULT_CATALOG
from bot.config import sqlite_url_for
from bot.store.eventlog import Store
from tests.gitrepos import git, make_team_repo

CORPUS = Path(__file__).parent / "bad_inputs"
CASES: list[dict[str, Any]] = YAML(typ="safe").load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_and_every_case_is_named_once() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert all(case.get("expect") for case in CASES)


@contextmanager
def _busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def _team_repo(tmp_path: Path, case: dict[str, Any]) -> str:
    remote = make_team_repo(tmp_path / "forge", "team-a")
    changed = False
    for path, source in (case.get("repo_files") or {}).items():
        shutil.copyfile(CORPUS / "files" / source, remote.clone / path)
        changed = True
    for path, size in (case.get("repo_pad") or {}).items():
        target = remote.clone / path
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        line = "# " + "padding " * 12 + "\n"
        target.write_text(text + line * ((size - len(text)) // len(line) + 1), encoding="utf-8")
        changed = True
    if changed:
        git(remote.clone, "add", "-A")
        git(remote.clone, "-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com", "commit", "-qm", "Update")
        git(remote.clone, "push", "-q", "origin", "main")
    return remote.url


def _catalog(tmp_path: Path, edits: dict[str, list[str]]) -> None:
    for fault_id, (text, replacement) in edits.items():
        folder = tmp_path / "catalog" / fault_id
        shutil.copytree(DEFAULT_CATALOG / fault_id, folder)
        fault_yaml = folder / "fault.yaml"
        original = fault_yaml.read_text(encoding="utf-8")
        assert text in original, f"{fault_id}: {text!r} is not in its fault.yaml"
        # Every occurrence: a fault with variants writes the same value once per variant.
        fault_yaml.write_text(original.replace(text, replacement), encoding="utf-8")


def _write_repos(tmp_path: Path, case: dict[str, Any], values: dict[str, str]) -> None:
    target = tmp_path / "repos.yaml"
    if "repos_file" in case:
        shutil.copyfile(CORPUS / "files" / case["repos_file"], target)
        return
    text = case.get("repos", "event: {name: Game day}\nteams: [{name: team-a, url: 'file:///srv/git/a.git'}]\n")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    if "pad_repos" in case:
        line = "# " + "padding " * 12 + "\n"
        text += line * ((case["pad_repos"] - len(text)) // len(line) + 1)
    target.write_text(text, encoding="utf-8")


def _run(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    if args[0] == "run":  # a regression here would run the daemon forever: give it a deadline
        done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env={k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"},
                              check=False)
        return done.returncode, done.stderr.splitlines()
    status = main(args)
    return status, capsys.readouterr().err.splitlines()


def _matches(line: str, expected: str) -> bool:
    """`expected` with `*` as the only wildcard (error lines are full of brackets)."""
    return re.fullmatch(".*".join(re.escape(part) for part in expected.split("*")), line) is not None


def _events(tmp_path: Path) -> int:
    if not (tmp_path / "state.db").exists():
        return 0
    store = Store(sqlite_url_for(tmp_path / "state.db"))
    try:
        return len(store.events())
    finally:
        store.close()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_gets_its_one_line_error(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    values: dict[str, str] = {}
    with _busy_port() as port:
        values["port"] = str(port)
        if "{remote}" in case.get("repos", ""):
            values["remote"] = _team_repo(tmp_path, case)
        if case.get("catalog"):
            _catalog(tmp_path, case["catalog"])
        if case.get("file_at"):
            (tmp_path / case["file_at"]).write_text("a file, where a folder would go\n", encoding="utf-8")
        _write_repos(tmp_path, case, values)
        args = [str(a) for a in case["args"]] + ([] if case.get("config") is False else ["--config", "repos.yaml"])
        status, lines = _run(args, tmp_path, capsys)
    expected = str(case["expect"])
    for key, value in values.items():
        expected = expected.replace("{" + key + "}", value)
    shown = "\n".join(lines)
    assert "internal error" not in shown and "Traceback" not in shown, shown
    assert status == case.get("exit", 2), shown
    assert any(_matches(line.strip(), expected) for line in lines), f"expected {expected!r} in:\n{shown}"
    if case.get("untouched"):
        assert _events(tmp_path) == 0, "something was recorded before the failure"
