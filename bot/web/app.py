"""The daemon's web side: the live scoreboard (/), /healthz, /api/status, /metrics, webhooks.

Read-only except the webhook, which only asks for an immediate check of a team.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.web.metrics import render_metrics
from bot.web.webhooks import webhook_route

HEALTHY = ("ok", "standby")


def build_app(
    health: Callable[[], dict[str, Any]],
    status: Callable[[], list[dict[str, Any]]],
    *,
    scoreboard: Callable[[], str] | None = None,
    webhook_secret: str | None = None,
    teams_by_repo: dict[str, str] | None = None,
    on_change: Callable[[str, str], None] | None = None,
) -> Starlette:
    """The ASGI app; the callables read the daemon's live state."""

    async def healthz(_: Request) -> JSONResponse:
        report = health()
        # A standby is alive and doing its job (waiting): 200, or Kubernetes' liveness probe would
        # restart it in a loop. Only a stopped or wedged daemon answers 503.
        return JSONResponse(report, status_code=200 if report.get("status") in HEALTHY else 503)

    async def api_status(_: Request) -> JSONResponse:
        return JSONResponse(status())

    async def home(_: Request) -> HTMLResponse:
        return HTMLResponse(scoreboard() if scoreboard else "<p>faultbot</p>")

    async def metrics(_: Request) -> Response:
        return Response(render_metrics(status, health), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/", home), Route("/healthz", healthz), Route("/api/status", api_status),
              Route("/metrics", metrics)]
    if webhook_secret and on_change is not None:
        routes.append(webhook_route(webhook_secret, teams_by_repo or {}, on_change))
    return Starlette(routes=routes)
