"""`faultbot validate` (online) for an event of N teams: what the organizer waits for at 7 a.m.

Baseline: teams one after another (bot.app.parallel.TEAM_WORKERS = 1), as faultbot first did.
Measured: the default worker count. Each run validates the same N local bare repos
(reachability + every applicable fault rehearsed per team). Prints medians and the ratio.

    .venv/bin/python bench/bench_validate.py [--teams 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import parallel
from bot.app.commands import run_validate
from bot.app.demo.game import ORG_ADMIN, write_config
from bot.app.faults import EXAMPLE_REPO
from bot.catalog.yamlread import _read as _parse_documents
from bot.repo.workspace import publish_directory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    default_workers = parallel.TEAM_WORKERS
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        teams = []
        for i in range(args.teams):
            bare = root / f"team-{i}.git"
            publish_directory(EXAMPLE_REPO, bare, ORG_ADMIN)
            teams.append((f"team-{i}", bare))
        config = write_config(root, teams, seed=1)

        def timed(workers: int) -> float:
            parallel.TEAM_WORKERS = workers
            _parse_documents.cache_clear()
            start = time.perf_counter()
            report = run_validate(config, offline=False)
            elapsed = time.perf_counter() - start
            assert report.ok, report.problems
            return elapsed

        baseline, measured = [], []
        for _ in range(args.runs):
            baseline.append(timed(1))
            measured.append(timed(default_workers))
    b, m = statistics.median(baseline), statistics.median(measured)
    print(f"teams: {args.teams}, runs: {args.runs}")
    print(f"baseline  one team at a time   median {b:.2f}s")
    print(f"measured  {default_workers} workers            median {m:.2f}s")
    print(f"ratio measured/baseline: {m / b:.2f}")


if __name__ == "__main__":
    main()
