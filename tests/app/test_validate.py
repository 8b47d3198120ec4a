"""`faultbot validate` against real bare repositories over file://."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.parallel import TEAM_WORKERS
from bot.catalog.behaviour import Job, Outcome, Runner
from tests.gitrepos import TeamRepo, make_team_repo


def config_for(tmp_path: Path, remote: TeamRepo, branch: str = "main", extra: str = "") -> Path:
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: Rehearsal}\n"
        "teams:\n"
        f"  - name: team-a\n    url: {remote.url}\n    branch: {branch}\n{extra}",
        encoding="utf-8",
    )
    return path


def test_validate_passes_on_a_healthy_team_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    assert main(["validate", "--config", str(config_for(tmp_path, remote)), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["problems"] == []
    assert report["teams"][0]["reachable"] is True


def test_validate_fails_with_one_line_for_a_missing_branch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    assert main(["validate", "--config", str(config_for(tmp_path, remote, branch="release"))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"repos.yaml:5: teams[0].branch: branch 'release' does not exist in {remote.url}; "
        "create it or set the team's branch:"
    ]


def test_validate_reports_an_unreachable_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    config = config_for(tmp_path, remote)
    config.write_text(config.read_text().replace(remote.url, (tmp_path / "gone.git").as_uri()))
    assert main(["validate", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("repos.yaml:4: teams[0].url: cannot reach file://")


def test_validate_reports_unknown_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    config = config_for(tmp_path, remote, extra="    scenario: {families: [web-unreachable, dns-flaky]}\n")
    assert main(["validate", "--config", str(config), "--offline"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("repos.yaml:6: teams[0].scenario.families[1]: unknown family 'dns-flaky' (known: ")


def test_validate_reports_a_repo_that_does_not_start_healthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    service = remote.clone / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("app: frontend\n  ports", "app: frontend-old\n  ports"))
    from tests.gitrepos import git

    git(remote.clone, "commit", "-qam", "Already broken")
    git(remote.clone, "push", "-q", "origin", "main")
    assert main(["validate", "--config", str(config_for(tmp_path, remote))]) == 2
    err = capsys.readouterr().err
    assert "team-a does not start healthy for web-unreachable/service-selector-typo" in err


def test_validate_checks_the_argocd_applications(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers.argocd_api import DEFAULT_TOKEN, serve_argocd

    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    remote = make_team_repo(tmp_path)
    with serve_argocd() as argocd:
        argocd.add_app("team-a-chat", remote.url)
        config = config_for(tmp_path, remote, extra="    argocd_app: team-a-chat\n")
        config.write_text(config.read_text() + f"argocd: {{url: '{argocd.url}'}}\n")
        assert main(["validate", "--config", str(config)]) == 0
        capsys.readouterr()
        config.write_text(config.read_text().replace("argocd_app: team-a-chat", "argocd_app: team-a-chatt"))
        assert main(["validate", "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("repos.yaml:6: teams[0].argocd_app: "), err
        assert "no application 'team-a-chatt' on this ArgoCD" in err[0]


def test_the_argocd_apps_source_path_is_the_deployed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """podinfo's overlays share files: without `path:` nothing can be read, unless ArgoCD says which one it deploys."""
    from bot.app.commands import run_validate
    from tests.realworld import realworld_source
    from tests.servers.argocd_api import DEFAULT_TOKEN, serve_argocd

    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    remote = make_team_repo(tmp_path, "podinfo", source=realworld_source("podinfo"))
    config = tmp_path / "repos.yaml"
    team = (f"event: {{name: t}}\nteams:\n  - name: pod\n    url: {remote.url}\n    argocd_app: pod\n"
            "    scenario: {families: [web-unreachable, db-unreachable]}\n")
    config.write_text(team, encoding="utf-8")
    assert any("several kustomize roots" in p for p in run_validate(config, offline=False).problems)
    with serve_argocd() as argocd:
        argocd.add_app("pod", remote.url, path="overlays/dev")
        config.write_text(team + f"argocd: {{url: '{argocd.url}'}}\n", encoding="utf-8")
        report = run_validate(config, offline=False)
    assert report.ok, report.problems


SERVICES = """pagerduty: {api_url: "https://127.0.0.1:9/"}
notify: {organizer: {slack_channel: "#organizers"}}
web: {webhook_secret_env: HOOK_SECRET, organizer_token_env: ORG_TOKEN}
"""
SERVICE_ENVS = {"PAGERDUTY_TOKEN": "pd", "SLACK_BOT_TOKEN": "xoxb-1", "HOOK_SECRET": "s3", "ORG_TOKEN": "o"}


@pytest.mark.parametrize("unset", sorted(SERVICE_ENVS))
def test_validate_names_each_missing_service_secret(unset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A PagerDuty, Slack, webhook or organizer secret the file names but the shell lacks is one line each."""
    remote = make_team_repo(tmp_path)
    path = config_for(tmp_path, remote, extra="    pagerduty_service: PABC123\n")
    path.write_text(SERVICES + path.read_text(encoding="utf-8"), encoding="utf-8")
    for name, value in SERVICE_ENVS.items():
        monkeypatch.setenv(name, value)
    assert main(["validate", "--config", str(path), "--json"]) == 0, capsys.readouterr()
    capsys.readouterr()
    monkeypatch.delenv(unset)
    assert main(["validate", "--config", str(path), "--json"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert len(problems) == 1 and f"environment variable {unset} is not set" in problems[0], problems
    field = {"PAGERDUTY_TOKEN": "pagerduty.token_env", "SLACK_BOT_TOKEN": "notify.slack_token_env",
             "HOOK_SECRET": "web.webhook_secret_env", "ORG_TOKEN": "web.organizer_token_env"}[unset]
    assert problems[0].startswith("repos.yaml:") and field in problems[0], problems


@dataclass
class WaitingForClones:
    """The real sandbox runner, whose first job waits (a bounded while) until every team's clone is
    in the workdir: it only gets there if clones go on while the first tree is rehearsed."""

    runner: Runner
    workdirs: Path  # the folder the command's workdir is made in (or the workdir itself)
    names: list[str]
    saw_every_clone: bool | None = None

    def cloned(self) -> bool:
        return all(any(self.workdirs.glob(f"**/{name}/k8s")) for name in self.names)

    def run(self, job: Job) -> Outcome:
        if self.saw_every_clone is None:
            deadline = time.monotonic() + 60  # a bound on the wait, not a timing: it only runs out when clones wait
            while not (every := self.cloned()) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.saw_every_clone = every
        return self.runner.run(job)


def teams_of_one_template(tmp_path: Path) -> tuple[Path, list[str]]:
    """More teams than the team pool has workers, all with the chat app, judged by its browser check."""
    remote = make_team_repo(tmp_path)
    names = [f"team-{i}" for i in range(TEAM_WORKERS + 2)]
    path = tmp_path / "repos.yaml"
    path.write_text("event: {name: Rehearsal}\ndefaults:\n  scenario: {families: [app-bug], faults: [app-bug/messages-invisible]}\n"
                    "teams:\n" + "".join(f"  - name: {name}\n    url: {remote.url}\n" for name in names), encoding="utf-8")
    return path, names


def test_the_other_teams_are_fetched_while_the_first_tree_is_rehearsed(tmp_path: Path, behaviour: Runner) -> None:
    """The first tree's sandbox jobs are validate's slow part (issue 17 P5): more teams than the
    team pool has workers are all cloned meanwhile, and each clone is removed once planned."""
    from bot.app.faults import catalog_problems
    from bot.catalog.faults import Catalog
    from bot.config import load_config

    path, names = teams_of_one_template(tmp_path)
    config, source = load_config(path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    runner = WaitingForClones(behaviour, workdir, names)
    findings = catalog_problems(config, source, Catalog.load(), offline=False, workdir=workdir, runner=runner)
    assert findings.problems == [] and runner.saw_every_clone is True
    assert list(workdir.iterdir()) == []


def test_plan_fetches_the_other_teams_while_the_first_tree_is_rehearsed(tmp_path: Path, behaviour: Runner,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan` as `validate`; and a repo it cannot fetch is still its one-line error."""
    import tempfile

    import bot.app.compose
    from bot.app.commands import run_plan
    from bot.errors import FaultbotError

    path, names = teams_of_one_template(tmp_path)
    workdirs = tmp_path / "tmp"
    workdirs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(workdirs))  # where run_plan makes its workdir
    runner = WaitingForClones(behaviour, workdirs, names)
    monkeypatch.setattr(bot.app.compose, "behaviour_runner", lambda *_: runner)  # the real one, watched
    plans = run_plan(path, [])
    assert list(plans) == names and runner.saw_every_clone is True
    assert all(plan.entries[0].applicable for plan in plans.values())
    path.write_text(path.read_text().replace(f"{names[-1]}\n    url: file://", f"{names[-1]}\n    url: file:///gone"))
    with pytest.raises(FaultbotError):
        run_plan(path, [])
