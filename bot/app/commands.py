"""What each CLI command does, as plain functions the CLI (and tests) call."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from bot.app.faults import PlanEntry, catalog_for, catalog_problems, plan_team, team_tree
from bot.app.parallel import in_parallel
from bot.app.validation import ValidationReport, config_path_problem, token_for, validate_config
from bot.base.redact import Redactor
from bot.catalog.faults import Catalog
from bot.config import Config, TeamSettings, load_config
from bot.deploy.argocd import ArgoCD, token_from_env
from bot.deploy.probe import ProbeResult, probe
from bot.deploy.watch import DeployWatcher
from bot.forge.github import GitHubForge, github_auth, make_client
from bot.game.clock import Clock, SystemClock
from bot.game.timeline import FaultInstance, fold
from bot.repo.injector import Injection, Injector, cache_path
from bot.repo.watcher import TeamWatcher
from bot.repo.workspace import Credentials, TeamCache
from bot.store.eventlog import Store


def run_validate(config_path: Path, *, offline: bool) -> ValidationReport:
    """Load and validate the config; problems are returned, not raised."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, source = load_config(config_path)
    catalog = catalog_for(config, config_path)
    with tempfile.TemporaryDirectory(prefix="faultbot-validate-") as workdir:
        return validate_config(
            config,
            source,
            offline=offline,
            catalog_checks=lambda c, s, o: catalog_problems(c, s, catalog, offline=o, workdir=Path(workdir)),
        )


def run_plan(config_path: Path, team_names: list[str]) -> dict[str, list[PlanEntry]]:
    """Every team's applicable faults and the exact diff each would push; nothing is pushed."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, _ = load_config(config_path)
    catalog = catalog_for(config, config_path)
    teams = [config.team(n) for n in team_names] if team_names else config.all_team_settings()
    plans: dict[str, list[PlanEntry]] = {}
    with tempfile.TemporaryDirectory(prefix="faultbot-plan-") as workdir:
        def one(team: TeamSettings) -> list[PlanEntry]:
            return plan_team(catalog, team, team_tree(config, team, Path(workdir) / team.name))

        for team, entries in zip(teams, in_parallel(one, teams), strict=True):
            plans[team.name] = entries
    return plans


def open_store(config: Config, config_path: Path) -> Store:
    """The event's store, at the URL repos.yaml names (relative SQLite paths: beside it)."""
    return Store(config.paths(config_path).state_url)


@dataclass(frozen=True)
class TeamAdapters:
    """A team's cached clone and (with `repo:`) its GitHub adapter, sharing one redactor."""

    cache: TeamCache
    forge: GitHubForge | None


def team_adapters(config: Config, config_path: Path, team: TeamSettings) -> TeamAdapters:
    """Build the git cache and the forge for a team, authenticating once for both.

    A personal token (github.token_env) serves the API and HTTPS git; with a GitHub App
    (github.app), one installation token serves both, for organisations that forbid
    personal tokens. Every token is registered with the redactor before first use.
    """
    redactor = Redactor()
    over_https = team.git_url.startswith(("https://", "http://"))
    git_token = None if config.github.app is not None and over_https else token_for(config, team)
    forge, refresh = None, None
    if team.uses_github or (config.github.app is not None and over_https):
        auth, current_token = github_auth(config.github, os.environ)
        if team.uses_github:
            forge = GitHubForge(make_client(config.github, auth), team.repo or "", redactor)
        if config.github.app is not None and over_https:
            refresh = current_token  # asked per git command: PyGithub renews it before it expires
        elif config.github.app is None:
            redactor.add(current_token())
    redactor.add(git_token)
    cache = TeamCache(cache_path(config.paths(config_path).workdir, team.name), team.git_url,
                      Credentials(git_token, redactor, refresh))
    return TeamAdapters(cache, forge)


def make_watcher(config: Config, config_path: Path, team: TeamSettings, store: Store, catalog: Catalog,
                 clock: Clock | None = None, adapters: TeamAdapters | None = None) -> TeamWatcher:
    """Everything one team's fix detection needs, built from repos.yaml."""
    adapters = adapters or team_adapters(config, config_path, team)
    return TeamWatcher(team, adapters.cache, store, clock or SystemClock(), catalog, adapters.forge,
                       config.defaults.automation, config.poll_interval)


def make_deploy_watcher(config: Config, config_path: Path, team: TeamSettings, store: Store,
                        clock: Clock | None = None, adapters: TeamAdapters | None = None) -> DeployWatcher:
    """ArgoCD, GitHub Actions and probe tracking for a team (each only where configured)."""
    clock = clock or SystemClock()
    adapters = adapters or team_adapters(config, config_path, team)
    argocd, closers = None, []
    prober: Callable[[], ProbeResult] | None = None
    if config.argocd is not None and team.argocd_app:
        argocd = ArgoCD.from_settings(config.argocd, token_from_env(config.argocd, os.environ), clock=clock)
        closers.append(argocd.close)
    if team.probe is not None:
        spec, client = team.probe, httpx.Client(follow_redirects=True)

        def prober() -> ProbeResult:
            return probe(client, spec, clock)

        closers.append(client.close)
    ship_timeout = config.argocd.ship_timeout if config.argocd else timedelta(minutes=10)
    return DeployWatcher(team, adapters.cache, store, clock, argocd, adapters.forge, prober, ship_timeout,
                         tuple(closers))


def run_status(config_path: Path, *, cached: bool) -> list[FaultInstance]:
    """Every fault instance of every team, refreshed from the repos unless `cached`."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, _ = load_config(config_path)
    catalog = catalog_for(config, config_path)
    store = open_store(config, config_path)
    try:
        if not cached:
            for team in config.all_team_settings():
                make_watcher(config, config_path, team, store, catalog).refresh(source="status", force=True)
                deploy = make_deploy_watcher(config, config_path, team, store)
                try:
                    deploy.refresh()
                finally:
                    deploy.close()
        return fold(store.events())
    finally:
        store.close()


def make_injector(config: Config, config_path: Path, team: TeamSettings, store: Store, clock: Clock | None = None,
                  adapters: TeamAdapters | None = None) -> Injector:
    """Everything one team's injections need, built from repos.yaml."""
    adapters = adapters or team_adapters(config, config_path, team)
    return Injector(team, adapters.cache, store, clock or SystemClock(), adapters.forge, config.github.merge_method)


def run_inject(config_path: Path, team_name: str, fault_id: str, *, dry_run: bool) -> Injection:
    """`faultbot inject`: one fault into one team's repository (or its diff, on a dry run)."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, _ = load_config(config_path)
    team = config.team(team_name)
    fault = catalog_for(config, config_path).get(fault_id)
    store = open_store(config, config_path)
    try:
        return make_injector(config, config_path, team, store).inject(fault, dry_run=dry_run)
    finally:
        store.close()
