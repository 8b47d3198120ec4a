"""Per-team work on a few threads: it is mostly waiting on git and the network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

TEAM_WORKERS = 4
T = TypeVar("T")
R = TypeVar("R")


def in_parallel(work: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """`work` over items on a few threads, results in the items' order.

    Per-team work is mostly waiting on git and the network; 30 teams at 7 a.m. should not
    wait in single file (bench/bench_validate.py measures it).
    """
    workers = workers or TEAM_WORKERS  # read at call time, so a benchmark can change it
    if len(items) <= 1 or workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="faultbot-team") as pool:
        return list(pool.map(work, items))
