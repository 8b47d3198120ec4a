"""Run the issue-17 benchmarks (P1–P5) and print the table in markdown.

Each script's own output goes to stderr as it runs; the table goes to stdout at the end.

    bench/run_all [--quick] [--teams N] [--partial-clone] [--only P1,P4] [--extras]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.harness import ROOT, faultbot_env, fmt, machine_note

# (row group, script, flags that take the shared --teams)
SCRIPTS = [
    ("P1", "bench/p1_inject.py", True),
    ("P2", "bench/p2_webhook.py", False),
    ("P3", "bench/p3_rest_calls.py", False),
    ("P4", "bench/p4_judge.py", False),
    ("P5", "bench/p5_validate_plan.py", True),
    ("P5", "bench/p5_daemon.py", True),
]
# The earlier benchmarks: each compares faultbot with an earlier faultbot, not with raw git.
EXTRAS = [
    ["bench/bench_fix_search.py"],
    ["bench/bench_rehearsal.py"],
    ["bench/bench_validate.py"],
    ["bench/bench_postgres.py"],
]


FAILED: list[str] = []


def run(script: list[str]) -> list[dict[str, object]]:
    """Run one script, echo its output, and return its BENCH-RESULT rows."""
    print(f"$ {' '.join(script)}", file=sys.stderr, flush=True)
    proc = subprocess.Popen([sys.executable, *script], cwd=ROOT, env=faultbot_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    rows = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("BENCH-RESULT "):
            rows.append(json.loads(line.removeprefix("BENCH-RESULT ")))
        else:
            print(line, end="", file=sys.stderr, flush=True)
    if proc.wait() != 0:
        print(f"!! {script[0]} exited {proc.returncode}", file=sys.stderr)
        FAILED.append(script[0])
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """The issue's table, in markdown."""
    lines = ["| cost | faultbot | raw baseline, same run | ratio | goal | notes |", "|---|---|---|---|---|---|"]
    for row in rows:
        unit = str(row["unit"])
        ratio = f"{row['ratio']:.1f}" if isinstance(row["ratio"], (int, float)) else "—"
        base = f"{row['baseline_name']}: {fmt(row['baseline'], unit)}" if row["baseline"] is not None else "—"  # type: ignore[arg-type]
        lines.append(f"| {row['key']} {row['cost']} | {fmt(row['faultbot'], unit)} | {base} | {ratio} | "  # type: ignore[arg-type]
                     f"{row['goal']} | {row['note']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every script at its smallest scale (a smoke run)")
    parser.add_argument("--teams", type=int, default=None, help="N teams for P1 and P5 (each script has its default)")
    parser.add_argument("--partial-clone", action="store_true", help="serve git as GitHub does (see README)")
    parser.add_argument("--only", default="", help="comma-separated groups, e.g. P1,P4")
    parser.add_argument("--extras", action="store_true", help="also run the earlier benchmarks (printed, not tabled)")
    args = parser.parse_args()
    wanted = {g.strip().upper() for g in args.only.split(",") if g.strip()}
    rows: list[dict[str, object]] = []
    for group, script, takes_teams in SCRIPTS:
        if wanted and group not in wanted:
            continue
        command = [script]
        command += ["--quick"] if args.quick else []
        command += ["--teams", str(args.teams)] if args.teams and takes_teams else []
        command += ["--partial-clone"] if args.partial_clone else []
        rows += run(command)
    if args.extras:
        for extra in EXTRAS:
            run(extra)
    print(f"\nfaultbot vs raw git, medians ({machine_note()}; ratios are what matter on a shared machine)\n")
    print(table(rows))
    if FAILED:
        print(f"\nfailed: {', '.join(FAILED)} (output above, on stderr)")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
