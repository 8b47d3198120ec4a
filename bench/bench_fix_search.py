"""Fix search while CI keeps bumping image tags: the cost of one poll after the branch moved.

A fault is injected, then the branch gets K automation commits (image-tag bumps) per round.
Each round is polled twice on the same history:
  baseline — a watcher with no memory (a full walk from the fault to the head, as faultbot
             first did on every move);
  measured — the long-lived watcher, which resumes its walk where the last poll stopped.
Prints the medians over the last rounds (the history is longest there) and their ratio.

    .venv/bin/python bench/bench_fix_search.py [--rounds 12] [--per-round 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bot.app.compose import make_injector, make_watcher, open_store
from bot.app.demo.game import ORG_ADMIN, write_config
from bot.app.faults import EXAMPLE_REPO
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.repo.workspace import publish_directory

FAULT = "web-unreachable/service-selector-typo"
BOT = ["-c", "user.name=github-actions[bot]", "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=10)
    args = parser.parse_args()
    catalog = Catalog.load()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        bare = root / "team-a.git"
        publish_directory(EXAMPLE_REPO, bare, ORG_ADMIN)
        config_path = write_config(root, [("team-a", bare)], seed=1)
        config, _ = load_config(config_path)
        store = open_store(config, config_path)
        team = config.team("team-a")
        make_injector(config, config_path, team, store).inject(catalog.get(FAULT))
        clone = root / "clone"
        git(root, "clone", "-q", bare.as_uri(), str(clone))
        live = make_watcher(config, config_path, team, store, catalog)
        live.refresh()
        baseline, measured, tag = [], [], 0
        for _ in range(args.rounds):
            for _ in range(args.per_round):
                tag += 1
                path = clone / "k8s" / "frontend.yaml"
                text = path.read_text()
                path.write_text(text.replace(f"chat-frontend:1.4.{tag + 1}" if tag > 1 else "chat-frontend:1.4.2",
                                             f"chat-frontend:1.4.{tag + 2}"))
                git(clone, *BOT, "commit", "-qam", f"chore(deploy): bump images to 1.4.{tag + 2}")
            git(clone, "push", "-q", "origin", "main")
            start = time.perf_counter()
            make_watcher(config, config_path, team, store, catalog).refresh(force=True)
            baseline.append(time.perf_counter() - start)
            start = time.perf_counter()
            live.refresh(force=True)
            measured.append(time.perf_counter() - start)
    tail = max(3, args.rounds // 3)
    b, m = statistics.median(baseline[-tail:]), statistics.median(measured[-tail:])
    print(f"rounds: {args.rounds} x {args.per_round} automation commits; medians of the last {tail} polls")
    print(f"baseline  full walk from the fault     median {b * 1000:.0f} ms  ({tag} commits deep at the end)")
    print(f"measured  resume where the last stopped median {m * 1000:.0f} ms")
    print(f"ratio measured/baseline: {m / b:.2f}")


if __name__ == "__main__":
    main()
