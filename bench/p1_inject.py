"""P1: inject one fault into N teams over smart HTTP — the daemon's first round, and `faultbot inject` per team.

daemon   faultbot: `faultbot run` on a fresh event (one fault per team, due at once), timed from
                   launching the process until every team's branch on the forge has moved.
         baseline: clone + sed + commit + push per team, 4 at a time (the issue's baseline; the daemon runs a thread per team).
cli      faultbot: `faultbot inject --config repos.yaml TEAM FAULT`, one process per team, cold cache.
         baseline: clone + sed + commit + push for that team.
Each run resets every team's branch to the seed commit first; faultbot and baseline alternate
which goes first.

    PYTHONPATH=. .venv/bin/python bench/p1_inject.py [--teams 20] [--runs 3] [--cli-teams 6] [--mode both]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.harness import (
    FAULT,
    DaemonProcess,
    Row,
    World,
    common_flags,
    faultbot,
    head_of,
    in_parallel,
    interleaved,
    machine_note,
    median,
    one_fault,
    open_world,
    raw_inject,
    report,
    scratch_dir,
    wait_until,
    write_config,
)


def daemon_round(world: World, scratch: Path, run: int) -> float:
    """Launch the daemon on a fresh event; seconds until every team's fault has been pushed."""
    world.reset()
    config = write_config(scratch / f"daemon-{run}", world, world.teams, scenario=one_fault(), poll="1h")
    start = time.perf_counter()
    with DaemonProcess(config) as daemon:
        end = wait_until(lambda: all(head_of(t.bare) != world.seed_sha for t in world.teams), 600,
                         "every team's fault to land", step=0.05, alive=daemon.check_alive)
        # Let the round finish before SIGTERM: one arriving mid-tick hangs the daemon (see DaemonProcess.stop).
        wait_until(lambda: daemon.logged("injected") >= len(world.teams), 60, "the daemon's log", alive=daemon.check_alive)
        time.sleep(1.0)
    return end - start


def baseline_round(world: World, scratch: Path, run: int) -> float:
    """clone + sed + commit + push for every team, 4 at a time."""
    world.reset()
    work = scratch / f"raw-{run}"
    start = time.perf_counter()
    in_parallel(lambda team: raw_inject(team.url, work / team.name), world.teams)
    return time.perf_counter() - start


def cli_samples(world: World, scratch: Path, teams: int) -> tuple[list[float], list[float]]:
    """Per team: one `faultbot inject` process (cold cache) and one raw clone+sed+commit+push, alternating."""
    chosen = world.teams[:teams]
    config = write_config(scratch / "cli", world, chosen, scenario=one_fault())
    def ours(i: int) -> float:
        world.reset()
        start = time.perf_counter()
        faultbot("inject", "--config", str(config), chosen[i].name, FAULT, cwd=config.parent)
        elapsed = time.perf_counter() - start
        assert head_of(chosen[i].bare) != world.seed_sha, "faultbot inject pushed nothing"
        return elapsed

    def theirs(i: int) -> float:
        world.reset()
        start = time.perf_counter()
        raw_inject(chosen[i].url, scratch / "cli-raw" / chosen[i].name)
        return time.perf_counter() - start

    return interleaved(len(chosen), ours, theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=20)
    parser.add_argument("--runs", type=int, default=3, help="daemon rounds (each against a baseline round)")
    parser.add_argument("--cli-teams", type=int, default=6, help="teams injected one process each")
    parser.add_argument("--mode", choices=("both", "daemon", "cli"), default="both")
    args = parser.parse_args()
    if args.quick:
        args.teams, args.runs, args.cli_teams = min(args.teams, 2), 1, 1
    print(f"P1: {args.teams} teams over smart HTTP; {machine_note()}")
    with scratch_dir("p1", args.keep) as scratch, open_world(scratch, args.teams, partial_clone=args.partial_clone) as world:
        if args.mode in ("both", "daemon"):
            ours, theirs = interleaved(args.runs, lambda i: daemon_round(world, scratch, i),
                                       lambda i: baseline_round(world, scratch, i))
            report(Row("P1-daemon", f"inject one fault into {args.teams} teams, daemon (smart HTTP; raw git 4 at a time)",
                       median(ours), median(theirs), "s", "clone+sed+commit+push at 4 parallel", "≤ 1.3", len(ours),
                       "from launching `faultbot run` (start-up and planning included)"))
        if args.mode in ("both", "cli"):
            ours, theirs = cli_samples(world, scratch, min(args.cli_teams, args.teams))
            report(Row("P1-cli", "`faultbot inject` per team, one process each", median(ours), median(theirs), "s",
                       "clone+sed+commit+push, one team", "≤ 3", len(ours), "per team"))


if __name__ == "__main__":
    main()
