"""Deploy tracking on real repos with the local GitHub and ArgoCD servers: shipped and
recovered come from ArgoCD history, CI shows up in the timeline, data outages mark the
team stale without declaring anything, and the probe gates recovery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.app.compose import make_deploy_watcher, make_injector, make_watcher, open_store
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.deploy.watch import DeployWatcher
from bot.game.engine import Act, TeamView, decide
from bot.game.plan import TeamPlan
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.watcher import TeamWatcher
from bot.store.eventlog import Store
from bot.web.server import BackgroundServer
from tests.conftest import CHAT_APP
from tests.repo.test_inject import write_config
from tests.servers.argocd_api import DEFAULT_TOKEN, ArgoCDServer, serve_argocd
from tests.servers.forge import BOT_TOKEN, GIT_SERVERS, Forge, open_forge
from tests.servers.git_cli import run_git
from tests.servers.git_http import git_auth_config

CATALOG = Catalog.load()
SELECTOR = "web-unreachable/service-selector-typo"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]
APP = "team-a-chat"
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)


@dataclass
class Deployed:
    forge: Forge
    argocd: ArgoCDServer
    store: Store
    watcher: TeamWatcher
    deploy: DeployWatcher
    injected: str
    work: Path

    def instance(self) -> FaultInstance:
        (found,) = fold(self.store.events("team-a"))
        return found

    def team_fix(self) -> str:
        run_git(*git_auth_config(BOT_TOKEN), "pull", "-q", "origin", "main", cwd=self.work)
        run_git(*ALICE, "revert", "--no-edit", self.injected, cwd=self.work)
        run_git(*git_auth_config(BOT_TOKEN), "push", "-q", "origin", "main", cwd=self.work)
        return run_git("rev-parse", "HEAD", cwd=self.work).stdout.decode().strip()

    def refresh(self) -> FaultInstance:
        self.watcher.refresh()
        self.deploy.refresh()
        return self.instance()


@pytest.fixture(params=GIT_SERVERS)
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Deployed]:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    with open_forge(tmp_path, CHAT_APP, partial_clone=request.param) as forge, serve_argocd() as argocd:
        game = start(tmp_path, forge, argocd)
        yield game
        game.deploy.close()


def start(tmp_path: Path, forge: Forge, argocd: ArgoCDServer, probe_url: str | None = None) -> Deployed:
    url = forge.git_http.url_for(forge.full_name)
    argocd.add_app(APP, url)
    probe = f"    probe: {{url: '{probe_url}', expect_status: 200, timeout: 2s}}\n" if probe_url else ""
    config_path = write_config(
        tmp_path, f"    repo: {forge.full_name}\n    url: {url}\n    argocd_app: {APP}\n{probe}",
        extra=f"github: {{api_url: '{forge.github.api_url}', request_interval: 0s}}\n"
              f"argocd: {{url: '{argocd.url}', ship_timeout: 2m}}\n",
    )
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    team = config.team("team-a")
    argocd.sync(APP, run_git("rev-parse", "main", cwd=forge.bare).stdout.decode().strip(), T0)
    injected = make_injector(config, config_path, team, store).inject(CATALOG.get(SELECTOR)).sha
    watcher = make_watcher(config, config_path, team, store, CATALOG)
    deploy = make_deploy_watcher(config, config_path, team, store)
    return Deployed(forge, argocd, store, watcher, deploy, injected, forge.clone("alice"))


def test_shipped_and_recovered_come_from_argocd_history(deployed: Deployed) -> None:
    assert deployed.refresh().shipped_at is None  # pushed is not shipped
    deployed.argocd.sync(APP, deployed.injected, T0 + timedelta(minutes=1))
    shipped = deployed.refresh()
    assert shipped.shipped_at == T0 + timedelta(minutes=1) and shipped.deploy_tracked
    fix = deployed.team_fix()
    fixed = deployed.refresh()
    assert fixed.state is State.fixed and fixed.recovered_at is None  # merged, not yet synced
    plan = TeamPlan("team-a", (SELECTOR, "db-unreachable/db-host-typo"), timedelta(0), (timedelta(0),), timedelta(hours=1), "revert")
    view = TeamView(plan, T0, {fixed.fault: fixed}, deploy_tracking=True)
    assert [a.act for a in decide(view, T0 + timedelta(days=1)).actions] == []  # the next waits for recovery
    deployed.argocd.sync(APP, fix, T0 + timedelta(minutes=9))
    recovered = deployed.refresh()
    assert recovered.recovered_at == T0 + timedelta(minutes=9)
    assert recovered.as_json()["time_to_recover_s"] == 8 * 60
    view = TeamView(plan, T0, {recovered.fault: recovered}, deploy_tracking=True)
    assert Act.inject in [a.act for a in decide(view, T0 + timedelta(days=1)).actions]


def test_a_degraded_app_after_sync_is_not_recovered(deployed: Deployed) -> None:
    deployed.argocd.sync(APP, deployed.injected, T0 + timedelta(minutes=1))
    fix = deployed.team_fix()
    deployed.argocd.sync(APP, fix, T0 + timedelta(minutes=5), health="Degraded")
    assert deployed.refresh().recovered_at is None
    deployed.argocd.set_health(APP, "Healthy")
    assert deployed.refresh().recovered_at == T0 + timedelta(minutes=5)


def test_a_failed_build_is_flagged_and_the_fault_not_timed(deployed: Deployed) -> None:
    forge = deployed.forge
    forge.github.add_workflow_run(forge.owner, forge.name, deployed.injected, conclusion="failure", name="build")
    deployed.team_fix()
    instance = deployed.refresh()
    assert "ci-failed" in instance.anomalies and instance.as_json()["injected_ci"] == "failure"
    assert instance.state is State.fixed and instance.time_to_fix_s is None  # never shipped: not timed


def test_a_fault_not_shipped_in_time_is_an_anomaly(deployed: Deployed) -> None:
    assert "not-shipped" not in deployed.refresh().anomalies
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=5)):
        deployed.deploy.refresh()
    instance = deployed.instance()
    assert instance.anomalies == ("not-shipped",) and instance.shipped_at is None


def test_the_fix_commits_ci_conclusion_is_in_status(deployed: Deployed) -> None:
    fix = deployed.team_fix()
    deployed.refresh()  # no run yet for the fix commit
    deployed.forge.github.add_workflow_run(deployed.forge.owner, deployed.forge.name, fix, conclusion="success")
    asked = [r for r in deployed.forge.github.requests if r.path.endswith("/actions/runs")]
    deployed.deploy.refresh()  # within the recheck window: GitHub is not asked again
    assert [r for r in deployed.forge.github.requests if r.path.endswith("/actions/runs")] == asked
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=3)):
        deployed.deploy.refresh()
    shown = deployed.instance().as_json()
    assert shown["fix_ci_conclusion"] == "success"
    assert shown["ci_runs"]["fix"]["status"] == "completed" and shown["ci_runs"]["fix"]["started_at"]


def test_argocd_down_marks_stale_keeps_going_and_catches_up(deployed: Deployed) -> None:
    deployed.argocd.sync(APP, deployed.injected, T0 + timedelta(minutes=1))
    deployed.argocd.down()
    try:
        instance = deployed.refresh()  # no exception: degrade, don't die
        assert instance.as_json()["stale"] is True and instance.stale == ("argocd",)
        assert instance.shipped_at is None  # nothing declared from missing data
    finally:
        deployed.argocd.up()
    caught_up = deployed.refresh()
    assert caught_up.as_json()["stale"] is False and caught_up.shipped_at == T0 + timedelta(minutes=1)


class FlakyService:
    """The team's site as the probe sees it: down until told otherwise."""

    def __init__(self) -> None:
        self.up = False

    def app(self) -> Starlette:
        async def home(_: Request) -> PlainTextResponse:
            return PlainTextResponse("chat", status_code=200 if self.up else 503)
        return Starlette(routes=[Route("/", home)])


@pytest.mark.parametrize("partial_clone", GIT_SERVERS)
def test_the_probe_gates_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partial_clone: bool) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    site = FlakyService()
    with open_forge(tmp_path, CHAT_APP, partial_clone=partial_clone) as forge, serve_argocd() as argocd, BackgroundServer(site.app()) as web:
        game = start(tmp_path, forge, argocd, probe_url=web.url + "/")
        argocd.sync(APP, game.injected, T0 + timedelta(minutes=1))
        fix = game.team_fix()
        argocd.sync(APP, fix, T0 + timedelta(minutes=4))
        assert game.refresh().recovered_at is None  # deployed and Healthy, but the site answers 503
        site.up = True
        before = datetime.now(timezone.utc)
        recovered = game.refresh().recovered_at
        game.deploy.close()
        assert recovered is not None and recovered >= before  # the probe's observation, the later of the two


def test_the_daemon_outlives_an_argocd_outage_and_catches_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import httpx

    from bot.app.control import run_daemon
    from bot.app.daemon import _RUNNING
    from tests.app.test_daemon import wait_until
    from tests.gitrepos import git, make_team_repo

    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", DEFAULT_TOKEN)
    remote = make_team_repo(tmp_path)
    with serve_argocd() as argocd:
        argocd.add_app(APP, remote.url)
        argocd.sync(APP, remote.head(), T0)
        config_path = tmp_path / "repos.yaml"
        config_path.write_text(
            "event: {name: t, state: sqlite:///state.db, workdir: cache}\npoll_interval: 1s\nweb: {port: 0}\n"
            f"argocd: {{url: '{argocd.url}'}}\n"
            f"defaults: {{scenario: {{faults: [{SELECTOR}], first_delay: 0s, time_limit: 1h}}}}\n"
            f"teams:\n  - name: team-a\n    url: {remote.url}\n    argocd_app: {APP}\n", encoding="utf-8")
        store = Store(f"sqlite:///{tmp_path / 'state.db'}")
        argocd.down()
        stop = threading.Event()
        thread = threading.Thread(target=run_daemon, kwargs={"config_path": config_path, "stop": stop}, daemon=True)
        thread.start()
        try:
            wait_until(lambda: any(e.kind == "data.stale" for e in store.events("team-a")), 60)
            web_url = next(d.web_url for d in _RUNNING.values() if d.web_url)
            assert httpx.get(f"{web_url}/healthz").json()["status"] == "ok"  # degraded, not dead
            (instance,) = fold(store.events("team-a"))
            assert instance.state is State.injected and instance.shipped_at is None and instance.stale == ("argocd",)
            argocd.sync(APP, git(remote.bare, "rev-parse", "main"), T0 + timedelta(minutes=2))
            argocd.up()
            wait_until(lambda: fold(store.events("team-a"))[0].shipped_at is not None, 60)
            caught_up = fold(store.events("team-a"))[0]
            assert caught_up.shipped_at == T0 + timedelta(minutes=2) and caught_up.stale == ()
        finally:
            stop.set()
            thread.join(timeout=30)
