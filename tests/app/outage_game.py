"""A game of several teams served over smart HTTP, for making one team's forge misbehave.

Shared by the outage tests (tests/app/test_outage.py) and bench/bench_outage.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.app import daemon as daemon_module
from bot.app.control import run_daemon
from bot.app.daemon import Daemon
from bot.config import sqlite_url_for
from bot.game.events import Kind, Landed
from bot.store.eventlog import Store
from tests.gitrepos import TeamRepo, make_team_repo
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import GitHTTPServer, serve_git_http

SCENARIO = "{seed: 3, first_delay: 0s..1s, next_delay: 1h..2h, time_limit: 1h}"


def wait_until(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@dataclass
class Game:
    """The running daemon, its forge and store, and each team's remote."""

    server: GitHTTPServer
    config: Path
    remotes: dict[str, TeamRepo]
    store: Store
    stop: threading.Event
    thread: threading.Thread
    polls: dict[str, list[float]] = field(default_factory=dict)

    @property
    def daemon(self) -> Daemon:
        """The daemon object the thread runs (available once it started)."""
        return daemon_module._RUNNING[str(self.config.resolve())]

    def landed(self, team: str) -> list[str]:
        """The fault commits recorded as landed for `team`."""
        return [e.facts.sha for e in self.store.events(team, kinds=(Kind.LANDED,)) if isinstance(e.facts, Landed)]

    def hang(self, team: str, seconds: float = 60) -> None:
        """Make `team`'s forge stop answering (every request held `seconds`)."""
        self.server.outage.hang(seconds, only=f"/{team}/")

    def watch_polls(self, stop: threading.Event) -> threading.Thread:
        """Record, per team, the monotonic time each new poll of its forge was seen."""
        def run() -> None:
            seen: dict[str, str | None] = {}
            while not stop.is_set():
                running = daemon_module._RUNNING.get(str(self.config.resolve()))
                if running is None:  # the daemon thread has not registered yet
                    stop.wait(0.02)
                    continue
                for name, poll in running.health()["polls"].items():
                    stamp = poll["last_polled_at"]
                    if stamp and stamp != seen.get(name):
                        seen[name] = stamp
                        self.polls.setdefault(name, []).append(time.monotonic())
                stop.wait(0.02)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def write_config(tmp_path: Path, server: GitHTTPServer, remotes: dict[str, TeamRepo], poll: str = "1s",
                 web: bool = False, scenario: str = SCENARIO) -> Path:
    """repos.yaml for the teams, each at its smart-HTTP URL (bench/bench_resilience.py uses it too)."""
    lines = [
        "event: {name: Game day, state: sqlite:///state.db, workdir: cache}",
        f"poll_interval: {poll}",
        *(["web: {port: 0}"] if web else []),
        "defaults:",
        "  personas: [{name: Kenji Sato, email: k.sato@example.com}]",
        f"  scenario: {scenario}",
        "teams:",
    ]
    for name, remote in remotes.items():
        lines += [f"  - name: {name}", f"    url: {server.url_for_path(remote.bare)}"]
    config = tmp_path / "repos.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@contextmanager
def running_game(tmp_path: Path, teams: int = 3, poll: str = "1s", web: bool = False,
                 scenario: str = SCENARIO) -> Iterator[Game]:
    """Start the daemon over `teams` teams; on exit clear any outage and stop it (it must stop)."""
    root = tmp_path / "forge"
    names = [f"team-{chr(ord('a') + i)}" for i in range(teams)]
    remotes = {name: make_team_repo(root / name, name) for name in names}
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        config = write_config(tmp_path, server, remotes, poll, web, scenario)
        stop = threading.Event()
        thread = threading.Thread(target=run_daemon, args=(config,), daemon=True,
                                  kwargs={"stop": stop, "web": web, "timeout": timedelta(minutes=5)})
        thread.start()
        store = Store(sqlite_url_for(tmp_path / "state.db"))
        game = Game(server, config, remotes, store, stop, thread)
        try:
            if not wait_until(lambda: str(config.resolve()) in daemon_module._RUNNING, 30):
                raise AssertionError("the daemon did not start")
            yield game
        finally:
            server.outage.clear()
            stop.set()
            thread.join(timeout=30)
            store.close()
        if thread.is_alive():
            raise AssertionError("the daemon did not stop")
