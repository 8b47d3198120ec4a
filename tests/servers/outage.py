"""Misbehaviour a test switches on and off at runtime: answer 5xx, hang, or drop the connection.

Every local server (git smart HTTP, GitHub, ArgoCD) consults one `Outage` per request, so a
test can make a forge flaky the way issue 15 found real networks are: `fail(500)`,
`hang(45)`, `hang(45, only="/git-receive-pack")` (hold pushes only), `drop()`. Each mode
applies to the next `times` matching requests (None: until `clear()`), and `only` narrows it
to requests whose "METHOD path" contains that text.

Every hang is bounded: it ends after its seconds, or as soon as the test calls `clear()` or
the server stops, so no test can outlive its own timeout because of a server thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

MAX_HANG_SECONDS = 120.0  # a typo of 4500 instead of 45 must not freeze the suite


@dataclass(frozen=True)
class Trouble:
    """What to do to one request: `kind` is "error", "hang" or "drop"."""

    kind: str
    status: int = 500
    seconds: float = 0.0
    only: str | None = None

    def matches(self, request_line: str) -> bool:
        """Whether this trouble applies to a request described as "METHOD path?query"."""
        return self.only is None or self.only in request_line


class Outage:
    """The misbehaviour a server is currently told to show; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modes: list[tuple[Trouble, int | None]] = []
        self._released = threading.Event()
        self.served: list[tuple[str, str]] = []  # (kind, request line) of each trouble dealt

    # -- switched by tests ----------------------------------------------------------------
    def fail(self, status: int = 500, times: int | None = None, only: str | None = None) -> None:
        """Answer `status` (a 5xx, or 429) instead of serving."""
        self._add(Trouble("error", status=status, only=only), times)

    def hang(self, seconds: float, times: int | None = None, only: str | None = None) -> None:
        """Wait `seconds` before serving (then serve normally: a slow server, not a dead one)."""
        self._add(Trouble("hang", seconds=min(seconds, MAX_HANG_SECONDS), only=only), times)

    def drop(self, times: int | None = None, only: str | None = None) -> None:
        """Serve, but close the connection halfway through the response body."""
        self._add(Trouble("drop", only=only), times)

    def clear(self) -> None:
        """Back to normal; requests hanging right now are released at once."""
        with self._lock:
            self._modes.clear()
            self._released.set()
            self._released = threading.Event()

    def _add(self, trouble: Trouble, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: until clear())")
        with self._lock:
            self._modes.append((trouble, times))

    # -- consulted by servers -----------------------------------------------------------
    def take(self, request_line: str) -> Trouble | None:
        """The trouble for this request, if any (counting it against its `times`)."""
        with self._lock:
            for index, (trouble, times) in enumerate(self._modes):
                if not trouble.matches(request_line):
                    continue
                if times is not None:
                    if times == 1:
                        del self._modes[index]
                    else:
                        self._modes[index] = (trouble, times - 1)
                self.served.append((trouble.kind, request_line))
                return trouble
        return None

    def wait(self, trouble: Trouble) -> None:
        """Block a server thread for a hang (ends early on `clear()`)."""
        with self._lock:
            released = self._released
        released.wait(trouble.seconds)

    async def wait_async(self, trouble: Trouble) -> None:
        """The same on an event loop, without blocking other requests."""
        with self._lock:
            released = self._released
        deadline = time.monotonic() + trouble.seconds
        while not released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


__all__ = ["MAX_HANG_SECONDS", "Outage", "Trouble"]
