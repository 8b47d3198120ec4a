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
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.config import TeamSettings
from bot.deploy import AppStatus, DeployError, DeploySource
from bot.deploy.probe import ProbeResult
from bot.deploy.tracking import first_deploy_containing, recovered_at
from bot.errors import FaultbotError, GitError
from bot.forge.github import GitHubForge
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.cache import TeamCache
from bot.store.eventlog import Store
from bot.store.staleness import mark_fresh, mark_stale

log = logging.getLogger("faultbot.deploy")
CI_RECHECK = timedelta(minutes=2)  # how often to ask GitHub again about a commit's CI
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
        if self.forge is None:
            return
        now = self.clock.now()
        for instance in instances:
            if instance.state in (State.timed_out, State.halted) or instance.recovered_at is not None:
                continue  # nothing CI can still tell us about a closed fault
            for role, sha in (("injected", instance.landed_sha or instance.injected_sha), ("fix", instance.fix_sha)):
                seen = instance.ci.get(role)
                if sha is None or (seen is not None and seen.status == "completed"):
                    continue
                if now < self._ci_next.get(sha, now):
                    continue
                self._ci_next[sha] = now + CI_RECHECK
                try:
                    runs = self.forge.workflow_runs(sha)
                except FaultbotError as exc:
                    self._stale("github", exc.message)
                    return
                self._fresh("github")
                if not runs:
                    continue
                latest = runs[0]
                if seen is None or (seen.status, seen.conclusion) != (latest.status, latest.conclusion):
                    self._append(instance, ev.CIRun(role=role, sha=sha, name=latest.name, status=latest.status,
                                                    conclusion=latest.conclusion, started_at=latest.created_at,
                                                    updated_at=latest.updated_at))
                    if role == "injected" and latest.conclusion in ("failure", "cancelled", "timed_out"):
                        self._append(instance, ev.Anomaly(
                            kind="ci-failed",
                            detail=f"CI '{latest.name}' {latest.conclusion} on the injected commit: "
                                   "the fault may never ship, and is not timed until it does"))

    # -- helpers ----------------------------------------------------------------------------

    def _append(self, instance: FaultInstance, facts: ev.Facts) -> None:
        self.store.append(self.team.name, facts, fault=instance.fault, source="deploy", at=self.clock.now())

    def _stale(self, source: str, error: str) -> None:
        log.warning("deploy data stale", extra={"team": self.team.name, "source": source, "error": error})
        mark_stale(self.store, self.team.name, source, error, self.clock.now())

    def _fresh(self, source: str) -> None:
        mark_fresh(self.store, self.team.name, source, self.clock.now())
