"""P5: `faultbot validate` and `faultbot plan --json` for N teams over smart HTTP.

faultbot: the CLI, one process (`python -m bot validate --config repos.yaml`, then
          `python -m bot plan --json --config repos.yaml`): config, catalog, every team's
          repo reached and every fault of its scenario rehearsed on it.
baseline: what reading every team's tree costs with raw git: `git ls-remote` + a shallow
          clone (`--depth 1`) per team, 4 at a time (faultbot's team pool size).
Each faultbot command alternates with a baseline run. Every faultbot run is cold: the
behavioural verdicts the run before kept in the event's workdir are removed first (they made
every run after the first a warm one, so the median mixed cold and warm runs).

    PYTHONPATH=. .venv/bin/python bench/p5_validate_plan.py [--teams 20] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from bench.harness import (
    Row,
    TeamRemote,
    World,
    common_flags,
    faultbot,
    git,
    in_parallel,
    interleaved,
    machine_note,
    median,
    one_fault,
    open_world,
    report,
    scratch_dir,
    write_config,
)

SCENARIO = "{first_delay: 5m..15m}"  # every family of the catalog: what an organizer validates


def baseline_round(world: World, scratch: Path, run: int) -> float:
    """ls-remote + shallow clone per team, 4 at a time."""
    work = scratch / f"raw-{run}"

    def one(team: TeamRemote) -> None:
        git("ls-remote", team.url, "refs/heads/main")
        git("clone", "-q", "--depth", "1", "--branch", "main", team.url, str(work / team.name))

    start = time.perf_counter()
    in_parallel(one, world.teams)
    elapsed = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_flags(parser, teams=20)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.teams, args.runs = min(args.teams, 2), 1
    print(f"P5: validate / plan for {args.teams} teams over smart HTTP; {machine_note()}")
    with scratch_dir("p5", args.keep) as scratch, open_world(scratch, args.teams, partial_clone=args.partial_clone) as world:
        # --quick: one fault, so the smoke test stays cheap
        config = write_config(scratch / "event", world, world.teams, scenario=one_fault() if args.quick else SCENARIO)

        def cold() -> None:
            """Every run starts from a fresh state: no verdicts kept by the run before (the event's workdir)."""
            shutil.rmtree(config.parent / "cache", ignore_errors=True)

        def validate(_: int) -> float:
            cold()
            start = time.perf_counter()
            faultbot("validate", "--config", str(config), cwd=config.parent)
            return time.perf_counter() - start

        def plan(_: int) -> float:
            cold()
            start = time.perf_counter()
            out = faultbot("plan", "--json", "--config", str(config), cwd=config.parent).stdout
            elapsed = time.perf_counter() - start
            plans = json.loads(out)
            assert len(plans) == args.teams and all(any(e["applicable"] for e in v["faults"]) for v in plans.values()), out[:500]
            return elapsed

        baseline = lambda i: baseline_round(world, scratch, i)  # noqa: E731
        v_ours, v_theirs = interleaved(args.runs, validate, baseline)
        p_ours, p_theirs = interleaved(args.runs, plan, baseline)
    report(Row("P5-validate", f"`validate` for {args.teams} teams", median(v_ours), median(v_theirs), "s",
               "ls-remote+shallow clone per team, 4 parallel", "≤ 5", len(v_ours)))
    report(Row("P5-plan", f"`plan --json` for {args.teams} teams", median(p_ours), median(p_theirs), "s",
               "ls-remote+shallow clone per team, 4 parallel", "≤ 5", len(p_ours)))


if __name__ == "__main__":
    main()
