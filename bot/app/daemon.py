"""`faultbot run`: the daemon that plays the game for every team, unattended.

APScheduler 3 drives it with a persistent job store in the state database: a poll job
every `poll_interval`, and per team a one-shot `tick` job at the engine's next wake-up
(a fault due, a time limit, a hint). Jobs coalesce and have a generous misfire grace,
so a daemon restarted after downtime catches up once. It can never fire a fault twice
because the truth is the event log, not the job store: every tick re-derives the team's
state from the log, and injections and reverts are crash-safe (see injector.py).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.app.compose import (
    make_deploy_watcher,
    make_injector,
    make_pager,
    make_pager_source,
    make_watcher,
    team_adapters,
)
from bot.app.faults import plan_team
from bot.app.paging import PagerPoller
from bot.app.parallel import in_parallel
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

log = logging.getLogger("faultbot.daemon")
_RUNNING: dict[str, Daemon] = {}
MAX_REFUSALS = 3  # a fault refused this often (already broken repo, blocked PR) is skipped
CRASH_ENV = "FAULTBOT_CRASH_AT"  # test hook: kill -9 ourselves at a named phase (see tests/test_daemon.py)


def _poll_job(key: str) -> None:
    """Module-level so the persistent job store can reference it by name."""
    daemon = _RUNNING.get(key)
    if daemon is not None:
        daemon.poll_all()


def _tick_job(key: str, team: str, source: str = "poll") -> None:
    daemon = _RUNNING.get(key)
    if daemon is not None:
        daemon.tick(team, source)


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
    dirty_source: str = "poll"  # what asked for the look that has to wait for the running one
    pager: PagerPoller | None = None


class Daemon:
    """Plays every team's game: refresh, decide, act, reschedule."""

    def __init__(self, config: Config, config_path: Path, store: Store, catalog: Catalog, clock: Clock,
                 on_progress: Callable[[str, dict[str, Any]], None] | None = None,
                 pager_source: IncidentSource | None = None) -> None:
        self.config = config
        self.pager_source = pager_source  # the demo passes its own; otherwise built from repos.yaml
        self.config_path = config_path
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.key = str(config_path.resolve())
        self.on_progress = on_progress or (lambda kind, facts: None)
        self.teams: dict[str, TeamRuntime] = {}
        self.scheduler: BackgroundScheduler | None = None
        self.started_at: datetime | None = None
        self.last_poll_at: datetime | None = None
        self.errors: dict[str, str] = {}
        self.web_url: str | None = None
        self._diffs: dict[tuple[str, str], str] = {}

    # -- start ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Record the event's start (once), build every team's adapters and plan."""
        started = self.store.last(ALL_TEAMS, kinds=(Kind.STARTED,))
        if started is None:
            started = self.store.append(ALL_TEAMS, ev.Started(), at=self.clock.now())
        self.started_at = started.at
        teams = self.config.all_team_settings()
        # One cache, one GitHub client (and its rate-limit state) per team, shared by all three roles.
        adapters = [team_adapters(self.config, self.config_path, t, self.clock) for t in teams]
        injectors = [make_injector(self.config, self.config_path, t, self.store, self.clock, a)
                     for t, a in zip(teams, adapters, strict=True)]
        plans = in_parallel(lambda pair: self._plan_or_none(*pair), list(zip(teams, injectors, strict=True)))
        self.pager_source = self.pager_source or make_pager_source(self.config)
        for team, shared, injector, plan in zip(teams, adapters, injectors, plans, strict=True):
            watcher = make_watcher(self.config, self.config_path, team, self.store, self.catalog, self.clock, shared)
            deploy = make_deploy_watcher(self.config, self.config_path, team, self.store, self.clock, shared)
            self._install_crash_hook(injector)
            try:
                for recovered in injector.reconcile(self.catalog):  # intents a crash left between push and record
                    self._said("recovered", team=team.name, fault=recovered.fault, sha=recovered.sha)
            except FaultbotError as exc:
                self.errors[team.name] = exc.message  # the next inject reconciles it instead
            self.teams[team.name] = TeamRuntime(team, injector, watcher, deploy, plan, threading.Lock(),
                                                pager=make_pager(team, self.pager_source, self.store, self.clock))
            if plan is not None:
                log.info("plan", extra={"team": team.name, "faults": list(plan.faults),
                                        "first_delay_s": plan.first_delay.total_seconds()})

    def _plan_or_none(self, team: TeamSettings, injector: Injector) -> TeamPlan | None:
        """The team's plan, or None (and the error shown in /healthz) if its repo cannot be read
        yet: one unreachable repo must not keep the other teams from starting."""
        try:
            return self._plan(team, injector)
        except FaultbotError as exc:
            self.errors[team.name] = exc.message
            log.error("cannot plan team yet", extra={"team": team.name, "error": exc.message})
            return None

    def _plan(self, team: TeamSettings, injector: Injector) -> TeamPlan:
        recorded = self.store.last(team.name, kinds=(Kind.PLAN,))
        if recorded is not None and isinstance(recorded.facts, ev.PlanMade):  # a restart keeps its plan
            return TeamPlan.from_facts(team.name, recorded.facts)
        injector.cache.sync(team.branch)
        entries = plan_team(self.catalog, team, injector.cache.path, injector.root, injector.kubernetes_version).entries
        applicable: dict[str, list[str]] = {}
        for entry in entries:
            if entry.applicable:
                applicable.setdefault(entry.family, []).append(entry.fault)
        plan = make_plan(team, applicable)
        self.store.append(team.name, plan.to_facts(), at=self.clock.now())
        return plan

    def _install_crash_hook(self, injector: Injector) -> None:
        phase = os.environ.get(CRASH_ENV, "")
        if not phase:
            return
        def die(sha: str) -> None:
            log.warning("crash hook", extra={"phase": phase, "sha": sha})
            os.kill(os.getpid(), signal.SIGKILL)
        if phase == "inject.before_commit":
            injector.before_commit = die
        elif phase == "inject.before_push":
            injector.before_push = die
        elif phase == "inject.after_push":
            injector.after_push = die
        elif phase == "revert.after_push":
            injector.after_revert_push = die

    def start(self) -> None:
        """Start the scheduler (jobs persist in the state database)."""
        _RUNNING[self.key] = self
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=self.store.url, tablename="faultbot_jobs")},
            executors={"default": ThreadPoolExecutor(max(2, min(8, len(self.teams))))},
            job_defaults={"coalesce": True, "misfire_grace_time": 6 * 3600, "max_instances": 1},
            timezone="UTC",
        )
        interval = self.config.poll_interval.total_seconds()
        speed = getattr(self.clock, "speed", 1.0)
        scheduler.add_job(_poll_job, "interval", seconds=max(0.2, interval / speed), args=[self.key],
                          id="poll", replace_existing=True, next_run_time=self.clock.to_real(self.clock.now()))
        scheduler.start()
        self.scheduler = scheduler

    def stop(self) -> None:
        """Stop the scheduler; jobs stay in the store for the next start."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        for runtime in self.teams.values():
            runtime.deploy.close()
        if self.pager_source is not None:
            self.pager_source.close()
        _RUNNING.pop(self.key, None)

    # -- the loop -------------------------------------------------------------------------

    def poll_all(self) -> None:
        """One round over every team (a few at a time: each is mostly git and HTTP waits)."""
        self.last_poll_at = self.clock.now()
        # A fresh order each round: no team is always the last to be looked at.
        in_parallel(self.tick, random.sample(list(self.teams), len(self.teams)))

    def tick(self, name: str, source: str = "poll") -> None:
        """Refresh a team from its repo, decide, act, and schedule the next look.

        A tick asked for while one runs (a webhook during a poll) is not dropped: the
        running tick goes round once more, and what it finds is logged with the source that
        asked (`webhook:push`, not `poll`). One team's surprise never stops the others.
        """
        runtime = self.teams[name]
        if not runtime.lock.acquire(blocking=False):
            runtime.dirty, runtime.dirty_source = True, source
            return
        try:
            while True:
                runtime.dirty = False
                try:
                    self._tick(runtime, source)
                except Exception as exc:  # noqa: BLE001 - keep playing the other teams
                    self.errors[name] = f"{exc.__class__.__name__}: {exc}"
                    log.exception("tick failed", extra={"team": name})
                if not runtime.dirty:
                    break
                source = runtime.dirty_source
        finally:
            runtime.lock.release()

    def _tick(self, runtime: TeamRuntime, source: str = "poll") -> None:
        name = runtime.settings.name
        if runtime.plan is None:
            runtime.plan = self._plan_or_none(runtime.settings, runtime.injector)  # unreadable at start
            if runtime.plan is None:
                return
        try:
            runtime.watcher.refresh(source=source)
            runtime.deploy.refresh()
            self.errors.pop(name, None)
        except FaultbotError as exc:  # retryable or not, the daemon stays up and tries again
            self.errors[name] = exc.message
            log.warning("refresh failed", extra={"team": name, "error": exc.message})
        if runtime.pager is not None:
            runtime.pager.refresh()  # never raises: PagerDuty's outages only make its data stale
        wakeup = None
        for _ in range(5):  # act until nothing more is due right now
            decision = decide(self._view(runtime), self.clock.now())
            acted = [a for a in decision.actions if self._act(runtime, a)]
            wakeup = decision.next_wakeup
            if not any(a.act in (Act.inject, Act.revert, Act.time_out, Act.start_clock, Act.recover_timeout)
                       for a in acted):
                break
        if wakeup is not None and self.scheduler is not None:
            real = self.clock.to_real(wakeup)
            self.scheduler.add_job(_tick_job, "date", run_date=real, args=[self.key, name],
                                   id=f"tick:{name}", replace_existing=True)

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
                try:
                    result = runtime.injector.inject(fault, force=True)  # the engine decided it is due
                except InjectionRefused as exc:
                    self._refused(team, fault.id, exc.message, now)
                    raise
                self._said("injected", team=team, fault=fault.id, sha=result.sha, persona=result.persona)
            elif action.act is Act.revert:
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
        """Look at a team now (a webhook said it changed); runs on the scheduler's threads,
        and what the look finds is logged with `source`."""
        if self.scheduler is not None and team in self.teams:
            self.scheduler.add_job(_tick_job, args=[self.key, team, source], id=f"now:{team}", replace_existing=True)

    # -- for the web side and the demo ----------------------------------------------------

    def health(self) -> dict[str, Any]:
        """For /healthz."""
        running = self.scheduler is not None and self.scheduler.running
        return {"status": "ok" if running else "stopped", "teams": len(self.teams),
                "last_poll_at": self.last_poll_at.isoformat() if self.last_poll_at else None,
                "errors": dict(self.errors)}

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
