"""SIGTERM under a slow forge never deadlocks the daemon (issue 15 item 4).

The issue saw `faultbot run` hang on SIGTERM in 7 of 8 trials: a tick finishing under a slow
forge called `scheduler.add_job` while the main thread held APScheduler's job-store lock in
`shutdown(wait=True)`. Each trial here starts the real `faultbot run` in a process of its
own against a forge that answers every request after a delay, waits until a tick is inside
a git request, sends SIGTERM at a different moment of that tick, and expects a clean exit
(status 0, "stopped" logged); a deadlocked daemon is killed and the trial fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.outage_game import wait_until, write_config
from tests.gitrepos import make_team_repo
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import serve_git_http

SLOW = 0.6  # seconds the forge holds every request: a tick takes several of them
TRIALS = 8


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigterm_under_a_slow_forge_stops_cleanly(tmp_path: Path, trial: int) -> None:
    root = tmp_path / "forge"
    remotes = {name: make_team_repo(root / name, name) for name in ("team-a", "team-b")}
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        config = write_config(tmp_path, server, remotes, poll="1s", web=False)
        server.outage.hang(SLOW)  # every request, until the server stops
        env = {**os.environ, "GITHUB_TOKEN": BOT_TOKEN}
        log = tmp_path / "daemon.log"
        with log.open("wb") as sink:
            daemon = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            # Wait until ticks are well inside their git work, then hit a different moment each trial.
            assert wait_until(lambda: len(server.outage.served) >= 3, 30), log.read_text()
            time.sleep(SLOW * trial / TRIALS)
            daemon.send_signal(signal.SIGTERM)
            try:
                status = daemon.wait(timeout=40)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
                pytest.fail(f"SIGTERM did not stop the daemon (deadlock?); log:\n{log.read_text()[-3000:]}")
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    output = log.read_text()
    assert status == 0, output[-3000:]
    assert '"event": "stopped"' in output and "Traceback" not in output
