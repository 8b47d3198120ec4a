"""The daemon's web side: the spectator board (/), its JSON (/api/status) and timeline
picture, /healthz, /metrics, webhooks, and — only with an organizer token — /admin.

Everything outside /admin is public and built from the spectator board, which never names
an open or future fault (see `bot.web.spectator`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from jinja2 import Environment, PackageLoader
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.web.admin import OrganizerSide, admin_routes
from bot.web.humanize import human_duration
from bot.web.metrics import render_metrics
from bot.web.spectator import SpectatorBoard
from bot.web.webhooks import Delivery, webhook_route

HEALTHY = ("ok", "standby")  # what /healthz answers 200 for
REFRESH_SECONDS = 10
_ENV = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=True)


def render_board(board: SpectatorBoard, refresh_seconds: int = REFRESH_SECONDS) -> str:
    """The spectator page."""
    return _ENV.get_template("spectator.html").render(
        board=board, refresh_seconds=refresh_seconds, duration=human_duration,
        updated=board.generated_at.strftime("%H:%M:%S UTC"), stamp=int(board.generated_at.timestamp()))


class _Cached:
    """The timeline picture is drawn at most every few seconds, however many spectators ask."""

    def __init__(self, draw: Callable[[], bytes], seconds: float = 5.0) -> None:
        self.draw, self.seconds = draw, seconds
        self._lock = threading.Lock()
        self._value: tuple[float, bytes] | None = None

    def get(self) -> bytes:
        with self._lock:
            if self._value is None or time.monotonic() - self._value[0] > self.seconds:
                self._value = (time.monotonic(), self.draw())
            return self._value[1]


def build_app(
    health: Callable[[], dict[str, Any]],
    board: Callable[[], SpectatorBoard],
    *,
    timeline_png: Callable[[], bytes] | None = None,
    organizer: OrganizerSide | None = None,
    webhook_secret: str | None = None,
    teams_by_repo: dict[str, str] | None = None,
    on_change: Callable[[Delivery], None] | None = None,
) -> Starlette:
    """The ASGI app; the callables read the daemon's live state."""

    async def healthz(_: Request) -> JSONResponse:
        report = health()
        # A standby is alive and doing its job (waiting): 200, or Kubernetes' liveness probe would
        # restart it in a loop. Only a stopped or wedged daemon answers 503.
        return JSONResponse(report, status_code=200 if report.get("status") in HEALTHY else 503)

    async def api_status(_: Request) -> JSONResponse:
        return JSONResponse(board().as_json())

    async def home(_: Request) -> HTMLResponse:
        return HTMLResponse(render_board(board()))

    async def metrics(_: Request) -> Response:
        return Response(render_metrics(board, health), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/", home), Route("/healthz", healthz), Route("/api/status", api_status),
              Route("/metrics", metrics)]
    if timeline_png is not None:
        picture = _Cached(timeline_png)

        async def timeline(_: Request) -> Response:
            return Response(picture.get(), media_type="image/png", headers={"cache-control": "no-cache"})

        routes.append(Route("/timeline.png", timeline))
    if organizer is not None:
        routes += admin_routes(organizer)
    if webhook_secret and on_change is not None:
        routes.append(webhook_route(webhook_secret, teams_by_repo or {}, on_change))
    return Starlette(routes=routes)


def empty_board(event: str, teams: Sequence[str] = ()) -> SpectatorBoard:
    """A board before anything happened (tests, a daemon still starting)."""
    from bot.web.spectator import TeamBoard

    rows = tuple(TeamBoard(1, t, 0, 0, 0, 0, 0, None, None, False, ()) for t in teams)
    return SpectatorBoard(event, datetime.now(timezone.utc), "All times UTC.", rows)
