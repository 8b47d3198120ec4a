"""P3: GitHub REST calls per team-hour while a fault is open and nothing changes.

The daemon (`bot.app.control.run_daemon`, in this process, on a game clock `--speed` times
faster than the wall, as `faultbot demo` runs it) plays N teams with `repo:` on the GitHub
REST double and `url:` over smart HTTP, one fault each, injected at start, time limit 3 h.
Once every fault has landed the teams do nothing for `--hours` of game time; the doubles
count every request they answer (tests/servers: github_api and git_http record requests).

faultbot: REST requests per team-hour (and those GitHub would charge: all but 304s);
baseline: what a watcher needs to notice nothing changed: one `git ls-remote` per poll,
          no REST call at all — measured the same way (its requests counted at the same servers).
The git requests per team-hour of both are printed too.

    PYTHONPATH=. .venv/bin/python bench/p3_rest_calls.py [--teams 4] [--hours 1] [--speed 120]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench.harness import (
    BASELINE_LOGIN,
    Row,
    common_flags,
    git,
    head_of,
    machine_note,
    one_fault,
    open_world,
    report,
    scratch_dir,
    wait_until,
    write_config,
)
from bot.app.control import run_daemon
from bot.game.clock import ScaledClock
from tests.servers.forge import BOT_TOKEN

POLL = "30s"  # the repos.yaml default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=4)
    parser.add_argument("--hours", type=float, default=1.0, help="game hours of nothing happening")
    parser.add_argument("--speed", type=float, default=120.0, help="game seconds per wall second")
    args = parser.parse_args()
    if args.quick:
        args.teams, args.hours, args.speed = 1, 0.1, 900.0
    print(f"P3: {args.teams} teams, {args.hours} game hours at x{args.speed:g}; {machine_note()}")
    with scratch_dir("p3", args.keep) as scratch, \
            open_world(scratch, args.teams, github=True, partial_clone=args.partial_clone) as world:
        assert world.github is not None
        config = write_config(scratch / "event", world, world.teams, scenario=one_fault(), poll=POLL, github=True)
        os.environ["GITHUB_TOKEN"] = BOT_TOKEN
        clock, stop = ScaledClock(args.speed), threading.Event()
        # A daemon thread: a stop that hangs (see harness.DaemonProcess.stop) must not keep this process alive.
        thread = threading.Thread(target=run_daemon, daemon=True, kwargs={
            "config_path": config, "stop": stop, "clock": clock, "web": False, "log_file": scratch / "daemon.log"})
        thread.start()
        try:
            def alive() -> None:
                if not thread.is_alive():
                    raise RuntimeError(f"the daemon stopped: {(scratch / 'daemon.log').read_text()[-3000:]}")

            wait_until(lambda: all(head_of(t.bare) != world.seed_sha for t in world.teams), 600, "every fault to land",
                       alive=alive)
            time.sleep(0.5 if args.quick else 2.0)  # the injecting round settles (its REST calls are not "nothing changes")
            rest_before, git_before, game_before = len(world.github.requests), ours_git(world), clock.now()
            time.sleep(args.hours * 3600 / args.speed)
            rest = world.github.requests
            game_hours = (clock.now() - game_before) / timedelta(hours=1)
            window = rest[rest_before:]
            git_window = ours_git(world) - git_before
        finally:
            stop.set()
            thread.join(timeout=1 if args.quick else 10)
            hung = thread.is_alive()
            if hung:
                print("  (the daemon did not stop when asked: the shutdown hang, see README)")
        per_team_hour = len(window) / (args.teams * game_hours)
        charged = sum(r.status != 304 for r in window) / (args.teams * game_hours)
        paths = Counter(re.sub(r"[0-9a-f]{40}", "{sha}", re.sub(r"team-\d+", "{team}", r.path)) for r in window)
        git_ours = git_window / (args.teams * game_hours)
        git_theirs, rest_theirs = baseline(world, scratch)
    polls = 3600 / 30
    print(f"  git requests per team-hour: faultbot {git_ours:.0f}, baseline {git_theirs * polls:.0f} "
          f"({git_theirs} per ls-remote x {polls:.0f} polls)")
    report(Row("P3-rest", "REST calls per team-hour while a fault is open and nothing changes", round(per_team_hour, 1),
               float(rest_theirs), "calls", "one ls-remote per poll (0 REST)", "0", 1,
               f"{charged:.1f} charged (non-304); {', '.join(f'{n} x {p}' for p, n in paths.most_common()) or 'no request'}; "
               f"git requests/team-hour {git_ours:.0f} vs {git_theirs * polls:.0f}"))
    if hung:  # its scheduler's worker threads would keep this process alive at exit (they are joined then)
        sys.stdout.flush()
        os._exit(0)


def ours_git(world: object) -> int:
    """Git requests made by faultbot (not by the baseline) so far."""
    return sum(r.user != BASELINE_LOGIN for r in world.git_http.requests)  # type: ignore[attr-defined]


def baseline(world: object, scratch: Path) -> tuple[int, int]:
    """One poll of the baseline: its git requests, and its REST requests (none, counted to be sure)."""
    team = world.teams[0]  # type: ignore[attr-defined]
    git_before = len(world.git_http.requests)  # type: ignore[attr-defined]
    rest_before = len(world.github.requests)  # type: ignore[attr-defined]
    git("ls-remote", team.url, "refs/heads/main")
    git_requests = len(world.git_http.requests) - git_before  # type: ignore[attr-defined]
    return git_requests, len(world.github.requests) - rest_before  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
