"""The same faults apply to a repository laid out differently, by discovery and by targets,
and `plan` says clearly which faults do not apply there and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.catalog.behaviour import Runner
from bot.catalog.faults import Catalog
from bot.catalog.rehearsal import rehearse
from bot.catalog.roles import Role
from bot.repo.workspace import apply_patch
from tests.catalog.test_roles import ALT
from tests.gitrepos import make_team_repo

CATALOG = Catalog.load()
ALT_TARGETS = {
    Role.ingress: "deploy/app.yaml#Ingress/site",
    Role.frontend_service: "Service/web-svc",
    Role.frontend_workload: "Deployment/web",
    Role.backend_service: "Service/api-svc",
    Role.backend_workload: "Deployment/api",
    Role.db_service: "Service/database",
    Role.db_workload: "Deployment/database",
    Role.db_secret: "Secret/db-auth",
    Role.backend_source: "api",
}


@pytest.mark.parametrize("targets", [None, ALT_TARGETS], ids=["discovery", "targets"])
def test_faults_on_the_alt_layout_apply_or_say_why(targets: dict[Role, str] | None, behaviour: Runner) -> None:
    applied, refused = [], {}
    for fault in CATALOG.faults.values():
        result = rehearse(fault, ALT, targets=targets, apply_patch=apply_patch, runner=behaviour)
        if result.breaks:
            assert result.ok, f"{fault.id}: {result.reason}"
            applied.append(fault.id)
        else:
            assert result.reason and "\n" not in result.reason
            refused[fault.id] = result.reason
    assert "web-unreachable/service-selector-typo" in applied
    assert len(applied) >= 5, (applied, refused)
    for fault_id, reason in refused.items():
        # why: a role it needs, an edit that finds nothing, a shape it does not fit, or nothing breaks
        assert any(word in reason for word in ("role", "pattern", "matches", "exist", "patch", ", not ", "still pass")), (fault_id, reason)


def test_plan_on_the_alt_layout_explains_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path, "alt", source=ALT)
    before = remote.head()
    config = tmp_path / "repos.yaml"
    config.write_text(
        f"event: {{name: t}}\nteams:\n  - name: alt\n    url: {remote.url}\n", encoding="utf-8"
    )
    assert main(["plan", "--config", str(config), "--json"]) == 0
    team = json.loads(capsys.readouterr().out)["alt"]
    assert team["root"] == "deploy" and team["problem"] is None
    plan = team["faults"]
    by_id = {entry["fault"]: entry for entry in plan}
    selector = by_id["web-unreachable/service-selector-typo"]
    assert selector["applicable"] and "-    name: web\n+    name: web-web" in selector["diff"]
    skipped = [e for e in plan if not e["applicable"]]
    assert skipped, "the alt layout has no NetworkPolicies/terraform/frontend source: some faults must not apply"
    assert all(e["reason"] and e["diff"] == "" for e in skipped)
    from tests.gitrepos import git

    assert remote.head() == before and git(remote.bare, "rev-list", "--count", "main") == "1"  # nothing pushed
