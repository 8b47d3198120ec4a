"""`faultbot validate` on the real repositories organizers bring (../shared/realworld): healthy
repos pass once the `path:` and `targets:` its own messages suggest are written; a Helm chart
gets one line; an app without a datastore is told so for the db family."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.commands import run_validate
from bot.catalog.deployed import HELM_MESSAGE
from tests.gitrepos import make_team_repo
from tests.realworld import SUGGESTED, TEAM_REPOS, realworld_source, settle, write_team_config


@pytest.mark.parametrize("key", sorted(TEAM_REPOS))
def test_a_healthy_real_repository_passes_validate_with_only_what_it_suggests(tmp_path: Path, key: str) -> None:
    team, messages = settle(tmp_path, key)
    assert (team.path, team.targets) == SUGGESTED[key], messages
    report = run_validate(write_team_config(tmp_path / "final", team.team_lines()), offline=False)
    assert report.ok, report.problems
    assert not any("does not start healthy" in m for m in messages), messages  # never "unhealthy"
    assert all("\n" not in m for m in messages)


def test_the_suggestions_come_as_one_line_each(tmp_path: Path) -> None:
    _, messages = settle(tmp_path, "aks-store-demo-base")
    lines = [m for m in messages if "add to the team's targets: backend_workload: Deployment/order-service" in m]
    assert lines and all(m.startswith("repos.yaml:") for m in lines), messages
    family = [m for m in messages if "no fault of family 'db-unreachable' applies" in m]
    assert family and "several workloads dial a datastore: Deployment/makeline-service, Deployment/order-service" in family[0]
    assert "no Ingress" not in " ".join(family)  # a db fault's reason is never the frontend's


@pytest.mark.parametrize("key", ["argocd-guestbook", "argocd-kustomize-guestbook"])
def test_the_db_family_on_an_app_without_a_datastore_says_so(tmp_path: Path, key: str) -> None:
    remote = make_team_repo(tmp_path, key, source=realworld_source(TEAM_REPOS[key][0]))
    lines = f"    url: {remote.url}\n    scenario: {{families: [web-unreachable, db-unreachable]}}\n"
    report = run_validate(write_team_config(tmp_path, lines), offline=False)
    (problem,) = report.problems
    assert "no fault of family 'db-unreachable' applies" in problem and "the app has no database, cache or queue" in problem


def test_a_helm_chart_gets_one_line(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path, "helm", source=realworld_source("argocd-helm-guestbook"))
    report = run_validate(write_team_config(tmp_path, f"    url: {remote.url}\n"), offline=False)
    assert len(report.problems) == 1 and report.problems[0].endswith(f"team-a: {HELM_MESSAGE}"), report.problems


def test_the_tab_repaired_service_is_a_warning_not_a_silent_drop(tmp_path: Path) -> None:
    _, messages = settle(tmp_path, "argocd-kustomize-guestbook")
    assert any("guestbook-ui-svc.yaml: read with trailing TABs ignored on line(s) 1-9" in m for m in messages), messages
