"""DEMO ONLY: where `faultbot demo` points the daemon's notifications.

A small local HTTP receiver (the generic-webhook kind the README documents) on
127.0.0.1: it accepts each JSON notice, remembers it, and tells the demo's console, so
the delivered hints are visible. The daemon delivers to it for real — through the same
courier, outbox and webhook sender as on event day.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.web.server import BackgroundServer


class DemoInbox:
    """Receives notices on /hooks/<audience>; `delivered` holds them in arrival order."""

    def __init__(self, on_notice: Callable[[dict[str, Any]], None]) -> None:
        self.on_notice = on_notice
        self.delivered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._seen: set[str] = set()

        async def receive(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            with self._lock:
                fresh = body.get("id") not in self._seen  # at least once: drop a repeated id
                self._seen.add(body.get("id"))
                if fresh:
                    self.delivered.append(body)
            if fresh:
                self.on_notice(body)
            return JSONResponse({"ok": True})

        self.server = BackgroundServer(Starlette(routes=[Route("/hooks/{audience}", receive, methods=["POST"])]))

    def url(self, audience: str) -> str:
        """Where one audience's notices go."""
        return f"{self.server.url}/hooks/{audience}"

    def start(self) -> DemoInbox:
        """Listen."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.server.stop()
