"""P5: the daemon at N teams — its memory, and one idle poll round (nothing changed anywhere).

`faultbot run` plays N teams over smart HTTP, nothing due for hours (first_delay 10h), so
every poll round is idle. Each team has its own poll job, all firing together; a round is
one firing for every team, from the earliest `last_poll_began_at` to the latest
`last_polled_at` of the teams (/healthz `polls`: the daemon's own observations, taken once
every team has been polled again); the first round is skipped (it follows start-up).
faultbot: the idle round; RSS (VmRSS of the process) after the rounds, and its peak (VmHWM);
baseline: N x `git ls-remote` at 4 parallel, run between the daemon's rounds.

    PYTHONPATH=. .venv/bin/python bench/p5_daemon.py [--teams 20] [--rounds 5] [--poll SECONDS]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

import httpx

from bench.harness import (
    DaemonProcess,
    Row,
    TeamRemote,
    common_flags,
    free_port,
    git,
    in_parallel,
    machine_note,
    median,
    one_fault,
    open_world,
    report,
    scratch_dir,
    wait_until,
    write_config,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", type=int, default=0, help="poll_interval in s (default: max(8, teams/5))")
    args = parser.parse_args()
    if args.quick:
        args.teams, args.rounds = min(args.teams, 2), 1
    poll = args.poll or max(8, args.teams // 5)  # room for a round and a baseline batch
    if args.quick:
        poll = 1
    print(f"P5: daemon with {args.teams} teams, poll {poll}s; {machine_note()}")
    with scratch_dir("p5d", args.keep) as scratch, open_world(scratch, args.teams, partial_clone=args.partial_clone) as world:
        port = free_port()
        scenario = one_fault("10h") if args.quick else "{first_delay: 10h..10h}"  # --quick: plan one fault only
        config = write_config(scratch / "event", world, world.teams, scenario=scenario,
                              poll=f"{poll}s", web_port=port)
        started = time.perf_counter()
        with DaemonProcess(config) as daemon, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            def health() -> dict[str, Any]:
                try:
                    return dict(client.get("/healthz").json())
                except httpx.TransportError:
                    return {}

            wait_until(lambda: bool(health().get("last_poll_at")), 1800, "the daemon's first poll", step=0.2,
                       alive=daemon.check_alive)
            ready = time.perf_counter() - started
            rounds, lines = measure(args.rounds, health, world.teams, poll, daemon)
            rss, peak = daemon.rss_mb()
    print(f"  ready (start-up + planning {args.teams} teams) in {ready:.1f}s; RSS {rss:.0f} MB, peak {peak:.0f} MB")
    report(Row("P5-daemon-round", f"daemon, {args.teams} teams: idle poll round", median(rounds), median(lines), "s",
               f"{args.teams} x ls-remote, 4 parallel", "≤ 1.5", len(rounds), f"RSS {rss:.0f} MB (peak {peak:.0f})"))
    report(Row("P5-daemon-rss", f"daemon, {args.teams} teams: RSS", round(rss, 1), None, "MB", "—",
               "≤ 150 MB at 500 teams", 1, f"peak {peak:.0f} MB; ready in {ready:.1f}s"))


def measure(rounds: int, health: Any, teams: list[TeamRemote], poll: int,
            daemon: DaemonProcess) -> tuple[list[float], list[float]]:
    """Per idle round: its duration, then one baseline batch of ls-remotes while the daemon waits."""
    ours: list[float] = []
    theirs: list[float] = []

    def polls() -> dict[str, dict[str, Any]]:
        return dict(health().get("polls") or {})

    def everyone_once() -> bool:  # the start-up round, skipped
        now = polls()
        return len(now) == len(teams) and all(p["last_polled_at"] for p in now.values())

    wait_until(everyone_once, poll * 3 + 60, "every team's first poll", step=0.1, alive=daemon.check_alive)
    seen = {team: poll_["last_polled_at"] for team, poll_ in polls().items()}
    while len(ours) < rounds:
        def everyone_again(last: dict[str, Any] = seen) -> bool:
            now = polls()
            return len(now) == len(teams) and all(p["last_polled_at"] not in (None, last.get(t)) for t, p in now.items())

        wait_until(everyone_again, poll * 3 + 60, "the next round", step=0.1, alive=daemon.check_alive)
        snapshot = polls()
        seen = {team: poll_["last_polled_at"] for team, poll_ in snapshot.items()}
        began = min(datetime.fromisoformat(p["last_poll_began_at"]).timestamp() for p in snapshot.values())
        ended = max(datetime.fromisoformat(p["last_polled_at"]).timestamp() for p in snapshot.values())
        ours.append(ended - began)
        start = time.perf_counter()
        in_parallel(lambda team: git("ls-remote", team.url, "refs/heads/main"), teams)
        theirs.append(time.perf_counter() - start)
        if any(p["last_polled_at"] != seen[t] for t, p in polls().items()):
            print("  (the next round began during the baseline: raise --poll)")
    return ours, theirs


if __name__ == "__main__":
    main()
