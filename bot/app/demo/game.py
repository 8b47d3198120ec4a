"""`faultbot demo`: a complete local rehearsal that needs no account (the game).

It stands up N team repositories from examples/chat-app as real bare git repos, writes
the repos.yaml an organizer would, validates it, then runs the real daemon on them with
a compressed clock (`--speed`: game minutes per wall second) while simulated responders
play the teams the way people do:
- one reverts the bad commit,
- one applies the fault's reference forward fix,
- one fixes on a branch and merges it (a merge commit, as a PR merge would make),
- one never finds it, so faultbot reverts it at the time limit.
Simulated monitoring opens a PagerDuty incident a minute after each fault lands; the
team's responder acknowledges it, writes a note and posts a status update before fixing,
so the scoreboard shows MTTA. Hints reach the teams (and every event the organizers)
through the daemon's real notification path, into a local inbox the demo prints from.
It ends with a scoreboard and written reports (Markdown, JSON, CSV, HTML, PNG timelines).

The responders learn that a fault landed from the bot's event log: that stands in for
monitoring. The PagerDuty here is the demo's in-process one (see `pager.py` for why);
everything else (commits, pushes, detection, timing, notification delivery) is real.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app.commands import run_validate
from bot.app.control import run_daemon
from bot.app.demo.inbox import DemoInbox
from bot.app.demo.pager import DemoPagerDuty
from bot.app.faults import EXAMPLE_REPO
from bot.app.validation import ValidationReport
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog
from bot.catalog.rehearsal import apply_fix, fitting_fixes, rehearse
from bot.config import load_config, sqlite_url_for
from bot.errors import FaultbotError
from bot.game.clock import ScaledClock
from bot.game.events import Kind, Landed
from bot.game.scoring import TeamScore, rules_from, scoreboard
from bot.game.timeline import FaultInstance, fold
from bot.repo.workspace import Author, LocalRepo, apply_patch, publish_directory, run_git
from bot.store.eventlog import Store
from bot.web.report import ReportPaths, write_reports

ORG_ADMIN = Author("Org Admin", "admin@example.com")
TEAM_NAMES = ("team-a", "team-b", "team-c", "team-d", "team-e", "team-f", "team-g", "team-h")
STYLES = ("revert", "forward", "branch", "miss")
PEOPLE = (Author("Ana Ruiz", "ana@team.example"), Author("Ben Okafor", "ben@team.example"),
          Author("Chen Wei", "chen@team.example"), Author("Dina Kowalski", "dina@team.example"))
MARKER = ".faultbot-demo"
DEMO_PAGER_TOKEN_ENV = "FAULTBOT_DEMO_PAGERDUTY_TOKEN"


@dataclass
class DemoResult:
    """What the demo built, played and wrote."""

    workdir: Path
    config_path: Path
    validation: ValidationReport
    instances: list[FaultInstance] = field(default_factory=list)
    board: list[TeamScore] = field(default_factory=list)
    reports: ReportPaths | None = None
    notices: list[dict[str, Any]] = field(default_factory=list)


def service_id(team: str) -> str:
    """The demo PagerDuty service of a team."""
    return f"PDEMO-{team}"


def write_config(workdir: Path, teams: list[tuple[str, Path]], seed: int, inbox: DemoInbox | None = None) -> Path:
    """The repos.yaml an organizer would write for these local teams (durations in game time)."""
    lines = [
        "# Written by `faultbot demo`: local bare repositories, no accounts.",
        "# PagerDuty and the notification inbox are the demo's own local stand-ins (bot/app/demo/):",
        "# `faultbot run` on this file would need a real PagerDuty and its token.",
        "event: {name: faultbot demo, state: sqlite:///state.db, workdir: cache}",
        "poll_interval: 20s",
        f"pagerduty: {{api_url: 'https://pagerduty.demo.invalid', token_env: {DEMO_PAGER_TOKEN_ENV}}}",
        "scoring: {acknowledge_within: 5m, acknowledge_points: 10, status_update_within: 10m, status_update_points: 5}",
        "defaults:",
        "  personas:",
        "    - {name: Kenji Sato, email: k.sato@example.com}",
        "    - {name: Maria Lopez, email: m.lopez@example.com}",
        f"  scenario: {{seed: {seed}, first_delay: 1m..3m, next_delay: 1m..2m, time_limit: 12m}}",
        "teams:",
    ]
    if inbox is not None:
        lines[5:5] = ["notify:", f"  organizer: {{webhook_url: '{inbox.url('organizers')}'}}"]
    for name, bare in teams:
        lines += [f"  - name: {name}", f"    url: {bare.as_uri()}", f"    pagerduty_service: {service_id(name)}"]
        if inbox is not None:
            lines.append(f"    notify: {{webhook_url: '{inbox.url(name)}'}}")
    path = workdir / "repos.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Responder(threading.Thread):
    """A simulated team: notices each fault, investigates for a while, then fixes it its way."""

    def __init__(self, team: str, style: str, bare: Path, store_url: str, catalog: Catalog,
                 clock: ScaledClock, workdir: Path, stop: threading.Event,
                 say: Callable[[str, dict[str, Any]], None], seed: int, pager: DemoPagerDuty) -> None:
        super().__init__(name=f"responder-{team}", daemon=True)
        self.team, self.style, self.bare, self.catalog, self.clock = team, style, bare, catalog, clock
        self.pager = pager
        self.store = Store(store_url)
        self.stop_event, self.say = stop, say
        self.person = PEOPLE[STYLES.index(style) % len(PEOPLE)]
        self.rng = random.Random(f"{seed}/{team}/responder")
        self.clone = LocalRepo(workdir / "people" / team)
        run_git(["clone", "-q", bare.as_uri(), str(self.clone.path)])
        self.handled: set[str] = set()
        self._fixes: dict[str, Any] = {}

    def run(self) -> None:
        while not self.stop_event.wait(0.1):
            for event in self.store.events(self.team, kinds=(Kind.LANDED,)):
                fault = str(event.fault)
                assert isinstance(event.facts, Landed)
                if fault in self.handled:
                    continue
                self.handled.add(fault)
                incident = self.respond()
                if incident is None:
                    return
                if self.style == "miss":
                    continue
                minutes = self.rng.uniform(0, 3) if self.style != "forward" else self.rng.uniform(2, 6)
                if self.wait_game(minutes):
                    return
                try:
                    self.fix(fault, event.facts.sha)
                except FaultbotError as exc:  # a person would try again; the demo just says so
                    self.say("responder-error", {"team": self.team, "fault": fault, "error": exc.message})
                    continue
                self.pager.resolve(incident, self.person.name, self.clock.now())

    def wait_game(self, minutes: float) -> bool:
        """Wait some game minutes; True if the demo is stopping."""
        return self.stop_event.wait(minutes * 60 / self.clock.speed)

    def respond(self) -> str | None:
        """Monitoring pages the team; the responder acknowledges, takes notes and tells users."""
        if self.wait_game(1):
            return None
        incident = self.pager.trigger(service_id(self.team), self.clock.now())
        if self.wait_game(self.rng.uniform(0.5, 4)):
            return None
        self.pager.acknowledge(incident, self.person.name, self.clock.now())
        self.pager.write(incident, "note", self.person.name, "Looking at what changed in the last deploy",
                         self.clock.now())
        if self.wait_game(self.rng.uniform(0.5, 2)):
            return None
        self.pager.write(incident, "status_update", self.person.name,
                         "We are investigating errors on the chat service", self.clock.now())
        return incident

    def _forward_fix(self, fault: Any, tree: Path, binding: RoleBinding, variant: str) -> Any:
        """A forward fix that is not the revert on the example repo (rehearsed once per fault)."""
        if fault.id not in self._fixes:
            proven = rehearse(fault, EXAMPLE_REPO, apply_patch=apply_patch).forward_fix()
            self._fixes[fault.id] = proven or fitting_fixes(fault, tree, binding, variant, apply_patch=apply_patch)[0]
        return self._fixes[fault.id]

    def fix(self, fault_id: str, sha: str) -> None:
        repo = self.clone
        repo.git("fetch", "-q", "origin")
        repo.git("checkout", "-q", "-B", "main", "origin/main")
        if self.style == "revert":
            repo.revert(sha, self.person)
        elif self.style in ("forward", "branch"):
            if self.style == "branch":
                repo.git("checkout", "-q", "-b", f"fix/{fault_id.split('/')[1]}")
            fault = self.catalog.get(fault_id)
            instance = next(i for i in fold(self.store.events(self.team)) if i.fault == fault_id)
            binding = RoleBinding.from_json(instance.binding)
            fix = self._forward_fix(fault, repo.path, binding, instance.variant)
            apply_fix(fault, fix, repo.path, binding, apply_patch=apply_patch)
            repo.commit_all(fix.message or fix.name, self.person)
            if self.style == "branch":
                branch = repo.git("rev-parse", "--abbrev-ref", "HEAD").strip()
                repo.git("checkout", "-q", "main")
                repo.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch, env=self.person.env())
        repo.git("push", "-q", "origin", "HEAD:main")
        self.say("team-fix", {"team": self.team, "fault": fault_id, "style": self.style, "by": self.person.name})


def prepare_workdir(workdir: Path | None) -> Path:
    """A fresh folder for the demo; a folder a previous demo made is cleaned and reused."""
    root = (workdir or Path(tempfile.mkdtemp(prefix="faultbot-demo-"))).resolve()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise FaultbotError(f"{root} is not empty and was not made by `faultbot demo`; pick another --workdir")
        for child in root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by faultbot demo\n", encoding="utf-8")
    return root


def run_demo(team_count: int, workdir: Path | None, *, speed: float = 60.0, seed: int = 2026,
             say: Callable[[str, dict[str, Any]], None] | None = None,
             timeout: timedelta = timedelta(minutes=5)) -> DemoResult:
    """Build the teams' repos, validate, play the whole game, score it and write the reports."""
    if not 1 <= team_count <= len(TEAM_NAMES):
        raise FaultbotError(f"--teams must be between 1 and {len(TEAM_NAMES)}")
    if speed <= 0:
        raise FaultbotError("--speed must be positive")
    say = say or (lambda kind, facts: None)
    root = prepare_workdir(workdir)
    teams = []
    for name in TEAM_NAMES[:team_count]:
        bare = root / "remotes" / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        publish_directory(EXAMPLE_REPO, bare, ORG_ADMIN)
        teams.append((name, bare))
    inbox = DemoInbox(lambda notice: say("delivered", notice)).start()
    try:
        return _play(root, teams, seed, speed, say, timeout, inbox)
    finally:
        inbox.stop()


def _play(root: Path, teams: list[tuple[str, Path]], seed: int, speed: float,
          say: Callable[[str, dict[str, Any]], None], timeout: timedelta, inbox: DemoInbox) -> DemoResult:
    config_path = write_config(root, teams, seed, inbox)
    # validate wants the token the file names; the demo's pager is in-process and reads none.
    os.environ.setdefault(DEMO_PAGER_TOKEN_ENV, "demo")
    validation = run_validate(config_path, offline=False)
    result = DemoResult(root, config_path, validation)
    if not validation.ok:
        return result
    say("validated", {"teams": len(teams)})
    pager = DemoPagerDuty()
    catalog = Catalog.load()
    clock = ScaledClock(speed)
    stop = threading.Event()
    store_url = sqlite_url_for(root / "state.db")
    Store(store_url).close()  # the schema exists before the responders read it
    responders = [
        Responder(name, STYLES[i % len(STYLES)], bare, store_url, catalog, clock, root, stop, say, seed, pager)
        for i, (name, bare) in enumerate(teams)
    ]
    for responder in responders:
        responder.start()
    try:
        run_daemon(config_path, stop=stop, clock=clock, web=False, until_finished=True, timeout=timeout,
                   on_progress=say, log_file=root / "daemon.log", pager_source=pager)
    finally:
        stop.set()
        for responder in responders:
            responder.join(timeout=10)
    store = Store(store_url)
    result.instances = fold(store.events())
    store.close()
    config, _ = load_config(config_path)
    rules = rules_from(config.scoring)
    result.board = scoreboard(result.instances, rules)
    result.reports = write_reports(result.instances, root / "report", "faultbot demo", clock.now(), rules)
    result.notices = list(inbox.delivered)
    return result
