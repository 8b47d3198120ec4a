"""The catalog and report commands, in-process, as an organizer types them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.catalog.deployed import HELM_MESSAGE
from bot.catalog.faults import Catalog
from tests.catalog.test_catalog import PROVEN_ELSEWHERE
from tests.conftest import CHAT_APP
from tests.gitrepos import git, make_team_repo
from tests.realworld import realworld_source
from tests.repo.test_detect import ALICE, SELECTOR, start_game


def test_faults_list_json_names_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(Catalog.load().faults)
    assert all(set(r) == {"id", "family", "severity", "title", "roles", "variants"} and r["roles"] and r["variants"] for r in rows)


def test_faults_show_prints_the_fault_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "show", SELECTOR]) == 0
    out = capsys.readouterr().out
    assert "The frontend Service selects no pods" in out and "fixed_when:" in out
    assert main(["faults", "show", "web-unreachable/selector"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "web-unreachable/service-selector-typo" in err


# A few faults of each family, one that does not fit the chat app, one Terraform fault and one
# judged in the sandbox: the CLI path of `faults verify`. tests/catalog/test_catalog.py proves
# every fault both ways (with the same rehearsal and the session's verdict cache).
VERIFIED = ["web-unreachable/service-selector-typo", "web-unreachable/frontend-service-port-changed",
            "db-unreachable/db-host-typo", "db-unreachable/firewall-wrong-port", "app-bug/pagination-skips-messages"]


def test_faults_verify_passes_on_the_example_and_fails_on_a_broken_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["faults", "verify", "--json", *(a for f in VERIFIED for a in ("--fault", f))]) == 0
    (results,) = json.loads(capsys.readouterr().out).values()
    assert [r["fault"] for r in results] == VERIFIED
    assert {r["fault"] for r in results if not r["ok"]} == set(VERIFIED) & set(PROVEN_ELSEWHERE)  # do not fit it, and say why
    assert all(r["reason"] for r in results if not r["ok"])
    assert all(r["both_ways"] and any(w["stayed_broken"] for w in r["wrong_fixes"]) for r in results if r["ok"])
    assert main(["faults", "verify", "--fault", "web-unreachable/selector"]) == 2  # names the close ids
    err = capsys.readouterr().err
    assert "did you mean" in err and "web-unreachable/service-selector-typo" in err
    broken = tmp_path / "repo"
    shutil.copytree(CHAT_APP, broken)
    git(broken, "init", "-q")  # a clone of a team's repository, as `--repo` wants
    service = broken / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("targetPort: http", "targetPort: 9999"))
    assert main(["faults", "verify", "--repo", str(broken), "--fault", "web-unreachable/service-selector-typo"]) == 1
    assert "FAIL web-unreachable/service-selector-typo" in capsys.readouterr().out


def test_faults_verify_for_a_team_uses_its_path_and_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """podinfo deploys from an overlay: without `path:` nothing can be read; with it, faults play."""
    remote = make_team_repo(tmp_path, "podinfo", source=realworld_source("podinfo"))
    config = tmp_path / "repos.yaml"
    config.write_text(f"event: {{name: t}}\nteams:\n  - name: pod\n    url: {remote.url}\n    path: overlays/dev\n"
                      f"  - name: other\n    url: {remote.url}\n", encoding="utf-8")
    assert main(["faults", "verify", "--config", str(config), "--team", "pod", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert list(runs) == ["pod"]
    proven = {r["fault"] for r in runs["pod"] if r["ok"]}
    assert {"web-unreachable/service-selector-typo", "db-unreachable/db-host-typo"} <= proven
    assert main(["faults", "verify", "--team", "pod"]) == 2  # --team needs --config


def test_a_forward_fix_that_is_the_revert_here_is_reported_not_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On argocd-guestbook the Service already targets the container's port number, so that
    reference fix writes back the original text: a note, and the fault still counts as proven."""
    tree = tmp_path / "book"
    shutil.copytree(realworld_source("argocd-guestbook"), tree)
    git(tree, "init", "-q")
    assert main(["faults", "verify", "--repo", str(tree), "--json"]) == 0
    (results,) = json.loads(capsys.readouterr().out).values()
    target = next(r for r in results if r["fault"] == "web-unreachable/service-targetport-wrong")
    same = [f for f in target["fixes"] if f.get("same_as_revert")]
    assert target["ok"] and [f["name"] for f in same] == ["point targetPort at the container's port number"], target
    assert main(["faults", "verify", "--repo", str(tree)]) == 0
    text = capsys.readouterr().out
    assert "ok   web-unreachable/service-targetport-wrong" in text
    assert "note: fix \"point targetPort at the container's port number\" writes the fault's own lines back on this repo" in text


def test_plan_text_shows_the_same_reason_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reasons hold YAML paths like `spec.ports[0].targetPort`: Rich must not eat the brackets."""
    remote = make_team_repo(tmp_path, "book", source=realworld_source("argocd-guestbook"))
    config = tmp_path / "repos.yaml"
    config.write_text(f"event: {{name: t}}\nteams:\n  - name: book\n    url: {remote.url}\n", encoding="utf-8")
    assert main(["plan", "--config", str(config), "--json"]) == 0
    reasons = {e["fault"]: e["reason"] for e in json.loads(capsys.readouterr().out)["book"]["faults"] if not e["applicable"]}
    assert any("[" in r for r in reasons.values()), reasons
    assert main(["plan", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    for fault, reason in reasons.items():
        assert f"{fault}: {reason}" in text


def test_plan_of_a_helm_chart_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path, "helm", source=realworld_source("argocd-helm-guestbook"))
    config = tmp_path / "repos.yaml"
    config.write_text(f"event: {{name: t}}\nteams:\n  - name: helm\n    url: {remote.url}\n", encoding="utf-8")
    assert main(["plan", "--config", str(config), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)["helm"]
    assert plan["problem"] == HELM_MESSAGE and plan["faults"] == []
    assert main(["plan", "--config", str(config)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "Helm" in line]
    assert len(lines) == 1 and HELM_MESSAGE in lines[0]


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
    ((result,),) = json.loads(capsys.readouterr().out).values()
    assert result["wrong_fixes"] == [{"name": "a comment that promises replicas", "stayed_broken": False, "skipped": False,
                                      "reason": "every check passes, but this change does not fix it: the checks are too weak"}]
    assert not result["ok"] and not result["both_ways"]
    # The same fault with a semantic check proves both ways.
    (folder / "fault.yaml").write_text(WEAK.replace("{check: text, path: k8s/frontend.yaml, pattern: 'replicas: [1-9]'}",
                                                    "{check: replicas, role: frontend_workload, min: 1}"), encoding="utf-8")
    assert main(["faults", "verify", "--catalog", catalog]) == 0
    assert "1 of 1 faults proven here (1 in both directions)" in capsys.readouterr().out


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
    ((result,),) = json.loads(capsys.readouterr().out).values()
    assert result["wrong_fixes"] == [{"name": "scale up, then back down", "stayed_broken": False, "skipped": False,
                                      "reason": "changes nothing in the broken tree, so it proves nothing"}]
