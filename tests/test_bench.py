"""The benchmarks still run: each P1–P5 script at its smallest scale, the earlier ones as far as their imports.

Numbers are not asserted (no timed assertions; on a shared machine they mean nothing at this
scale): only that every script finishes and reports the rows run_all tables, with a measured
value for faultbot and, where the row has one, for the raw-git baseline.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import ROOT

ROWS = {
    "bench/p1_inject.py": ["P1-daemon", "P1-cli"],
    "bench/p2_webhook.py": ["P2-webhook"],
    "bench/p3_rest_calls.py": ["P3-rest"],
    "bench/p4_judge.py": ["P4-judge", "P4-judge-local"],
    "bench/p5_validate_plan.py": ["P5-validate", "P5-plan"],
    "bench/p5_daemon.py": ["P5-daemon-round", "P5-daemon-rss"],
}
EARLIER = ["bench/bench_fix_search.py", "bench/bench_rehearsal.py", "bench/bench_validate.py", "bench/bench_postgres.py",
           "bench/bench_behaviour.py"]


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_every_benchmark_runs_at_its_smallest_scale() -> None:
    scripts = list(ROWS)
    # Three at a time: most of each script is waiting on git, servers and daemons.
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = dict(zip(scripts, pool.map(lambda s: run([s, "--quick"]), scripts), strict=True))
    tabled = []
    for script, proc in done.items():
        assert proc.returncode == 0, f"{script}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        rows = [json.loads(line.removeprefix("BENCH-RESULT ")) for line in proc.stdout.splitlines()
                if line.startswith("BENCH-RESULT ")]
        assert [r["key"] for r in rows] == ROWS[script], proc.stdout
        for row in rows:
            if row["key"] == "P3-rest":
                # P3's goal is 0 REST calls, so 0 is a result (at --quick the daemon watches for a few
                # game minutes only, too short to count its git polls reliably).
                assert math.isfinite(row["faultbot"]) and row["faultbot"] >= 0 and row["samples"] >= 1, row
            else:
                assert math.isfinite(row["faultbot"]) and row["faultbot"] > 0, row
            assert row["baseline"] is None or math.isfinite(row["baseline"]), row
        tabled += rows
    from bench.run_all import table

    lines = table(tabled).splitlines()
    assert len(lines) == 2 + len(tabled) and all(line.startswith("|") and line.endswith("|") for line in lines)


def test_the_earlier_benchmarks_still_import() -> None:
    """They import faultbot's internals by name; `--help` runs every import and nothing else."""
    for script in EARLIER:
        proc = run([script, "--help"])
        assert proc.returncode == 0 and "usage:" in proc.stdout, f"{script}: {proc.stderr[-2000:]}"
