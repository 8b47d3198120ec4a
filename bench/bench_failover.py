"""Fail-over, measured: two daemons on one state, the leader killed with SIGKILL at each crash point
(before commit, before push, after push, after the revert's push), `--trials` times each (5 by
default; the suite runs one per crash point, tests/app/test_failover.py, with the same trial).

For each store prints, over all kill points: take-over time (kill -> the standby holds the lease)
and resume time (kill -> the new leader's first event of the game), median and max; and the totals
of duplicated fault commits or reverts, of lost ones (on the remote or in the log), and of events
the old leader wrote after the new one led. The kill moment is stamped by the dying process
itself; the new leader's times are its own clock's, on the same machine.

    PYTHONPATH=. .venv/bin/python bench/bench_failover.py [--trials 5] [--stores postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.app.failover import CRASH_POINTS, Trial, run_trial
from tests.postgres import PostgresServer


def trials_on(store: str, server: PostgresServer | None, count: int, root: Path) -> list[Trial]:
    """`count` trials per crash point on a fresh state each."""
    done = []
    for phase in CRASH_POINTS:
        for number in range(count):
            workdir = root / store / f"{phase}-{number}"
            if server is None:
                trial = run_trial(workdir, f"sqlite:///{workdir / 'state.db'}", phase)
            else:
                with server.database() as url:
                    trial = run_trial(workdir, url, phase)
            done.append(trial)
            print(f"  {store} {phase} #{number + 1}: take-over {trial.takeover_s * 1000:.0f} ms, "
                  f"resumed {trial.resumed_s * 1000:.0f} ms, duplicates {trial.duplicates}, lost {trial.lost}, "
                  f"both {trial.both_acted}{' ' + '; '.join(trial.problems) if trial.problems else ''}", flush=True)
    return done


def report(store: str, trials: list[Trial]) -> None:
    """One line per store: medians, maxima and totals over every kill point."""
    takeover = [t.takeover_s * 1000 for t in trials]
    resumed = [t.resumed_s * 1000 for t in trials]
    print(f"{store}: {len(trials)} kills ({len(trials) // len(CRASH_POINTS)} per crash point); "
          f"take-over median {statistics.median(takeover):.0f} ms, max {max(takeover):.0f} ms; "
          f"resumed median {statistics.median(resumed):.0f} ms, max {max(resumed):.0f} ms; "
          f"duplicates {sum(t.duplicates for t in trials)}, lost {sum(t.lost for t in trials)}, "
          f"acted by both {sum(t.both_acted for t in trials)}, problems {sum(len(t.problems) for t in trials)}")


def main() -> None:
    """Run the trials and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5, help="kills per crash point and store")
    parser.add_argument("--stores", default="postgresql,sqlite")
    args = parser.parse_args()
    stores = args.stores.split(",")
    server = PostgresServer.start() if "postgresql" in stores else None
    results: dict[str, list[Trial]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="faultbot-failover-") as root:
            for store in stores:
                results[store] = trials_on(store, server if store == "postgresql" else None, args.trials, Path(root))
    finally:
        if server is not None:
            server.stop()
    for store, trials in results.items():
        report(store, trials)


if __name__ == "__main__":
    main()
