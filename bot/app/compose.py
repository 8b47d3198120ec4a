"""The composition root: the one place that turns repos.yaml into adapters for a team.

Every command and the daemon ask here for a team's git cache, GitHub client, injector,
watcher and deploy watcher, so credentials are read, registered with the redactor and
shared in exactly one way (one cache and one GitHub client, with its rate-limit state,
per team).
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.deployroot import deploy_root

# open_store is re-exported: the root hands out the store too (it lives with the paths: light to import).
from bot.app.paths import event_paths
from bot.app.paths import open_store as open_store
from bot.app.validation import git_limits, token_for
from bot.base.redact import Redactor
from bot.catalog.behaviour import Job, Outcome
from bot.catalog.faults import Catalog
from bot.config import Config, TeamSettings
from bot.errors import FaultbotError
from bot.game.clock import Clock, SystemClock
from bot.repo.cache import TeamCache
from bot.repo.injector import Injector, cache_path
from bot.repo.workspace import Credentials
from bot.sandbox.verdicts import CachedRunner, VerdictCache

if TYPE_CHECKING:
    from bot.store.eventlog import Store

Guard = Callable[[], None]

if TYPE_CHECKING:  # PyGithub, ArgoCD/probe HTTP and PagerDuty are imported where a team uses them:
    # a command that needs none of them (`status --cached`, a push-only `inject`) starts faster.
    from bot.app.paging import PagerPoller
    from bot.deploy.probe import ProbeResult
    from bot.deploy.watch import DeployWatcher
    from bot.forge.github import GitHubForge
    from bot.pager.pagerduty import IncidentSource
    from bot.repo.watcher import TeamWatcher  # fix detection and the lease: not for `inject`
    from bot.sandbox.runner import Sandbox
    from bot.store.lease import Lease

VERDICTS_ENV = "FAULTBOT_VERDICTS"
"""Where commands without a config keep behavioural verdicts (default .faultbot/verdicts.jsonl)."""


class _LazySandbox:
    """The sandbox, made at its first job: importing it (pytest, for acceptance tests) cost
    every `faultbot inject` a fifth of a second or more though most faults judge no behaviour."""

    def __init__(self) -> None:
        self._sandbox: Sandbox | None = None
        self._lock = threading.Lock()

    def run(self, job: Job) -> Outcome:
        """Run one job in the (one) sandbox."""
        return self._made().run(job)

    @property
    def browser(self) -> Any:
        """The sandbox's shared chromium (tests count its launches)."""
        return self._made().browser

    def _made(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                from bot.sandbox.runner import Sandbox

                self._sandbox = Sandbox()
            return self._sandbox

    def close(self) -> None:
        """Close the sandbox's browser, if a job ever started one."""
        if self._sandbox is not None:
            self._sandbox.close()


@functools.cache
def _runner(verdicts: Path | None) -> CachedRunner:
    """One sandbox (so one chromium) per verdict file and process, shared by every team."""
    sandbox = _LazySandbox()
    atexit.register(sandbox.close)
    return CachedRunner(sandbox, VerdictCache(verdicts))


def behaviour_runner(config: Config | None = None, config_path: Path | None = None) -> CachedRunner:
    """The runner for behavioural checks. Verdicts are kept in $FAULTBOT_VERDICTS if set, else
    in the event's workdir (without a config: .faultbot/), so a restarted daemon judges nothing twice."""
    if os.environ.get(VERDICTS_ENV):
        return _runner(Path(os.environ[VERDICTS_ENV]).resolve())
    if config is not None and config_path is not None:
        return _runner(event_paths(config, config_path).workdir / "verdicts.jsonl")  # under $FAULTBOT_STATE_DIR too
    return _runner((Path(".faultbot") / "verdicts.jsonl").resolve())


def ensure_workdir(config: Config, config_path: Path) -> Path:
    """The event's workdir (caches, the daemon's lock), created if missing; one line if it cannot be."""
    workdir = event_paths(config, config_path).workdir
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FaultbotError(
            f"{config_path.name}: event.workdir: cannot create {workdir}: {exc.strerror}; "
            "choose a folder faultbot may write to"
        ) from None
    return workdir


def event_lease(config: Config, store: Store) -> Lease:
    """The event's leadership lease on that store (`leader_timeout` bounds a silent leader)."""
    from bot.store.lease import open_lease

    return open_lease(store, config.leader_timeout)


@dataclass(frozen=True)
class TeamAdapters:
    """A team's cached clone and (with `repo:`) its GitHub adapter, sharing one redactor."""

    cache: TeamCache
    forge: GitHubForge | None


def team_adapters(config: Config, config_path: Path, team: TeamSettings, clock: Clock | None = None,
                  guard: Guard | None = None) -> TeamAdapters:
    """Build the git cache and the forge for a team, authenticating once for both; `guard` runs
    before each of their writes to the team's repository (the leadership check).

    A personal token (github.token_env) serves the API and HTTPS git; with a GitHub App
    (github.app), one installation token serves both, for organisations that forbid
    personal tokens. Every token is registered with the redactor before first use.
    """
    redactor = Redactor()
    workdir = ensure_workdir(config, config_path)
    over_https = team.git_url.startswith(("https://", "http://"))
    git_token = None if config.github.app is not None and over_https else token_for(config, team)
    forge, refresh = None, None
    if team.uses_github or (config.github.app is not None and over_https):
        from bot.forge.github import GitHubForge, github_auth, make_client

        auth, current_token = github_auth(config.github, os.environ)
        if team.uses_github:
            forge = GitHubForge(make_client(config.github, auth, config.timeouts.http.total_seconds()),
                                team.repo or "", redactor, clock or SystemClock(), guard)
        if config.github.app is not None and over_https:
            refresh = current_token  # asked per git command: PyGithub renews it before it expires
        elif config.github.app is None:
            redactor.add(current_token())
    redactor.add(git_token)
    cache = TeamCache(cache_path(workdir, team.name), team.git_url,
                      Credentials(git_token, redactor, refresh), limits=git_limits(config), guard=guard)
    return TeamAdapters(cache, forge)


def make_watcher(config: Config, config_path: Path, team: TeamSettings, store: Store, catalog: Catalog,
                 clock: Clock | None = None, adapters: TeamAdapters | None = None) -> TeamWatcher:
    """Everything one team's fix detection needs, built from repos.yaml."""
    from bot.repo.watcher import TeamWatcher

    adapters = adapters or team_adapters(config, config_path, team, clock)
    return TeamWatcher(team, adapters.cache, store, clock or SystemClock(), catalog, adapters.forge,
                       config.defaults.automation, config.poll_interval, behaviour_runner(config, config_path))


def make_deploy_watcher(config: Config, config_path: Path, team: TeamSettings, store: Store,
                        clock: Clock | None = None, adapters: TeamAdapters | None = None) -> DeployWatcher:
    """ArgoCD, GitHub Actions and probe tracking for a team (each only where configured)."""
    import httpx

    from bot.deploy.argocd import ArgoCD, token_from_env
    from bot.deploy.probe import probe
    from bot.deploy.watch import DeployWatcher

    clock = clock or SystemClock()
    adapters = adapters or team_adapters(config, config_path, team, clock)
    argocd, closers = None, []
    prober: Callable[[], ProbeResult] | None = None
    if config.argocd is not None and team.argocd_app:
        argocd = ArgoCD.from_settings(config.argocd, token_from_env(config.argocd, os.environ), clock=clock,
                                      timeout=config.timeouts.http.total_seconds())
        closers.append(argocd.close)
    if team.probe is not None:
        # Each probe passes its own timeout (probe.timeout); this one bounds anything else.
        spec, client = team.probe, httpx.Client(follow_redirects=True, timeout=config.timeouts.http.total_seconds())

        def prober() -> ProbeResult:
            return probe(client, spec, clock)

        closers.append(client.close)
    ship_timeout = config.argocd.ship_timeout if config.argocd else timedelta(minutes=10)
    return DeployWatcher(team, adapters.cache, store, clock, argocd, adapters.forge, prober, ship_timeout,
                         tuple(closers))


def make_injector(config: Config, config_path: Path, team: TeamSettings, store: Store, clock: Clock | None = None,
                  adapters: TeamAdapters | None = None, guard: Guard | None = None) -> Injector:
    """Everything one team's injections need, built from repos.yaml."""
    adapters = adapters or team_adapters(config, config_path, team, clock, guard)
    return Injector(team, adapters.cache, store, clock or SystemClock(), adapters.forge, config.github.merge_method,
                    root=deploy_root(config, team), kubernetes_version=config.event.kubernetes_version,
                    runner=behaviour_runner(config, config_path))


def make_pager_source(config: Config) -> IncidentSource | None:
    """One PagerDuty client for the event (one token), if any team names a service."""
    if config.pagerduty is None or not any(t.pagerduty_service for t in config.teams):
        return None
    from bot.pager.pagerduty import PagerDuty

    return PagerDuty(config.pagerduty, os.environ.get(config.pagerduty.token_env, ""))


def make_pager(team: TeamSettings, source: IncidentSource | None, store: Store, clock: Clock) -> PagerPoller | None:
    """The team's PagerDuty poller, where it names a service."""
    if source is None or not team.pagerduty_service:
        return None
    from bot.app.paging import PagerPoller

    return PagerPoller(team.name, team.pagerduty_service, source, store, clock)
