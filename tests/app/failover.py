"""One fail-over trial, for tests/app/test_failover.py and bench/bench_failover.py.

Two `faultbot run` processes on one state, each with its own config, git cache and port, as two
pods of the Deployment would be. The leader (tests/app/crashing_daemon.py) plays one team's fault
and SIGKILLs itself at a crash point; the standby (the product's own `python -m bot run`) is
waiting by then (a gate holds the kill until its /healthz says `standby`). The standby must take
over and play the fault out (time limit, bot revert). Then, on the team's remote and in the log:
every fault commit and revert once (no duplicate, none lost), every one of them recorded (no event
lost), and nothing written by the old leader once the new one led (no action taken by both).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bot.game import events as ev
from bot.game.events import ALL_TEAMS, Kind
from bot.game.timeline import State, fold
from bot.store.eventlog import Store
from tests.app.conftest import STATE_ENV
from tests.app.test_daemon import SELECTOR, fault_commits, game_config, start_daemon_process
from tests.gitrepos import git, make_team_repo

CRASH_POINTS = ["inject.before_commit", "inject.before_push", "inject.after_push", "revert.after_push"]
SCENARIO = f"{{faults: [{SELECTOR}], first_delay: 0s, time_limit: 2s, on_time_limit: revert}}"
WAIT_LIMIT_S = 120.0


@dataclass
class Trial:
    """What one trial measured and found."""

    phase: str
    takeover_s: float = 0.0  # from the kill to the standby holding the lease (its `daemon.leader` event)
    resumed_s: float = 0.0  # from the kill to the new leader's first event of the game itself
    duplicates: int = 0  # fault commits or reverts on the remote beyond one each
    lost: int = 0  # fault commits or reverts missing on the remote, or missing from the log
    both_acted: int = 0  # events of the old term written after the new term's first
    problems: list[str] = field(default_factory=list)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, predicate: object, limit: float = WAIT_LIMIT_S, *, alive: subprocess.Popen[bytes] | None = None,
             log: Path | None = None) -> None:
    """Poll `predicate` until it holds (a condition with a deadline; never a timed assertion)."""
    assert callable(predicate)
    deadline = time.monotonic() + limit
    while not predicate():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: the daemon exited ({alive.returncode}): "
                                 f"{log.read_text()[-3000:] if log else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit:.0f}s")
        time.sleep(0.05)


def health(port: int, field: str = "status") -> str | None:
    """A daemon's /healthz status (or another field of it), or None while it does not answer."""
    try:
        return str(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get(field))
    except httpx.HTTPError:
        return None


def run_trial(workdir: Path, state_url: str, phase: str) -> Trial:
    """Play one fail-over at `phase` in `workdir` on the (empty) state at `state_url`."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ[STATE_ENV] = state_url  # the configs of a PostgreSQL game name it in event.state_env
    remote = make_team_repo(workdir)
    ports = {"a": free_port(), "b": free_port()}
    configs = {who: game_config(workdir, {"team-a": remote}, SCENARIO, poll="1s", state_url=state_url,
                                filename=f"{who}.yaml", workdir=f"cache-{who}", port=ports[who]) for who in ports}
    gate, stamp = workdir / "gate", workdir / "killed-at"
    logs = {who: workdir / f"daemon-{who}.log" for who in ports}
    store = Store(state_url)
    leader = start_daemon_process(configs["a"], phase, log=logs["a"], gate=gate, stamp=stamp)
    standby = None
    try:
        wait_for("the first daemon leads", lambda: _leaders(store) == [1], alive=leader, log=logs["a"])
        standby = start_daemon_process(configs["b"], log=logs["b"])
        wait_for("the crash point is reached", gate.with_name("gate.reached").exists, alive=leader, log=logs["a"])
        wait_for("the second daemon stands by", lambda: health(ports["b"]) == "standby", alive=standby, log=logs["b"])
        # Still the leader; its status may be `stale`: its one team's tick is held at the crash point.
        assert health(ports["a"], "role") == "leader"
        gate.touch()
        assert leader.wait(timeout=WAIT_LIMIT_S) == -9
        killed_at = datetime.fromtimestamp(float(stamp.read_text()), timezone.utc)
        wait_for("the standby plays the fault out", lambda: _played_out(store), alive=standby, log=logs["b"])
        wait_for("the new leader answers ok", lambda: health(ports["b"]) == "ok", alive=standby, log=logs["b"])
        events = store.events()
    finally:
        for process in (leader, standby):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:  # e.g. held at the crash point's gate: nothing left to save
                    process.kill()
                    process.wait(timeout=60)
        store.close()
    return _judge(phase, events, fault_commits(remote), git(remote.bare, "rev-parse", "main"), killed_at)


def _leaders(store: Store) -> list[int]:
    return [e.facts.term for e in store.events(ALL_TEAMS, kinds=(Kind.LEADER,)) if isinstance(e.facts, ev.Leader)]


def _played_out(store: Store) -> bool:
    instances = fold(store.events("team-a"))
    return bool(instances) and instances[0].state is State.timed_out


def _judge(phase: str, events: list[ev.Event], commits: list[str], head: str, killed_at: datetime) -> Trial:
    trial = Trial(phase)
    faults = [c.split()[0] for c in commits if not c.split(" ", 1)[1].startswith("Revert")]
    reverts = [c.split()[0] for c in commits if c.split(" ", 1)[1].startswith("Revert")]
    trial.duplicates = max(0, len(faults) - 1) + max(0, len(reverts) - 1)
    trial.lost = (len(faults) == 0) + (len(reverts) == 0)
    team = [e for e in events if e.team == "team-a"]
    once = {Kind.PLAN: 1, Kind.LANDED: 1, Kind.TIMED_OUT: 1}
    for kind, count in once.items():
        found = sum(e.kind == kind for e in team)
        if found != count:
            trial.problems.append(f"{found} {kind} events, expected {count}")
            trial.duplicates += max(0, found - count)
            trial.lost += max(0, count - found)
    (instance,) = fold(team)
    if faults and instance.injected_sha != faults[0]:
        trial.lost += 1
        trial.problems.append(f"the log's fault commit {instance.injected_sha} is not the remote's {faults[0]}")
    if reverts and not (instance.fix_sha == reverts[0] == head):
        trial.lost += 1
        trial.problems.append(f"the log's revert {instance.fix_sha} is not the remote's {reverts[0]} (head {head})")
    new_leader = next((e for e in events if e.kind == Kind.LEADER and e.term == 2), None)
    if new_leader is None:
        trial.problems.append("the standby never took the lease")
        return trial
    trial.both_acted = sum(e.term == 1 and e.id > new_leader.id for e in events)
    trial.takeover_s = (new_leader.at - killed_at).total_seconds()
    resumed = next((e for e in events if e.term == 2 and e.team != ALL_TEAMS), None)
    trial.resumed_s = (resumed.at - killed_at).total_seconds() if resumed else float("nan")
    return trial


def main() -> None:  # pragma: no cover - for a person looking at one trial by hand
    """python -m tests.app.failover STATE_URL PHASE WORKDIR"""
    print(run_trial(Path(sys.argv[3]), sys.argv[1], sys.argv[2]))


if __name__ == "__main__":  # pragma: no cover
    main()
