"""A generic webhook receiver for tests: records every JSON body POSTed to it.

It stands in for whatever a team or the organizers point faultbot's notifications at:
any path under its URL takes `POST` with a JSON body and answers 200 `{"ok": true}`.
Tests make it misbehave the ways receivers do: `faults.fail_next(n, 500)`, `hang_next`,
`http.down()`/`up()`; with `require_headers` it answers 401 to a request without them
(a shared secret, say). A body that is not JSON gets 400 and is not recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers.http_double import Faults, ListeningApp


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Delivery:
    """One accepted POST."""

    path: str
    body: Any
    headers: dict[str, str]
    received_at: datetime


@dataclass
class _Log:
    accepted: list[Delivery] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)


class WebhookReceiver:
    """See the module docstring."""

    def __init__(self, require_headers: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self.faults = Faults()
        self._required = {k.lower(): v for k, v in (require_headers or {}).items()}
        self._lock = threading.Condition()
        self._log = _Log()
        self.http = ListeningApp(_app(self), "webhook-receiver")

    def url(self, path: str = "/hooks/faultbot") -> str:
        """Where to send deliveries (any path works; tests tell receivers apart by it)."""
        return f"{self.http.url}{path}"

    def start(self) -> WebhookReceiver:
        self.http.start()
        return self

    def stop(self) -> None:
        self.faults.release()
        self.http.stop()

    @property
    def deliveries(self) -> list[Delivery]:
        """Accepted deliveries, oldest first."""
        with self._lock:
            return list(self._log.accepted)

    @property
    def refused(self) -> list[tuple[str, int]]:
        """(path, status) of every request answered with an error."""
        with self._lock:
            return list(self._log.refused)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Block until `count` deliveries were accepted (for senders on other threads)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._log.accepted) >= count, timeout)
            return list(self._log.accepted)

    def _refuse(self, path: str, status: int) -> None:
        with self._lock:
            self._log.refused.append((path, status))

    async def _receive(self, request: Request) -> Response:
        path = request.url.path
        raw = await request.body()
        await self.faults.hang_if_queued()
        injected = self.faults.next_status()
        if injected is not None:
            self._refuse(path, injected)
            return Response("receiver failed\n", injected, media_type="text/plain")
        if any(request.headers.get(name) != value for name, value in self._required.items()):
            self._refuse(path, 401)
            return JSONResponse({"ok": False, "error": "unauthorized"}, 401)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._refuse(path, 400)
            return JSONResponse({"ok": False, "error": "body is not JSON"}, 400)
        with self._lock:
            self._log.accepted.append(Delivery(path, body, dict(request.headers), self.clock()))
            self._lock.notify_all()
        return JSONResponse({"ok": True})


def _app(receiver: WebhookReceiver) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", receiver._receive, methods=["POST"])])


@contextmanager
def serve_webhooks(require_headers: Mapping[str, str] | None = None,
                   clock: Callable[[], datetime] = _utcnow) -> Iterator[WebhookReceiver]:
    """Run a webhook receiver until the block exits."""
    receiver = WebhookReceiver(require_headers, clock).start()
    try:
        yield receiver
    finally:
        receiver.stop()
