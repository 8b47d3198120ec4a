"""The tests' PostgreSQL: what it costs the suite.

  start    — initdb + pg_ctl start of a throwaway cluster (once per test session);
  database — a fresh database for one test, made, opened, given a table, and dropped;
  baseline — the same for a SQLite file (the other half of the `state_url` fixture).
Prints the medians and the database/baseline ratio.

    .venv/bin/python bench/bench_postgres.py [--starts 3] [--databases 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from tests.postgres import PostgresServer


def one_state(url: str) -> None:
    """What a store test does first: open the state and create a table in it."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE faultbot_events (seq integer PRIMARY KEY, team text)"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--databases", type=int, default=30)
    args = parser.parse_args()

    starts, stops = [], []
    for _ in range(args.starts):
        server = PostgresServer.start()
        starts.append(server.started_in)
        begun = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - begun)

    server = PostgresServer.start()
    databases, files = [], []
    try:
        for _ in range(args.databases):
            begun = time.perf_counter()
            with server.database() as url:
                one_state(url)
            databases.append(time.perf_counter() - begun)
            with tempfile.TemporaryDirectory() as folder:
                begun = time.perf_counter()
                one_state(f"sqlite:///{Path(folder) / 'state.db'}")
                files.append(time.perf_counter() - begun)
    finally:
        server.stop()

    start, stop = statistics.median(starts), statistics.median(stops)
    database, baseline = statistics.median(databases), statistics.median(files)
    print(f"start (initdb + pg_ctl start): median {start * 1000:.0f} ms over {args.starts}; stop {stop * 1000:.0f} ms")
    print(f"database per test: median {database * 1000:.1f} ms; SQLite file baseline {baseline * 1000:.1f} ms; "
          f"ratio {database / baseline:.1f}x over {args.databases}")


if __name__ == "__main__":
    main()
