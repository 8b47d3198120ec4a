"""The lock on one team's cache directory, shared by threads and processes (and their git children).

`faultbot status` or `inject` run by hand must never check out a tree under the running
daemon's feet, and a restarted faultbot must never look at the remote while a push of the
faultbot it replaces is still on its way (issue 15 item 2).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger("faultbot.git")


class _PathLock:
    """A lock on one cache directory: re-entrant within a thread, exclusive across threads
    (RLock) and across processes (flock on a side file), so `faultbot status` or `inject`
    run by hand never check out a tree under the running daemon's feet.

    The git commands run under it inherit the flock's descriptor: a push still running when
    faultbot is killed keeps the cache locked until git has the forge's answer, so the
    restarted faultbot looks at the remote only once that push has landed or failed.
    """

    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.owner: int | None = None
        self.handle: IO[str] | None = None


_PATH_LOCKS: dict[Path, _PathLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the lock of the cache at `path` (see _PathLock)."""
    key = path.resolve()
    with _PATH_LOCKS_GUARD:
        entry = _PATH_LOCKS.setdefault(key, _PathLock())
    with entry.rlock:
        if entry.depth == 0:
            key.parent.mkdir(parents=True, exist_ok=True)
            entry.handle = open(f"{key}.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held across the block
            _wait_for_lock(entry.handle, key)
            entry.owner = threading.get_ident()
        entry.depth += 1
        try:
            yield
        finally:
            entry.depth -= 1
            if entry.depth == 0 and entry.handle is not None:
                entry.owner = None
                fcntl.flock(entry.handle, fcntl.LOCK_UN)
                entry.handle.close()
                entry.handle = None


def _wait_for_lock(handle: IO[str], key: Path) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # Another faultbot, or a git command left running by a killed one: wait for its end.
        log.info("waiting for the cache lock", extra={"cache": key.name})
        fcntl.flock(handle, fcntl.LOCK_EX)


def held_lock_fds(path: Path) -> tuple[int, ...]:
    """The descriptor of the cache lock at `path` if this thread holds it (for git to inherit)."""
    entry = _PATH_LOCKS.get(path.resolve())
    if entry is None or entry.owner != threading.get_ident() or entry.handle is None:
        return ()
    return (entry.handle.fileno(),)
