"""GitHub webhooks: verify `X-Hub-Signature-256`, then ask for an immediate check of the team.

Per GitHub's docs: the header is `sha256=` + the hex HMAC-SHA256 of the raw body keyed
with the webhook secret, compared in constant time. An unsigned or wrongly signed
delivery is rejected with 401 and changes nothing. Only `push`, `pull_request`,
`workflow_run` and `check_suite` events for a repository listed in the config count; the
facts a delivery carries (a PR's number and merge time, a CI run's state) are handed on
parsed, so the daemon need not ask GitHub's REST API for them again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.forge import CIRun, PullRequest, ci_run, github_time

SIGNATURE_HEADER = "x-hub-signature-256"
HANDLED_EVENTS = ("push", "pull_request", "workflow_run", "check_suite")


@dataclass(frozen=True)
class Delivery:
    """A relevant delivery: whose repository, which event, and the facts it carried."""

    team: str
    event: str
    pull: PullRequest | None = None
    """A `pull_request` delivery's PR."""
    ci: tuple[str, CIRun] | None = None
    """(head sha, run) of a `workflow_run` or `check_suite` delivery."""


def parse(team: str, event: str, payload: Mapping[str, Any]) -> Delivery:
    """The facts of a delivery (GitHub's webhook payload shapes); what is missing stays None."""
    if event == "pull_request" and isinstance(payload.get("pull_request"), dict):
        pr = payload["pull_request"]
        merged = bool(pr.get("merged"))
        return Delivery(team, event, pull=PullRequest(
            number=int(pr.get("number") or 0), url=str(pr.get("html_url") or ""),
            head_branch=str((pr.get("head") or {}).get("ref") or ""), head_sha=str((pr.get("head") or {}).get("sha") or ""),
            author=str((pr.get("user") or {}).get("login") or ""), opened_at=github_time(pr.get("created_at")),
            merged=merged, merged_at=github_time(pr.get("merged_at")),
            merge_sha=pr.get("merge_commit_sha") if merged else None, state=str(pr.get("state") or "")))
    if event == "workflow_run" and isinstance(payload.get("workflow_run"), dict):
        run = payload["workflow_run"]
        return Delivery(team, event, ci=(str(run.get("head_sha") or ""), ci_run(run)))
    if event == "check_suite" and isinstance(payload.get("check_suite"), dict):
        suite = payload["check_suite"]
        named = {**suite, "name": (suite.get("app") or {}).get("name") or "checks"}  # a suite has no name of its own
        return Delivery(team, event, ci=(str(suite.get("head_sha") or ""), ci_run(named)))
    return Delivery(team, event)


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


def webhook_route(secret: str, teams_by_repo: Mapping[str, str], on_change: Callable[[Delivery], None],
                  path: str = "/webhooks/github") -> Route:
    """A Starlette route for GitHub deliveries; `on_change(delivery)` runs for relevant ones."""
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
        on_change(parse(team, event, payload))
        return JSONResponse({"ok": True, "team": team, "event": event}, status_code=202)

    return Route(path, receive, methods=["POST"])
