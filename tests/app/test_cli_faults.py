"""The catalog and report commands, in-process, as an organizer types them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.catalog.faults import Catalog
from tests.conftest import CHAT_APP
from tests.gitrepos import git
from tests.repo.test_detect import ALICE, SELECTOR, start_game


def test_faults_list_json_names_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(Catalog.load().faults)
    assert all(set(r) == {"id", "family", "severity", "title", "roles"} and r["roles"] for r in rows)


def test_faults_show_prints_the_fault_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "show", SELECTOR]) == 0
    out = capsys.readouterr().out
    assert "The frontend Service selects no pods" in out and "fixed_when:" in out
    assert main(["faults", "show", "web-unreachable/selector"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "web-unreachable/service-selector-typo" in err


def test_faults_verify_passes_on_the_example_and_fails_on_a_broken_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "verify", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == len(Catalog.load().faults) and all(r["ok"] for r in results)
    broken = tmp_path / "repo"
    shutil.copytree(CHAT_APP, broken)
    git(broken, "init", "-q")  # a clone of a team's repository, as `--repo` wants
    service = broken / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("targetPort: http", "targetPort: 9999"))
    assert main(["faults", "verify", "--repo", str(broken)]) == 1
    assert "FAIL web-unreachable/service-selector-typo" in capsys.readouterr().out


def test_report_scores_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    game = start_game(tmp_path, SELECTOR)
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    assert main(["status", "--config", str(game.config), "--json"]) == 0
    (instance,) = json.loads(capsys.readouterr().out)
    assert instance["state"] == "fixed" and instance["fix_kind"] == "revert"
    assert main(["report", "--config", str(game.config), "--out", str(tmp_path / "out"), "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    written = json.loads(Path(paths["json"]).read_text())
    assert written["scoreboard"][0]["team"] == "team-a" and written["scoreboard"][0]["fixed"] == 1
    assert "team-a" in Path(paths["markdown"]).read_text()


WEAK = """\
id: web-unreachable/weakly-checked
title: The frontend is scaled to zero (checked by a regex, on purpose too weakly)
family: web-unreachable
severity: high
symptom: The site answers 503.
commit_messages: ["Scale down the frontend", "frontend: fewer replicas"]
roles: [frontend_workload]
edits:
  - {op: yaml.set, role: frontend_workload, path: spec.replicas, value: 0}
fixed_when:
  - {check: text, path: k8s/frontend.yaml, pattern: 'replicas: [1-9]'}
fixes:
  - {name: revert the commit, kind: revert}
  - name: one replica
    kind: forward
    edits:
      - {op: yaml.set, role: frontend_workload, path: spec.replicas, value: 1}
wrong_fixes:
  - name: a comment that promises replicas
    edits:
      - op: text.replace
        role: frontend_workload
        pattern: '^(\\s*)replicas: 0$'
        replacement: '\\1# replicas: 2 once the autoscaler lands\\n\\1replicas: 0'
"""


def test_verify_fails_loudly_when_a_wrong_fix_passes_a_weak_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "catalog" / "web-unreachable" / "weakly-checked"
    folder.mkdir(parents=True)
    (folder / "fault.yaml").write_text(WEAK, encoding="utf-8")
    catalog = str(tmp_path / "catalog")
    assert main(["faults", "verify", "--catalog", catalog]) == 1
    out = capsys.readouterr().out
    assert "FAIL web-unreachable/weakly-checked" in out
    assert "WRONG FIX PASSES web-unreachable/weakly-checked: 'a comment that promises replicas'" in out
    assert "the checks are too weak" in out
    assert main(["faults", "verify", "--catalog", catalog, "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["wrong_fixes"] == [{"name": "a comment that promises replicas", "stayed_broken": False,
                                      "reason": "every check passes, but this change does not fix it: the checks are too weak"}]
    assert not result["ok"] and not result["both_ways"]
    # The same fault with a semantic check proves both ways.
    (folder / "fault.yaml").write_text(WEAK.replace("{check: text, path: k8s/frontend.yaml, pattern: 'replicas: [1-9]'}",
                                                    "{check: replicas, role: frontend_workload, min: 1}"), encoding="utf-8")
    assert main(["faults", "verify", "--catalog", catalog]) == 0
    assert "1 of 1 faults verified (1 in both directions)" in capsys.readouterr().out


def test_a_wrong_fix_that_changes_nothing_proves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "catalog" / "web-unreachable" / "weakly-checked"
    folder.mkdir(parents=True)
    semantic = WEAK.replace("{check: text, path: k8s/frontend.yaml, pattern: 'replicas: [1-9]'}",
                            "{check: replicas, role: frontend_workload, min: 1}")
    no_op = semantic.split("wrong_fixes:")[0] + (
        "wrong_fixes:\n  - name: scale up, then back down\n    edits:\n"
        "      - {op: yaml.set, role: frontend_workload, path: spec.replicas, value: 2}\n"
        "      - {op: yaml.set, role: frontend_workload, path: spec.replicas, value: 0}\n")
    (folder / "fault.yaml").write_text(no_op, encoding="utf-8")
    assert main(["faults", "verify", "--catalog", str(tmp_path / "catalog"), "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["wrong_fixes"] == [{"name": "scale up, then back down", "stayed_broken": False,
                                      "reason": "changes nothing in the broken tree, so it proves nothing"}]
