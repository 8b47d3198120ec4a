"""`faultbot run`: the daemon that plays the game for every team, unattended.

APScheduler 3 drives it: per team a poll job every `poll_interval` and a one-shot `tick` job
at the engine's next wake-up (a fault due, a time limit, a hint), plus one small job that
notices a halt or resume at once. The wake-ups persist in the state database; the polls and
the halt watch are made anew at every start, so they live in memory: each firing of a job
stored in the database writes its next run time there, and at start-up twenty polls firing
at once queued those writes behind the ticks' own (the last team's first tick began ~1-2 s
after the first; issue 17, P1-daemon). Jobs coalesce and have a generous misfire grace, so a daemon restarted after downtime catches up
once. It can never fire a fault twice because the truth is the event log, not the job
store: every tick re-derives the team's state from the log, and injections and reverts are
crash-safe (see injector.py).

Teams are played independently: each has its own poll job and there is no round that waits
for every team, so a team whose forge hangs delays only itself (every git and HTTP call is
bounded, see repos.yaml `timeouts:`), and `health()` says which team has not been polled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.app.compose import (
    behaviour_runner,
    make_deploy_watcher,
    make_injector,
    make_pager,
    make_pager_source,
    make_watcher,
    team_adapters,
)
from bot.app.faults import plan_team
from bot.app.health import TeamPolls, health_report
from bot.app.paging import PagerPoller
from bot.app.paths import event_paths
from bot.app.schedule import SHUTDOWN_GRACE_SECONDS, drop_job, make_scheduler, shut_down
from bot.catalog.faults import Catalog
from bot.config import Config, TeamSettings
from bot.deploy.watch import DeployWatcher
from bot.errors import FaultbotError
from bot.game import events as ev
from bot.game.clock import Clock
from bot.game.engine import Act, Action, TeamView, decide
from bot.game.events import ALL_TEAMS, Kind
from bot.game.plan import TeamPlan, make_plan
from bot.game.timeline import fold
from bot.pager.pagerduty import IncidentSource
from bot.repo.injector import InjectionRefused, Injector
from bot.repo.watcher import TeamWatcher
from bot.store.eventlog import Store

if TYPE_CHECKING:
    from bot.web.webhooks import Delivery

log = logging.getLogger("faultbot.daemon")
_RUNNING: dict[str, Daemon] = {}
NOW = "now"  # the scheduler's in-memory job store
MAX_REFUSALS = 3  # a fault refused this often (already broken repo, blocked PR) is skipped


def _poll_job(key: str) -> None:
    """The one poll for all teams of earlier releases: a job store they wrote may still hold it."""


def _tick_job(key: str, team: str, source: str = "poll") -> None:
    """Module-level (like every job) so the persistent job store can reference it by name."""
    daemon = _RUNNING.get(key)
    if daemon is not None:
        daemon.tick(team, source)


def _controls_job(key: str) -> None:
    daemon = _RUNNING.get(key)
    if daemon is not None:
        daemon.watch_controls()


def is_halted(store: Store, team: str) -> bool:
    """The latest halt/resume said for this team or for everyone."""
    controls = [e for e in store.events(kinds=(Kind.HALT, Kind.RESUME)) if e.team in (team, ALL_TEAMS)]
    return bool(controls) and isinstance(controls[-1].facts, ev.Halt)


@dataclass
class TeamRuntime:
    """One team's adapters, plan and lock."""

    settings: TeamSettings
    injector: Injector
    watcher: TeamWatcher
    deploy: DeployWatcher
    plan: TeamPlan | None  # None until the team's repo could be read
    lock: threading.Lock
    dirty: bool = False
    reconciled: bool = False  # intents a crash left open were looked for on the remote
    last_polled_at: datetime | None = None  # the last tick that reached the team's forge
    last_poll_began: datetime | None = None  # ... began then
    polling_since: datetime | None = None  # a tick running now began then
    dirty_source: str = "poll"  # what asked for the look that has to wait for the running one
    pager: PagerPoller | None = None
    tick_at: datetime | None = None  # the wake-up this daemon last put in the job store (real time)
    seen_head: str | None = None  # the branch head this tick's refresh saw, until something is pushed


class Daemon:
    """Plays every team's game: refresh, decide, act, reschedule.

    `guard` runs before every write to a team's repository (the leadership lease's check; the
    store fences the daemon's events itself). `instrument` is handed each team's injector once
    built: the tests use it to observe or interrupt the injector's steps, the product never does.
    """

    def __init__(self, config: Config, config_path: Path, store: Store, catalog: Catalog, clock: Clock,
                 on_progress: Callable[[str, dict[str, Any]], None] | None = None,
                 pager_source: IncidentSource | None = None,
                 guard: Callable[[], None] | None = None,
                 instrument: Callable[[Injector], None] | None = None) -> None:
        self.config = config
        self.pager_source = pager_source  # the demo passes its own; otherwise built from repos.yaml
        self.config_path = config_path
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.key = str(config_path.resolve())
        self.on_progress = on_progress or (lambda kind, facts: None)
        self.guard = guard
        self.instrument = instrument or (lambda injector: None)
        self.teams: dict[str, TeamRuntime] = {}
        self.scheduler: BackgroundScheduler | None = None
        self.started_at: datetime | None = None
        self.running_since: datetime | None = None
        self.errors: dict[str, str] = {}
        self.web_url: str | None = None
        self.stopping = threading.Event()
        self._busy = threading.Condition()
        self._ticks_running = 0
        self._controls_seen: int | None = None
        self._diffs: dict[tuple[str, str], str] = {}

    # -- start ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Record the event's start (once) and build every team's adapters.

        Nothing here talks to a forge: each team is planned (and its crash-left intents
        reconciled) in its own first tick, so a forge that hangs at start-up delays only its team.
        """
        self.pager_source = self.pager_source or make_pager_source(self.config)
        for team in self.config.all_team_settings():
            # One cache, one GitHub client (and its rate-limit state) per team, shared by all three roles.
            shared = team_adapters(self.config, self.config_path, team, self.clock, self.guard)
            injector = make_injector(self.config, self.config_path, team, self.store, self.clock, shared)
            watcher = make_watcher(self.config, self.config_path, team, self.store, self.catalog, self.clock, shared)
            deploy = make_deploy_watcher(self.config, self.config_path, team, self.store, self.clock, shared)
            self.instrument(injector)
            self.teams[team.name] = TeamRuntime(team, injector, watcher, deploy, self._recorded_plan(team),
                                                threading.Lock(),
                                                pager=make_pager(team, self.pager_source, self.store, self.clock))
        # Recorded once everything could be built: a missing token leaves the event unstarted.
        started = self.store.last(ALL_TEAMS, kinds=(Kind.STARTED,))
        if started is None:
            started = self.store.append(ALL_TEAMS, ev.Started(), at=self.clock.now())
        self.started_at = started.at

    def _recorded_plan(self, team: TeamSettings) -> TeamPlan | None:
        recorded = self.store.last(team.name, kinds=(Kind.PLAN,))
        if recorded is not None and isinstance(recorded.facts, ev.PlanMade):  # a restart keeps its plan
            return TeamPlan.from_facts(team.name, recorded.facts)
        return None

    def _plan_or_none(self, team: TeamSettings, injector: Injector) -> TeamPlan | None:
        """The team's plan, or None (and the error shown in /healthz) if its repo cannot be read
        yet: one unreachable repo must not keep the other teams from starting."""
        try:
            plan = self._plan(team, injector)
        except FaultbotError as exc:
            self.errors[team.name] = exc.message
            log.error("cannot plan team yet", extra={"team": team.name, "error": exc.message})
            return None
        log.info("plan", extra={"team": team.name, "faults": list(plan.faults),
                                "first_delay_s": plan.first_delay.total_seconds()})
        return plan

    def _plan(self, team: TeamSettings, injector: Injector) -> TeamPlan:
        recorded = self._recorded_plan(team)
        if recorded is not None:
            return recorded
        with injector.cache.exclusive():
            injector.cache.sync(team.branch)
            entries = plan_team(self.catalog, team, injector.cache.path, injector.root, injector.kubernetes_version,
                                behaviour_runner(self.config, self.config_path)).entries
        applicable: dict[str, list[str]] = {}
        for entry in entries:
            if entry.applicable:
                applicable.setdefault(entry.family, []).append(entry.fault)
        plan = make_plan(team, applicable)
        self.store.append(team.name, plan.to_facts(), at=self.clock.now())
        return plan

    def start(self) -> None:
        """Start the scheduler: a poll job per team and the halt watch (in memory), wake-ups (stored)."""
        _RUNNING[self.key] = self
        self.running_since = self.clock.now()
        scheduler = make_scheduler(self.store.job_store(), len(self.teams))
        # "now": looks a webhook asked for; nothing to keep across a restart (the next poll looks anyway),
        # so they skip the database round trips and the store's wake-up delay.
        scheduler.add_jobstore(MemoryJobStore(), NOW)
        now = self.clock.to_real(self.clock.now())
        for name in self.teams:
            scheduler.add_job(_tick_job, "interval", seconds=self.poll_seconds(), args=[self.key, name],
                              id=f"poll:{name}", replace_existing=True, next_run_time=now, jobstore=NOW)
        # A halt is looked for a few times per poll interval: the kill switch waits on no poll.
        scheduler.add_job(_controls_job, "interval", seconds=min(1.0, max(0.2, self.poll_seconds() / 4)),
                          args=[self.key], id="controls", replace_existing=True, next_run_time=now, jobstore=NOW)
        scheduler.start(paused=True)  # paused: what earlier releases stored must not fire first
        for job_id in [j.id for j in scheduler.get_jobs(jobstore="default")]:
            # Their polls (one for all teams, or one per team) and halt watch, kept in the database.
            if job_id in ("poll", "controls") or job_id.startswith("poll:"):
                drop_job(scheduler, job_id, "default")
        scheduler.resume()
        self.scheduler = scheduler

    def poll_seconds(self) -> float:
        """The real seconds between two polls of a team (the clock may run fast in a demo)."""
        speed = getattr(self.clock, "speed", 1.0)
        return max(0.2, self.config.poll_interval.total_seconds() / speed)

    def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop cleanly, in an order that cannot deadlock (see bot.app.schedule): take no new
        work, let running ticks finish for at most `grace` seconds, then shut the scheduler
        down. Jobs stay in the store for the next start."""
        self.stopping.set()
        scheduler, self.scheduler = self.scheduler, None
        abandoned = 0
        if scheduler is not None:
            abandoned = shut_down(scheduler, self.wait_idle, event_paths(self.config, self.config_path).workdir, grace)
        for runtime in self.teams.values():
            runtime.deploy.close()
        if self.pager_source is not None:
            self.pager_source.close()
        _RUNNING.pop(self.key, None)
        log.info("stopped", extra={"abandoned_ticks": abandoned})

    def wait_idle(self, seconds: float) -> int:
        """Wait until no tick runs (or `seconds` pass); how many still run."""
        deadline = time.monotonic() + seconds
        with self._busy:
            while self._ticks_running and time.monotonic() < deadline:
                self._busy.wait(max(0.0, deadline - time.monotonic()))
            return self._ticks_running

    # -- the loop -------------------------------------------------------------------------

    def tick(self, name: str, source: str = "poll") -> None:
        """Refresh a team from its repo, decide, act, and schedule the next look.

        A tick asked for while one runs (a webhook during a poll) is not dropped: the
        running tick goes round once more, and what it finds is logged with the source that
        asked (`webhook:push`, not `poll`). One team's surprise never stops the others.
        """
        runtime = self.teams.get(name)
        if runtime is None or self.stopping.is_set():  # a team no longer in repos.yaml; or shutting down
            return
        if not runtime.lock.acquire(blocking=False):
            runtime.dirty, runtime.dirty_source = True, source
            return
        with self._busy:
            self._ticks_running += 1
        try:
            while True:
                runtime.dirty = False
                try:
                    self._tick(runtime, source)
                except Exception as exc:  # noqa: BLE001 - keep playing the other teams
                    self.errors[name] = f"{exc.__class__.__name__}: {exc}"
                    log.exception("tick failed", extra={"team": name})
                if not runtime.dirty or self.stopping.is_set():
                    break
                source = runtime.dirty_source
        finally:
            runtime.polling_since = None
            runtime.lock.release()
            with self._busy:
                self._ticks_running -= 1
                self._busy.notify_all()

    def watch_controls(self) -> None:
        """A halt or resume since the last look: look at the teams it names now, not at their
        next poll, so the kill switch reverts each team as soon as that team can be reached."""
        controls = self.store.events(kinds=(Kind.HALT, Kind.RESUME))
        latest = controls[-1].id if controls else 0
        if self._controls_seen is None or latest == self._controls_seen:
            self._controls_seen = latest
            return
        fresh = [e for e in controls if e.id > self._controls_seen]
        self._controls_seen = latest
        names = set(self.teams) if any(e.team == ALL_TEAMS for e in fresh) else {e.team for e in fresh}
        for name in sorted(names & set(self.teams)):
            self.request_tick(name, "control")

    def _tick(self, runtime: TeamRuntime, source: str = "poll") -> None:
        name = runtime.settings.name
        runtime.polling_since = self.clock.now()
        if not runtime.reconciled and not self._reconcile(runtime):
            return  # an intent may have landed: act on nothing until that is known
        if runtime.plan is None:
            runtime.plan = self._plan_or_none(runtime.settings, runtime.injector)  # unreadable at start
            if runtime.plan is None:
                return
        if self.stopping.is_set():  # shutting down: finish what runs, start nothing new
            return
        runtime.seen_head = None
        try:
            runtime.seen_head = runtime.watcher.refresh(source=source).head
            runtime.deploy.refresh()
            self.errors.pop(name, None)
            runtime.last_polled_at, runtime.last_poll_began = self.clock.now(), runtime.polling_since
        except FaultbotError as exc:  # retryable or not, the daemon stays up and tries again
            self.errors[name] = exc.message
            log.warning("refresh failed", extra={"team": name, "error": exc.message})
        if runtime.pager is not None:
            runtime.pager.refresh()  # never raises: PagerDuty's outages only make its data stale
        wakeup = None
        for _ in range(5):  # act until nothing more is due right now
            if self.stopping.is_set():
                return
            decision = decide(self._view(runtime), self.clock.now())
            acted = [a for a in decision.actions if self._act(runtime, a)]
            wakeup = decision.next_wakeup
            if not any(a.act in (Act.inject, Act.revert, Act.time_out, Act.start_clock, Act.recover_timeout)
                       for a in acted):
                break
        scheduler = self.scheduler
        if wakeup is not None and scheduler is not None and not self.stopping.is_set():
            real = self.clock.to_real(wakeup)
            # An idle poll finds the wake-up it scheduled last time, still ahead: the job store
            # (a database write per team per round) already holds it.
            if real != runtime.tick_at or real <= self.clock.to_real(self.clock.now()) + timedelta(seconds=1):
                scheduler.add_job(_tick_job, "date", run_date=real, args=[self.key, name],
                                  id=f"tick:{name}", replace_existing=True)
                runtime.tick_at = real

    def _reconcile(self, runtime: TeamRuntime) -> bool:
        """Record every fault whose intent reached the remote before a crash (once per start).

        Waits on the team's cache lock first, which a push left running by a killed faultbot
        still holds: the remote is looked at only once that push has its answer.
        """
        try:
            for recovered in runtime.injector.reconcile(self.catalog):
                self._said("recovered", team=runtime.settings.name, fault=recovered.fault, sha=recovered.sha)
        except FaultbotError as exc:
            self.errors[runtime.settings.name] = exc.message
            log.warning("reconcile failed", extra={"team": runtime.settings.name, "error": exc.message})
            return False
        runtime.reconciled = True
        return True

    def _view(self, runtime: TeamRuntime) -> TeamView:
        assert runtime.plan is not None
        instances = {i.fault: i for i in fold(self.store.events(runtime.settings.name))}
        hints = {f: self.catalog.get(f).hint_delays for f in instances if f in self.catalog.faults}
        assert self.started_at is not None
        argocd = self.config.argocd
        return TeamView(runtime.plan, self.started_at, instances, hints,
                        is_halted(self.store, runtime.settings.name), self.config.event.ends_at,
                        runtime.deploy.tracking,
                        ship_timeout=argocd.ship_timeout if argocd else None,
                        on_ship_timeout=argocd.on_ship_timeout if argocd else "start-clock",
                        recover_timeout=argocd.recover_timeout if argocd else None)

    def _act(self, runtime: TeamRuntime, action: Action) -> bool:
        team, fault = runtime.settings.name, self.catalog.get(action.fault)
        now = self.clock.now()
        try:
            if action.act is Act.schedule:
                self.store.append(team, ev.Scheduled(action.due), fault=fault.id, at=now)
            elif action.act is Act.inject:
                seen, runtime.seen_head = runtime.seen_head, None  # good for one push: ours moves the branch
                try:
                    # The engine decided it is due; the head just polled spares a fetch (the plan's clone has it).
                    result = runtime.injector.inject(fault, force=True, seen_head=seen)
                except InjectionRefused as exc:
                    self._refused(team, fault.id, exc.message, now)
                    raise
                self._said("injected", team=team, fault=fault.id, sha=result.sha, persona=result.persona)
            elif action.act is Act.revert:
                runtime.seen_head = None
                instance = next(i for i in fold(self.store.events(team)) if i.fault == fault.id)
                sha = runtime.injector.revert(fault, instance, action.reason)
                self._said("reverted", team=team, fault=fault.id, sha=sha, reason=action.reason)
            elif action.act is Act.start_clock:
                self.store.append(team, ev.ClockStarted(at=action.due, reason=action.reason), fault=fault.id, at=now)
            elif action.act is Act.recover_timeout:
                self.store.append(team, ev.RecoverTimedOut(at=action.due), fault=fault.id, at=now)
            elif action.act is Act.time_out:
                runtime.injector.close_without_revert(fault, action.reason)
                self._said("timed-out", team=team, fault=fault.id)
            elif action.act is Act.hint:
                index = action.hint_index or 0
                text = fault.spec.hints[index].text
                self.store.append(team, ev.Hint(index, text), fault=fault.id, at=now)
                self._said("hint", team=team, fault=fault.id, text=text)
        except FaultbotError as exc:
            self.errors[team] = exc.message
            log.error("action failed", extra={"team": team, "fault": fault.id, "act": action.act.value, "error": exc.message})
            return False
        return True

    def _refused(self, team: str, fault: str, reason: str, now: datetime) -> None:
        """Count a refused injection; after a few, skip the fault so the team's game goes on."""
        self.store.append(team, ev.Refused(reason), fault=fault, at=now)
        refusals = len(self.store.events(team, fault, (Kind.REFUSED,)))
        if refusals >= MAX_REFUSALS:
            self.store.append(team, ev.Skipped(reason, refusals), fault=fault, at=now)
            self._said("skipped", team=team, fault=fault, reason=reason)

    def _said(self, kind: str, **facts: Any) -> None:
        log.info(kind, extra=facts)
        self.on_progress(kind, facts)

    def request_tick(self, team: str, source: str = "request") -> None:
        """Look at a team now (a webhook said it changed, a halt came); runs on the scheduler's
        threads, and what the look finds is logged with `source`."""
        scheduler = self.scheduler
        if scheduler is not None and team in self.teams and not self.stopping.is_set():
            scheduler.add_job(_tick_job, args=[self.key, team, source], id=f"now:{team}", replace_existing=True,
                              jobstore=NOW)

    def delivered(self, delivery: Delivery) -> None:
        """A webhook delivery: the PR or CI run it carried is used as is; a push or PR means look now."""
        runtime = self.teams.get(delivery.team)
        if runtime is None:
            return
        source = f"webhook:{delivery.event}"
        if delivery.pull is not None:
            runtime.watcher.note_pull(delivery.pull)
        if delivery.ci is None:
            self.request_tick(delivery.team, source)
            return
        scheduler = self.scheduler
        if scheduler is not None and not self.stopping.is_set():
            sha, run = delivery.ci
            scheduler.add_job(runtime.deploy.record_ci, args=[sha, run, source], jobstore=NOW)

    # -- for the web side and the demo ----------------------------------------------------

    def health(self) -> dict[str, Any]:
        """For /healthz: per team, how long since it was last polled (see bot.app.health)."""
        scheduler = self.scheduler
        polls = [TeamPolls(name, r.last_polled_at, r.polling_since, r.last_poll_began) for name, r in self.teams.items()]
        return health_report(running=scheduler is not None and scheduler.running, teams=polls,
                             errors=dict(self.errors), now=self.clock.now(), running_since=self.running_since,
                             poll_interval=self.config.poll_interval)

    def fault_diff(self, team: str, fault: str) -> str | None:
        """The diff a fault pushed, from the team's cached clone (organizer view); None if unknown."""
        runtime = self.teams.get(team)
        landed = self.store.latest(team, ev.Landed, fault)
        if runtime is None or landed is None or not landed.parent:
            return None
        key = (team, landed.sha)
        if key not in self._diffs:
            try:
                self._diffs[key] = runtime.injector.cache.diff(landed.parent, landed.sha)
            except FaultbotError as exc:
                return f"(diff unavailable: {exc.message})"
        return self._diffs[key]

    def finished(self) -> bool:
        """Every team's plan is played out."""
        now = self.clock.now()
        return all(r.plan is not None and decide(self._view(r), now).finished for r in self.teams.values())


def wait_for(predicate: Callable[[], bool], stop: threading.Event, timeout: timedelta, step: float = 0.2) -> bool:
    """Block until predicate() holds, `stop` is set, or the timeout passes (a duration: a
    monotonic clock, which no change of the wall clock can stretch or cut short)."""
    deadline = time.monotonic() + timeout.total_seconds()
    while not stop.is_set() and time.monotonic() < deadline:
        if predicate():
            return True
        stop.wait(step)
    return predicate()
