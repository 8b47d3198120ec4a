"""The tests' PostgreSQL: what it costs the suite.

  start    — initdb + pg_ctl start of a throwaway cluster (once per test session);
  database — a fresh database for one test, made, opened, given a table, and dropped;
  baseline — the same for a SQLite file (the other half of the `state_url` fixture).
Prints the medians and the database/baseline ratio, with the cluster on the RAM disk (what the
tests use where /dev/shm has room) and in the system temp dir (on disk).

    PYTHONPATH=. .venv/bin/python bench/bench_postgres.py [--starts 3] [--databases 30]   # tests/ is imported
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from tests.postgres import RAM_DISK, PostgresServer, scratch_parent


def one_state(url: str) -> None:
    """What a store test does first: open the state and create a table in it."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE faultbot_events (seq integer PRIMARY KEY, team text)"))
    engine.dispose()


def measure(parent: str, starts: int, databases: int) -> None:
    """Start `starts` clusters under `parent`, then make `databases` databases on one; print medians."""
    started, stopped = [], []
    for _ in range(starts):
        server = PostgresServer.start(parent)
        started.append(server.started_in)
        begun = time.perf_counter()
        server.stop()
        stopped.append(time.perf_counter() - begun)

    server = PostgresServer.start(parent)
    made, files = [], []
    try:
        for _ in range(databases):
            begun = time.perf_counter()
            with server.database() as url:
                one_state(url)
            made.append(time.perf_counter() - begun)
            with tempfile.TemporaryDirectory() as folder:
                begun = time.perf_counter()
                one_state(f"sqlite:///{Path(folder) / 'state.db'}")
                files.append(time.perf_counter() - begun)
    finally:
        server.stop()

    start, stop = statistics.median(started), statistics.median(stopped)
    database, baseline = statistics.median(made), statistics.median(files)
    print(f"{parent}: start (initdb + pg_ctl start) median {start * 1000:.0f} ms over {starts}, "
          f"stop {stop * 1000:.0f} ms; database per test median {database * 1000:.1f} ms over {databases}, "
          f"SQLite file baseline {baseline * 1000:.1f} ms, ratio {database / baseline:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--databases", type=int, default=30)
    args = parser.parse_args()
    parents = [str(RAM_DISK)] if scratch_parent() else []
    for parent in [*parents, tempfile.gettempdir()]:
        measure(parent, args.starts, args.databases)


if __name__ == "__main__":
    main()
