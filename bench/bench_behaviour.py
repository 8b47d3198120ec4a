"""Behavioural checks: what one judgement costs per commit, and what the verdict cache saves.

1. Per kind (tests, acceptance, browser): the median time of one check on one commit, each
   commit a different tree (a comment changed in the component, so nothing is cached), with
   the sandbox warm (chromium already up); the first, cold run is printed apart.
2. A daemon poll: an app-bug fault is injected, the team pushes image-tag bumps and a fix;
   a watcher with no memory re-judges the history (a poll after a restart, or after the
   branch moved under it). Measured with an empty verdict cache each time (baseline) and
   with the cache the first poll filled (measured). Prints medians and their ratio.

    .venv/bin/python bench/bench_behaviour.py [--runs 5] [--polls 5] [--bumps 6]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pydantic import TypeAdapter

from bot.app.compose import make_injector, make_watcher, open_store
from bot.app.demo.game import ORG_ADMIN, write_config
from bot.app.faults import EXAMPLE_REPO
from bot.catalog.checks import CheckContext, RoleBinding, evaluate_one
from bot.catalog.faults import Catalog
from bot.catalog.faultspec import Check
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.config import load_config
from bot.repo.workspace import publish_directory
from bot.sandbox.runner import Sandbox
from bot.sandbox.verdicts import CachedRunner, VerdictCache

FAULT = "app-bug/pagination-skips-messages"
ACCEPTANCE = "app-bug/messages-stored-escaped"
KINDS = {
    "tests": ({"check": "tests"}, "backend/chat/app.py", "#"),
    "acceptance": ({"check": "acceptance", "file": "acceptance_test.py"}, "backend/chat/app.py", "#"),
    "browser": ({"check": "browser"}, "frontend/app.js", "//"),
}
BOT = ["-c", "user.name=github-actions[bot]", "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com"]
TEAM = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def per_kind(runs: int, root: Path) -> None:
    catalog = Catalog.load()
    sandbox = Sandbox()
    tree = root / "tree"
    shutil.copytree(EXAMPLE_REPO, tree, ignore=shutil.ignore_patterns("__pycache__"))
    roles = Roles(ManifestIndex.scan(tree))
    binding = RoleBinding.from_targets(roles.resolve(r) for r in Role)
    adapter: TypeAdapter[Check] = TypeAdapter(Check)
    print(f"{'kind':<11} {'cold s':>7} {'median s':>9}  (one commit each, {runs} commits, sandbox warm)")
    try:
        for kind, (spec, path, comment) in KINDS.items():
            check = adapter.validate_python(spec)
            context = CheckContext(tree, binding, fault_dir=catalog.get(ACCEPTANCE).folder, runner=sandbox)
            seconds = []
            for n in range(runs + 1):
                with (tree / path).open("a") as handle:
                    handle.write(f"\n{comment} commit {kind} {n}\n")  # a new tree: nothing to reuse
                started = time.perf_counter()
                result = evaluate_one(check, context)
                seconds.append(time.perf_counter() - started)
                assert result.passed, result.reason
            print(f"{kind:<11} {seconds[0]:>7.2f} {statistics.median(seconds[1:]):>9.2f}")
    finally:
        sandbox.close()


def daemon_poll(polls: int, bumps: int, root: Path) -> None:
    catalog = Catalog.load()
    bare = root / "team-a.git"
    publish_directory(EXAMPLE_REPO, bare, ORG_ADMIN)
    config_path = write_config(root, [("team-a", bare)], seed=1)
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    team = config.team("team-a")
    sandbox = Sandbox()
    try:
        first = CachedRunner(sandbox, VerdictCache())
        injector = make_injector(config, config_path, team, store)
        injector.runner = first
        injected = injector.inject(catalog.get(FAULT)).sha
        clone = root / "clone"
        git(root, "clone", "-q", bare.as_uri(), str(clone))
        for n in range(bumps):  # CI bumping image tags: k8s/ only
            path = clone / "k8s" / "frontend.yaml"
            path.write_text(path.read_text().replace(":1.4.2", f":1.4.{n + 3}", 1).replace(f":1.4.{n + 2}", f":1.4.{n + 3}", 1))
            git(clone, *BOT, "commit", "-qam", f"chore(deploy): bump images ({n})")
        git(clone, *TEAM, "revert", "--no-edit", injected)
        git(clone, "push", "-q", "origin", "HEAD:main")

        def poll(runner: CachedRunner) -> float:
            watcher = make_watcher(config, config_path, team, store, catalog)
            watcher.runner = runner  # a watcher with no memory: it walks the whole history
            started = time.perf_counter()
            watcher.refresh(force=True)
            return time.perf_counter() - started

        poll(first)  # fills the cache, as the daemon's first poll would
        baseline = [poll(CachedRunner(sandbox, VerdictCache())) for _ in range(polls)]
        measured = [poll(first) for _ in range(polls)]
        cold, warm = statistics.median(baseline), statistics.median(measured)
        print(f"daemon poll re-judging {FAULT} over {bumps} bumps + a revert:")
        print(f"  baseline (no verdict cache): median {cold:.2f}s")
        print(f"  measured (verdict cache):    median {warm:.2f}s   ({first.hits} hits, {first.runs} runs in all)")
        print(f"  ratio baseline/measured: {cold / warm:.1f}x")
    finally:
        sandbox.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--bumps", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        per_kind(args.runs, Path(scratch))
    with tempfile.TemporaryDirectory() as scratch:
        daemon_poll(args.polls, args.bumps, Path(scratch))


if __name__ == "__main__":
    main()
