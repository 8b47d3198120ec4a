"""GitHub webhooks: verify `X-Hub-Signature-256`, then ask for an immediate check of the team.

Per GitHub's docs: the header is `sha256=` + the hex HMAC-SHA256 of the raw body keyed
with the webhook secret, compared in constant time. An unsigned or wrongly signed
delivery is rejected with 401 and changes nothing. Only `push` and `pull_request`
events for a repository listed in the config trigger anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SIGNATURE_HEADER = "x-hub-signature-256"
HANDLED_EVENTS = ("push", "pull_request")


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for this body."""
    return "sha256=" + hmac.new(secret.encode(), msg=body, digestmod=hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of a delivery's signature."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(signature(secret, body), header)


def team_for(payload: Mapping[str, Any], teams_by_repo: Mapping[str, str]) -> str | None:
    """The team whose repository the delivery is about (by `repository.full_name`)."""
    repository = payload.get("repository") or {}
    name = str(repository.get("full_name") or "").lower()
    return teams_by_repo.get(name)


def webhook_route(secret: str, teams_by_repo: Mapping[str, str], on_change: Callable[[str, str], None],
                  path: str = "/webhooks/github") -> Route:
    """A Starlette route for GitHub deliveries; `on_change(team, event)` runs for relevant ones."""
    lowered = {k.lower(): v for k, v in teams_by_repo.items()}

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if not verify(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "bad or missing X-Hub-Signature-256"}, status_code=401)
        event = request.headers.get("x-github-event", "")
        if event == "ping":
            return JSONResponse({"ok": True, "event": "ping"})
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        team = team_for(payload, lowered)
        if event not in HANDLED_EVENTS or team is None:
            return JSONResponse({"ok": True, "ignored": event or "unknown"}, status_code=202)
        on_change(team, event)
        return JSONResponse({"ok": True, "team": team, "event": event}, status_code=202)

    return Route(path, receive, methods=["POST"])
