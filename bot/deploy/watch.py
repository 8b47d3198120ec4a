"""Deploy tracking for one team: when a fault shipped, when the team recovered, what CI said.

A fault has **shipped** at the `deployedAt` of the first ArgoCD history entry whose
revision contains the injected commit (ancestry checked in our clone of the team's repo);
the team has **recovered** at the first entry containing the fix, once the app is Healthy
(and, where the team has a probe, once the probe passes: the later of the two). ArgoCD
keeps only its last `revisionHistoryLimit` syncs, so what we see is recorded as we see it.

Degrade, don't die: ArgoCD or GitHub unreachable, 5xx, 401 or rate limited marks the
team's deploy data stale (one event when it turns stale, one when it is fresh again) and
records nothing else — a fault is never declared shipped or recovered from missing data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.config import TeamSettings
from bot.deploy import AppStatus, DeployError, DeploySource
from bot.deploy.probe import ProbeResult
from bot.deploy.tracking import first_deploy_containing, recovered_at
from bot.errors import FaultbotError, GitError
from bot.forge import CIRun
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.events import Kind
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.cache import TeamCache
from bot.store.eventlog import Store
from bot.store.staleness import mark_fresh, mark_stale

if TYPE_CHECKING:
    from bot.forge.github import GitHubForge  # PyGithub: imported where a team has `repo:`

log = logging.getLogger("faultbot.deploy")
CI_RECHECK = timedelta(minutes=2)  # how often to ask GitHub again about a commit's CI (a 304 is free)
# GitHub creates a push's workflow runs (queued) within seconds: none this long after the
# commit landed means the repo runs no CI on it, so stop asking.
CI_APPEARS_WITHIN = timedelta(minutes=10)
Prober = Callable[[], ProbeResult]


class DeployWatcher:
    """Reads ArgoCD, GitHub Actions and the probe for one team, and records what it sees."""

    def __init__(self, team: TeamSettings, cache: TeamCache, store: Store, clock: Clock,
                 argocd: DeploySource | None, forge: GitHubForge | None = None, prober: Prober | None = None,
                 ship_timeout: timedelta = timedelta(minutes=10),
                 closers: tuple[Callable[[], None], ...] = ()) -> None:
        self.team = team
        self._closers = closers
        self.cache = cache
        self.store = store
        self.clock = clock
        self.argocd = argocd if team.argocd_app else None
        self.forge = forge
        self.prober = prober
        self.ship_timeout = ship_timeout
        # Spend GitHub's rate limit with care: 30 teams share one token's 5,000 calls an hour.
        self._ci_next: dict[str, datetime] = {}
        self._unknown_revisions: set[str] = set()
        self._ci_pushed: bool | None = None  # does CI arrive by webhook deliveries? (None: not read yet)
        self._ci_lock = threading.Lock()  # a delivery and a poll must not record the same run twice

    def close(self) -> None:
        """Release the HTTP clients this watcher was built with."""
        for close in self._closers:
            close()

    @property
    def tracking(self) -> bool:
        """Is there a deploy to track for this team?"""
        return self.argocd is not None

    def refresh(self) -> None:
        """One look at CI, ArgoCD and the probe; records shipped/recovered/CI/anomalies."""
        with self.cache.exclusive():
            self._refresh()

    def _refresh(self) -> None:
        instances = [i for i in fold(self.store.events(self.team.name)) if i.injected_sha]
        with self._ci_lock:
            self._ci(instances)
        if self.argocd is None or not instances:
            return
        try:
            status = self.argocd.application(self.team.argocd_app or "")
        except DeployError as exc:
            self._stale("argocd", exc.message)
            return
        self._fresh("argocd")
        now = self.clock.now()
        probe = self.prober() if self.prober else None
        if probe is not None:
            self._record_probe(probe)
        for instance in instances:
            if not instance.deploy_tracked:
                self._append(instance, ev.Tracked(app=self.team.argocd_app))
            self._shipped(instance, status, now)
            self._recovered(instance, status, probe)

    # -- ArgoCD ---------------------------------------------------------------------------

    def _contains(self, commit: str) -> Callable[[str], bool]:
        def contains(revision: str) -> bool:
            if revision in self._unknown_revisions:
                return False
            try:
                if not self.cache.has_commit(revision):
                    self.cache.remote("fetch", "-q", self.cache.url, revision)
                return self.cache.has_commit(revision) and self.cache.contains(commit, revision)
            except GitError:
                self._unknown_revisions.add(revision)  # a Helm chart version, a pruned commit: ask once
                return False
        return contains

    def _shipped(self, instance: FaultInstance, status: AppStatus, now: datetime) -> None:
        # The commit on the branch that carries the fault: with a squash or rebase merge the
        # injected commit itself never reaches the branch, GitHub's new commit does.
        landed = instance.landed_sha or instance.injected_sha
        if instance.shipped_at is not None or landed is None:
            return
        entry = first_deploy_containing(status.history, self._contains(landed))
        if entry is not None:
            self._append(instance, ev.Shipped(at=entry.deployed_at, revision=entry.revision, history_id=entry.id))
        elif instance.injected_at and now - instance.injected_at >= self.ship_timeout and "not-shipped" not in instance.anomalies:
            self._append(instance, ev.Anomaly(
                kind="not-shipped",
                detail=f"not deployed {int(self.ship_timeout.total_seconds())}s after it landed "
                       f"(ArgoCD {status.sync_status}/{status.health_status}, operation {status.operation_phase})"))

    def _recovered(self, instance: FaultInstance, status: AppStatus, probe: ProbeResult | None) -> None:
        if instance.state is not State.fixed or instance.recovered_at is not None or instance.fix_sha is None:
            return
        deployed = recovered_at(status, self._contains(instance.fix_sha))
        if deployed is None:
            return
        if probe is not None and not probe.ok:
            return  # deployed and Healthy, but the service does not answer yet
        at = max(deployed, probe.observed_at) if probe is not None else deployed
        self._append(instance, ev.Recovered(at=at, deployed_at=deployed, health=status.health_status,
                                            probe=probe.reason if probe else None))

    def _record_probe(self, probe: ProbeResult) -> None:
        last = self.store.latest(self.team.name, ev.ProbeChanged)
        if last is None or last.ok != probe.ok:  # record changes only
            self.store.append(self.team.name, ev.ProbeChanged(probe.ok, probe.status, probe.reason),
                              source="probe", at=probe.observed_at)

    # -- GitHub Actions ---------------------------------------------------------------------

    def _ci(self, instances: list[FaultInstance]) -> None:
        if self.forge is None or self._ci_by_webhook():
            return
        now = self.clock.now()
        for instance in instances:
            for role, sha, since in self._ci_commits(instance):
                seen = instance.ci.get(role)
                if now < self._ci_next.get(sha, now):
                    continue
                if seen is None and sha in self._ci_next and since is not None and now - since >= CI_APPEARS_WITHIN:
                    continue  # asked, and no run came within the bound: this commit has no CI to follow
                self._ci_next[sha] = now + CI_RECHECK
                try:
                    runs = self.forge.workflow_runs(sha)
                except FaultbotError as exc:
                    self._stale("github", exc.message)
                    return
                self._fresh("github")
                if runs:
                    self._record_run(instance, role, sha, runs[0], "deploy")

    def record_ci(self, sha: str, run: CIRun, source: str) -> None:
        """A CI run a webhook delivered (`workflow_run`, `check_suite`): recorded like a polled one,
        and from then on this team's CI comes from deliveries, not from asking GitHub."""
        with self._ci_lock:
            self._ci_pushed = True
            for instance in fold(self.store.events(self.team.name)):
                for role, commit, _ in self._ci_commits(instance):
                    if commit == sha:
                        self._record_run(instance, role, sha, run, source)

    @staticmethod
    def _ci_commits(instance: FaultInstance) -> list[tuple[str, str, datetime | None]]:
        """(role, sha, since) of the commits whose CI is still worth following."""
        if instance.state in (State.timed_out, State.halted) or instance.recovered_at is not None:
            return []  # nothing CI can still tell us about a closed fault
        commits = (("injected", instance.landed_sha or instance.injected_sha, instance.injected_at),
                   ("fix", instance.fix_sha, instance.fixed_at))
        return [(role, sha, since) for role, sha, since in commits
                if sha is not None and (role not in instance.ci or instance.ci[role].status != "completed")]

    def _ci_by_webhook(self) -> bool:
        """Has GitHub delivered CI runs for this team? Then deliveries carry it (read from the log once)."""
        if self._ci_pushed is None:
            self._ci_pushed = any(e.source.startswith("webhook") for e in self.store.events(self.team.name, kinds=(Kind.CI,)))
        return self._ci_pushed

    def _record_run(self, instance: FaultInstance, role: str, sha: str, run: CIRun, source: str) -> None:
        seen = instance.ci.get(role)
        if seen is not None and (seen.status, seen.conclusion) == (run.status, run.conclusion):
            return
        self._append(instance, ev.CIRun(role=role, sha=sha, name=run.name, status=run.status,
                                        conclusion=run.conclusion, started_at=run.created_at,
                                        updated_at=run.updated_at), source)
        if role == "injected" and run.conclusion in ("failure", "cancelled", "timed_out"):
            self._append(instance, ev.Anomaly(
                kind="ci-failed",
                detail=f"CI '{run.name}' {run.conclusion} on the injected commit: "
                       "the fault may never ship, and is not timed until it does"), source)

    # -- helpers ----------------------------------------------------------------------------

    def _append(self, instance: FaultInstance, facts: ev.Facts, source: str = "deploy") -> None:
        self.store.append(self.team.name, facts, fault=instance.fault, source=source, at=self.clock.now())

    def _stale(self, source: str, error: str) -> None:
        log.warning("deploy data stale", extra={"team": self.team.name, "source": source, "error": error})
        mark_stale(self.store, self.team.name, source, error, self.clock.now())

    def _fresh(self, source: str) -> None:
        mark_fresh(self.store, self.team.name, source, self.clock.now())
