"""One team's forge hangs: do the other teams notice? (issue 15 item 1)

Runs the real daemon over N teams served by the smart-HTTP test double and measures, for the
healthy teams:
- the poll round time (median seconds between two completed polls of a team), first with
  every forge answering, then while team-a's forge holds every request;
- the halt latency: from the halt being recorded to each healthy team's fault being reverted
  (both read from the event log), while team-a's forge still hangs.
Goals: the round time unchanged (ratio ~1.0), the halt latency within one poll interval.

    .venv/bin/python bench/bench_outage.py [--teams 4] [--poll 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the forge doubles live in tests/

from bot.app.cli import main as cli  # noqa: E402
from bot.game.events import Halt, Halted, Kind  # noqa: E402
from tests.app.outage_game import Game, running_game, wait_until  # noqa: E402
from tests.servers.forge import BOT_TOKEN  # noqa: E402


def _median_gap(stamps: list[float]) -> float:
    gaps = [b - a for a, b in pairwise(stamps)]
    return statistics.median(gaps) if gaps else float("nan")


def _round_times(game: Game, healthy: list[str], seconds: float) -> dict[str, float]:
    """Median poll interval of each healthy team over the next `seconds`."""
    start = {t: len(game.polls.get(t, [])) for t in healthy}
    time.sleep(seconds)
    return {t: _median_gap(game.polls.get(t, [])[start[t]:]) for t in healthy}


def _halt_latencies(game: Game, healthy: list[str]) -> dict[str, float]:
    assert cli(["halt", "--config", str(game.config)]) == 0
    def all_halted() -> bool:
        return all(game.store.events(t, kinds=(Kind.HALTED,)) for t in healthy)
    assert wait_until(all_halted, 60), "healthy teams were not reverted"
    halt = next(e for e in game.store.events(kinds=(Kind.HALT,)) if isinstance(e.facts, Halt))
    latencies = {}
    for team in healthy:
        halted = next(e for e in game.store.events(team, kinds=(Kind.HALTED,)) if isinstance(e.facts, Halted))
        latencies[team] = (halted.at - halt.at).total_seconds()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=4)
    parser.add_argument("--poll", type=int, default=2, help="poll_interval in seconds")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each phase is watched")
    args = parser.parse_args()
    os.environ["GITHUB_TOKEN"] = BOT_TOKEN
    with tempfile.TemporaryDirectory() as scratch, \
            running_game(Path(scratch), teams=args.teams, poll=f"{args.poll}s") as game:
        names = list(game.remotes)
        healthy = names[1:]
        watching = threading.Event()
        game.watch_polls(watching)
        assert wait_until(lambda: all(game.landed(t) for t in names), 60), "faults did not land"
        before = _round_times(game, healthy, args.seconds)
        game.hang("team-a", seconds=120)
        assert wait_until(lambda: bool(game.server.outage.served), 30)
        during = _round_times(game, healthy, args.seconds)
        latencies = _halt_latencies(game, healthy)
        watching.set()
    print(f"{args.teams} teams, poll_interval {args.poll}s, team-a's forge holding every request (120 s)")
    print(f"{'team':<8} {'round, all answer':>18} {'round, team-a hung':>19} {'ratio':>6} {'halt -> reverted':>17}")
    for team in healthy:
        ratio = during[team] / before[team]
        print(f"{team:<8} {before[team]:>17.2f}s {during[team]:>18.2f}s {ratio:>6.2f} {latencies[team]:>16.2f}s")
    worst = max(latencies.values())
    print(f"median round ratio {statistics.median(during[t] / before[t] for t in healthy):.2f}; "
          f"worst halt latency {worst:.2f}s = {worst / args.poll:.2f} poll intervals")


if __name__ == "__main__":
    main()
