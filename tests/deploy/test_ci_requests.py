"""What following CI costs against GitHub's rate limit (issue 17, P3): an unchanged answer is
asked for with its ETag and comes back 304 (free, as GitHub documents, counted at the double);
a commit with no run within a bounded time is not asked about again; and once GitHub delivers
`workflow_run` webhooks for a team, its CI comes from them and no REST call is made at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from bot.app.compose import make_deploy_watcher
from bot.config import load_config
from bot.deploy.watch import CI_APPEARS_WITHIN
from bot.forge import CIRun
from bot.game.events import Kind
from tests.conftest import CHAT_APP
from tests.deploy.test_deploy_tracking import Deployed, start
from tests.servers.argocd_api import DEFAULT_TOKEN, serve_argocd
from tests.servers.forge import BOT_TOKEN, open_forge
from tests.servers.github_state import APIRequest


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    with open_forge(tmp_path, CHAT_APP) as forge, serve_argocd() as argocd:
        game = start(tmp_path, forge, argocd)
        yield game
        game.deploy.close()


def ci_requests(deployed: Deployed) -> list[APIRequest]:
    return [r for r in deployed.forge.github.requests if r.path.endswith("/actions/runs")]


def later(minutes: float) -> time_machine.travel:
    return time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=minutes))


def test_an_unchanged_ci_answer_is_a_304_that_github_does_not_charge(deployed: Deployed) -> None:
    forge = deployed.forge
    run = forge.github.add_workflow_run(forge.owner, forge.name, deployed.injected, status="in_progress", conclusion=None)
    assert deployed.refresh().ci["injected"].status == "in_progress"
    (first,) = ci_requests(deployed)
    used = forge.github.rate_limit_numbers(first.login)["used"]
    with later(3):
        deployed.deploy.refresh()
    assert [r.status for r in ci_requests(deployed)] == [200, 304]
    assert forge.github.rate_limit_numbers(first.login)["used"] == used  # the 304 was free
    assert deployed.instance().ci["injected"].status == "in_progress"  # the remembered answer stands
    forge.github.update_workflow_run(run, "completed", "success")
    with later(6):
        deployed.deploy.refresh()
    assert [r.status for r in ci_requests(deployed)] == [200, 304, 200]  # a change: a new ETag, a full answer
    assert deployed.instance().ci["injected"].conclusion == "success"


def test_a_commit_without_runs_is_not_asked_about_forever(deployed: Deployed) -> None:
    deployed.refresh()
    with later(3):
        deployed.deploy.refresh()
    asked = ci_requests(deployed)
    assert [r.status for r in asked] == [200, 304]
    for minutes in (CI_APPEARS_WITHIN.total_seconds() / 60 + 1, 30, 60):
        with later(minutes):
            deployed.deploy.refresh()
    assert ci_requests(deployed) == asked
    assert "injected" not in deployed.instance().ci


def test_ci_delivered_by_webhook_is_recorded_and_github_is_not_asked_again(deployed: Deployed, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    deployed.deploy.record_ci(deployed.injected, CIRun("build", "completed", "failure", now, now), "webhook:workflow_run")
    instance = deployed.instance()
    assert instance.ci["injected"].conclusion == "failure" and "ci-failed" in instance.anomalies
    recorded = deployed.store.last("team-a", kinds=(Kind.CI,))
    assert recorded is not None and recorded.source == "webhook:workflow_run"
    fix = deployed.team_fix()
    deployed.watcher.refresh()
    asked = ci_requests(deployed)
    with later(3):
        deployed.deploy.refresh()
        config, _ = load_config(tmp_path / "repos.yaml")
        restarted = make_deploy_watcher(config, tmp_path / "repos.yaml", config.team("team-a"), deployed.store)
        restarted.refresh()  # a restarted daemon reads from the log that deliveries carry CI
        restarted.close()
    assert ci_requests(deployed) == asked
    deployed.deploy.record_ci(fix, CIRun("build", "completed", "success", now, now), "webhook:workflow_run")
    assert deployed.instance().ci["fix"].conclusion == "success"
