"""Rehearsing every fault on a team repo (what plan, validate and the daemon's start do).

Baseline: what faultbot first did — one scratch copy + `git init` + commit per fault
(`rehearse`), every manifest parsed afresh each time (parse cache cleared per fault).
Measured: one scratch copy for all faults, reset between them (`rehearse_many`), with the
parse cache keyed by file content (`bot.catalog.yamlread.read_yaml`).
Prints the median of several runs of each, and their ratio, measured in the same run.

    .venv/bin/python bench/bench_rehearsal.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bot.catalog.faults import Catalog
from bot.catalog.rehearsal import rehearse, rehearse_many
from bot.catalog.yamlread import _read as _parse_documents
from bot.repo.workspace import apply_patch

ROOT = Path(__file__).resolve().parents[1]
REPO = ROOT / "examples" / "chat-app"


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--with-fixes", action="store_true", help="also rehearse every reference fix (faults verify)")
    args = parser.parse_args()
    faults = list(Catalog.load().faults.values())
    baseline, measured = [], []
    def original() -> None:
        for fault in faults:
            _parse_documents.cache_clear()
            rehearse(fault, REPO, with_fixes=args.with_fixes, apply_patch=apply_patch)

    def current() -> None:
        _parse_documents.cache_clear()  # a cold cache: a fresh process planning one team
        rehearse_many(faults, REPO, with_fixes=args.with_fixes, apply_patch=apply_patch)

    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        baseline.append(timed(original))
        measured.append(timed(current))
    b, m = statistics.median(baseline), statistics.median(measured)
    print(f"faults: {len(faults)}, runs: {args.runs}, fixes: {args.with_fixes}")
    print(f"baseline  copy per fault, no cache  median {b:.3f}s  ({b / len(faults) * 1000:.0f} ms/fault)")
    print(f"measured  one copy + parse cache    median {m:.3f}s  ({m / len(faults) * 1000:.0f} ms/fault)")
    print(f"ratio measured/baseline: {m / b:.2f}")


if __name__ == "__main__":
    main()
