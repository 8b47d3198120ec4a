"""`faultbot faults new`: an organizer's own breaking commit (manifests, Terraform, source, or
a mix) becomes a fault that reproduces it exactly, is verified on the commit's parent, and says
what is proven and what is still the author's to write. On examples/chat-app and on a real repo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.catalog.behaviour import Runner
from bot.catalog.faults import Catalog, load_fault
from bot.catalog.rehearsal import rehearse
from bot.catalog.roles import Role
from bot.repo.workspace import apply_patch
from tests.conftest import CHAT_APP
from tests.gitrepos import git
from tests.realworld import copy_realworld

ORGANIZER = ["-c", "user.name=Olga Organizer", "-c", "user.email=olga@example.com"]


def organizer_repo(tmp_path: Path, source: Path) -> Path:
    repo = tmp_path / "organizer"
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, *ORGANIZER, "commit", "-qm", "Import")
    return repo


def change(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text(encoding="utf-8")
    assert old in text, (path, old)
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def commit(repo: Path, message: str) -> str:
    git(repo, *ORGANIZER, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")


def new_fault(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["faults", "new", *args, "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_a_manifest_breakage_on_the_chat_app_becomes_a_proven_draft(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: Runner) -> None:
    repo = organizer_repo(tmp_path, CHAT_APP)
    change(repo, "k8s/frontend-service.yaml", "  selector:\n    app: frontend\n", "  selector:\n    app: frontend-ui\n")
    sha = commit(repo, "frontend: align the service selector with the ui naming\n\nThe pods follow next sprint.")
    before = git(repo, "status", "--porcelain")
    catalog = tmp_path / "catalog"
    result = new_fault(capsys, "--repo", str(repo), "--from", sha[:10], "--catalog", str(catalog))
    assert git(repo, "status", "--porcelain") == before and git(repo, "rev-parse", "HEAD") == sha  # only read
    assert result["fault"] == "web-unreachable/frontend-align-the-service-selector-with"
    proven = "\n".join(result["proven"])  # type: ignore[arg-type]
    assert f"reproduces commit {sha[:12]} exactly (1 file(s))" in proven
    assert "service_selects(frontend_service) passes before the change and sees it" in proven
    assert "fix 'revert the commit' mends it" in proven
    assert any("no forward fix yet" in line for line in result["not_proven"])  # type: ignore[union-attr]
    fault = load_fault(catalog / "web-unreachable" / "frontend-align-the-service-selector-with" / "fault.yaml")
    assert fault.spec.draft and fault.spec.commit_messages == [
        "frontend: align the service selector with the ui naming", "The pods follow next sprint."]
    assert [(e.op, getattr(e, "path", None), getattr(e, "value", None)) for e in fault.spec.edits] == [
        ("yaml.set", "spec.selector.app", "frontend-ui")]
    assert Catalog.load(catalog).in_family("web-unreachable") == []  # a draft is never scheduled
    # The author finishes it: a forward fix and a wrong fix; then it is proven both ways.
    text = (fault.folder / "fault.yaml").read_text()
    text = text.replace("draft: true\n", "") + (
        "- name: select the pods by app and tier\n  kind: forward\n  edits:\n"
        "  - {op: yaml.set, role: frontend_service, path: spec.selector, value: {app: frontend, tier: web}}\n"
        "wrong_fixes:\n- name: relabel the Deployment only\n  edits:\n"
        "  - {op: yaml.set, role: frontend_workload, path: metadata.labels.app, value: frontend-ui}\n")
    (fault.folder / "fault.yaml").write_text(text)
    finished = rehearse(load_fault(fault.folder / "fault.yaml"), CHAT_APP, apply_patch=apply_patch, runner=behaviour)
    assert finished.both_ways, finished.reason


def test_a_mixed_commit_becomes_patches_semantic_checks_and_a_stub(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: Runner) -> None:
    repo = organizer_repo(tmp_path, CHAT_APP)
    change(repo, "k8s/frontend.yaml", "  replicas: 2\n", "  replicas: 0\n")
    change(repo, "terraform/main.tf", "  from_port                = 5432\n  to_port                  = 5432\n",
           "  from_port                = 5433\n  to_port                  = 5433\n")
    change(repo, "backend/chat/app.py", 'text = _required_string(payload, "text", MAX_TEXT_LENGTH)',
           'text = _required_string(payload, "text", MAX_TEXT_LENGTH).upper()')
    sha = commit(repo, "Release 2.1")
    catalog = tmp_path / "catalog"
    result = new_fault(capsys, "--repo", str(repo), "--from", sha, "--catalog", str(catalog), "--id", "app-bug/release-two")
    folder = catalog / "app-bug" / "release-two"
    assert sorted(p.name for p in folder.iterdir()) == ["acceptance_test.py", "backend.patch", "fault.yaml", "terraform.patch"]
    assert "NOT YET A PROOF" in (folder / "acceptance_test.py").read_text()
    fault = load_fault(folder / "fault.yaml")
    assert [c.check for c in fault.spec.fixed_when] == ["replicas", "terraform_allows", "tests", "acceptance"]
    assert {(e.op, getattr(e, "role", None)) for e in fault.spec.edits} == {
        ("yaml.set", Role.frontend_workload), ("patch", Role.backend_source), ("patch", Role.terraform)}
    proven, missing = "\n".join(result["proven"]), "\n".join(result["not_proven"])  # type: ignore[arg-type]
    assert f"reproduces commit {sha[:12]} exactly (3 file(s))" in proven
    assert "terraform_allows(terraform, var.db_security_group_id) passes before the change and sees it" in proven
    assert "acceptance(acceptance_test.py) fails on the healthy parent: it is a stub, not yet a proof" in missing


def test_a_breakage_on_a_real_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: Runner) -> None:
    repo = organizer_repo(tmp_path, copy_realworld(tmp_path, "podinfo/bases"))
    change(repo, "frontend/service.yaml", "    app.kubernetes.io/name: frontend\n", "    app.kubernetes.io/name: web-frontend\n")
    sha = commit(repo, "frontend: select pods by the shared web name")
    result = new_fault(capsys, "--repo", str(repo), "--from", sha, "--catalog", str(tmp_path / "catalog"))
    proven = "\n".join(result["proven"])  # type: ignore[arg-type]
    assert "exactly (1 file(s))" in proven and "healthy before, broken after" in proven
    assert "fix 'revert the commit' mends it" in proven
    assert result["targets"] == {}  # no Ingress, but roles follow the traffic: the exposed Service is the frontend
    fault = Catalog.load(tmp_path / "catalog").get(str(result["fault"]))
    assert [e.path for e in fault.spec.edits] == ['spec.selector["app.kubernetes.io/name"]']  # type: ignore[union-attr]


def test_what_cannot_become_a_fault_says_why_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = organizer_repo(tmp_path, CHAT_APP)
    assert main(["faults", "new", "--repo", str(repo), "--from", "no-such-rev", "--catalog", str(tmp_path / "c")]) == 2
    assert "no commit 'no-such-rev'" in capsys.readouterr().err
    assert main(["faults", "new", "--repo", str(repo), "--from", "HEAD", "--catalog", str(tmp_path / "c")]) == 2
    assert "0 parents" in capsys.readouterr().err
    change(repo, "k8s/frontend.yaml", "  replicas: 2\n", "  replicas: 0\n")
    sha = commit(repo, "Scale down")
    args = ["faults", "new", "--repo", str(repo), "--from", sha, "--catalog", str(tmp_path / "c"), "--id", "web-unreachable/zero"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args[:-1], "Bad/ID"]) == 2
