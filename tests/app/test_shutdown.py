"""SIGTERM under a slow forge never deadlocks the daemon (issue 15 item 4).

The issue saw `faultbot run` hang on SIGTERM in 7 of 8 trials: a tick finishing under a slow
forge called `scheduler.add_job` while the main thread held APScheduler's job-store lock in
`shutdown(wait=True)`. Each trial here starts the real `faultbot run` in a process of its
own against a forge that answers every request after a delay, waits until its ticks are inside
their git requests, sends SIGTERM at a different moment of a tick, and expects a clean exit
(status 0, "stopped" logged, no traceback); a deadlocked daemon is killed and the trial fails.
Eight trials, two at a time (each mostly waits on its forge). Against main, 4 of 4 deadlocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.outage_game import wait_until, write_config
from tests.gitrepos import make_team_repo
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import GitHTTPServer, serve_git_http

SLOW = 0.6  # seconds the forge holds every request: a tick takes several of them
TRIALS = 8
AT_ONCE = 2


@dataclass
class Trial:
    """One daemon, its slow forge, and how it ended."""

    number: int
    root: Path
    status: int | None = None
    problem: str = ""

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    def run(self, server: GitHTTPServer) -> None:
        env = {**os.environ, "GITHUB_TOKEN": BOT_TOKEN}
        with self.log.open("wb") as sink:
            daemon = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(self.root / "repos.yaml")],
                                      env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            # Ticks well inside their git work, then a different moment of it for each trial.
            if not wait_until(lambda: len(server.outage.served) >= 3, 60):
                self.problem = "the daemon never reached its forge"
                return
            time.sleep(SLOW * self.number / TRIALS)
            daemon.send_signal(signal.SIGTERM)
            try:
                self.status = daemon.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.problem = "SIGTERM did not stop the daemon (deadlock?)"
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()


def _trial(tmp_path: Path, number: int) -> Trial:
    trial = Trial(number, tmp_path / f"trial-{number}")
    root = trial.root / "forge"
    remotes = {name: make_team_repo(root / name, name) for name in ("team-a", "team-b")}
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        write_config(trial.root, server, remotes, poll="1s", web=True)  # port 0: trials run side by side
        server.outage.hang(SLOW)  # every request, until the server stops
        trial.run(server)
    return trial


@pytest.mark.parametrize("batch", range(TRIALS // AT_ONCE))
def test_sigterm_under_a_slow_forge_stops_cleanly(tmp_path: Path, batch: int) -> None:
    trials: list[Trial] = []
    numbers = range(batch * AT_ONCE, (batch + 1) * AT_ONCE)
    threads = [threading.Thread(target=lambda n=n: trials.append(_trial(tmp_path, n))) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(trials) == AT_ONCE, "a trial did not finish"
    for trial in sorted(trials, key=lambda t: t.number):
        output = trial.log.read_text(encoding="utf-8")
        assert not trial.problem, f"trial {trial.number}: {trial.problem}\n{output[-3000:]}"
        assert trial.status == 0, f"trial {trial.number}:\n{output[-3000:]}"
        assert '"event": "stopped"' in output and "Traceback" not in output, output[-3000:]
