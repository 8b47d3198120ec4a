"""Plumbing the PagerDuty, Slack and webhook stand-ins share: a listener and network faults.

`ListeningApp` runs one ASGI app with uvicorn on a socket bound here, so the port is
known before the first request and survives `down()`/`up()` (a real closed port in
between: clients see ECONNREFUSED, not a 5xx). `Faults` queues the ways a service
breaks that tests need: 5xx answers and requests that hang until the client gives up.
bot/web/server.BackgroundServer does the listening part for the bot, but without TLS,
which the PagerDuty stand-in needs; bot/ is not touched from the test side.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn

from tests.servers.local_tls import LOCAL_HOST, LocalTLS


@dataclass(frozen=True)
class RecordedResponse:
    """One answer, keyed by the operation (path template) it answers, for contract checks."""

    method: str
    operation: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class ListeningApp:
    """uvicorn serving one ASGI app on 127.0.0.1, with TLS when given a LocalTLS."""

    def __init__(self, app: Any, name: str, tls: LocalTLS | None = None) -> None:
        self._app = app
        self._name = name
        self._tls = tls
        self.port = 0
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, `https://` when serving TLS."""
        return f"{'https' if self._tls else 'http'}://{LOCAL_HOST}:{self.port}"

    def start(self) -> ListeningApp:
        """Listen (again on the same port after `down()`); returns once requests are accepted."""
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when
        # the listener says TCP, and without it every answer waits ~40 ms (Nagle against
        # delayed ACK), because h11 writes headers and body separately.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOCAL_HOST, self.port))
        self.port = sock.getsockname()[1]
        tls = self._tls

        def tls_context(config: uvicorn.Config, default: Any) -> ssl.SSLContext:
            assert tls is not None
            return tls.server_context()

        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off", ws="none",
            timeout_graceful_shutdown=1, ssl_context_factory=tls_context if tls else None,
        )
        server = _AbruptServer(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True)
        self._socket, self._server, self._thread = sock, server, thread
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not server.started:
            raise RuntimeError(f"{self._name} did not start on {self.url}")
        return self

    def request_stop(self) -> None:
        """Ask the server to stop without waiting (`stop()` waits)."""
        if self._server is not None:
            self._server.should_exit = True

    def stop(self) -> None:
        """Stop listening and join the thread; safe to call twice."""
        self.request_stop()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def down(self) -> None:
        """Close the port: connections are refused until `up()`."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port."""
        self.start()


class _AbruptServer(uvicorn.Server):
    """Drops open connections at shutdown instead of waiting for them.

    Idle keep-alive TLS connections would otherwise hold shutdown for the whole grace
    period (or be left half-closed, their sockets leaking); a stand-in going down may
    be abrupt, as a crashed service is.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await super().shutdown(sockets)


class Faults:
    """Failures a test queues for the next requests: a 5xx status, or a hang."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: list[int] = []
        self._hangs: list[float] = []
        self._released = threading.Event()

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` requests are answered with `status` (the service's outage body)."""
        with self._lock:
            self._statuses.extend([status] * n)

    def hang_next(self, n: int, seconds: float = 30.0) -> None:
        """The next `n` requests get no answer for `seconds` (or until `release()`).

        Doubles read the whole request first and hang before handling it, so a hung
        request is still handled once released, even if its client gave up: a client
        that retries after a timeout delivers twice, as with a slow real service.
        """
        with self._lock:
            self._released.clear()
            self._hangs.extend([seconds] * n)

    def release(self) -> None:
        """End every hang now (called on stop, so no request outlives its server)."""
        with self._lock:
            self._hangs.clear()
        self._released.set()

    def next_status(self) -> int | None:
        """The injected status for this request, if one is queued."""
        with self._lock:
            return self._statuses.pop(0) if self._statuses else None

    async def hang_if_queued(self) -> None:
        """Sleep out a queued hang without blocking the event loop (other requests go on)."""
        with self._lock:
            seconds = self._hangs.pop(0) if self._hangs else None
        if seconds is not None:
            await anyio.to_thread.run_sync(self._released.wait, seconds, abandon_on_cancel=True)


class RateWindow:
    """A fixed 60-second budget per key, on the injected clock (no sleeping in tests)."""

    def __init__(self, limit: int, clock: Any, seconds: int = 60) -> None:
        self.limit = limit
        self._clock = clock
        self._seconds = seconds
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[Any, int]] = {}

    def take(self, key: str) -> tuple[bool, int, int]:
        """Spend one request of `key`'s budget: (allowed, remaining, seconds until reset)."""
        now = self._clock()
        with self._lock:
            started, used = self._windows.get(key, (now, 0))
            elapsed = (now - started).total_seconds()
            if elapsed >= self._seconds:
                started, used, elapsed = now, 0, 0.0
            allowed = used < self.limit
            used += 1 if allowed else 0
            self._windows[key] = (started, used)
        reset = max(1, int(self._seconds - elapsed + 0.999))
        return allowed, max(0, self.limit - used), reset
