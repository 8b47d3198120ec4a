"""GitHub webhooks: verify `X-Hub-Signature-256`, then ask for an immediate check of the team.

Per GitHub's docs: the header is `sha256=` + the hex HMAC-SHA256 of the raw body keyed
with the webhook secret, compared in constant time. An unsigned or wrongly signed
delivery is rejected with 401 and changes nothing. Only `push`, `pull_request`,
`workflow_run` and `check_suite` events for a repository listed in the config count; the
facts a delivery carries (a PR's number and merge time, a CI run's state) are handed on
parsed, so the daemon need not ask GitHub's REST API for them again (a fact that does not
parse is dropped: the daemon then asks, as without it).

Anyone can POST here, so in this order (issue 15 item 6): a body over GitHub's own 25 MB cap
is refused (413) before it is read, by its Content-Length or while it streams in; the
signature is checked on the raw bytes; then the JSON and its shape (bot.web.payloads). Every
refusal is a JSON answer and one JSON log line, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.forge import CIRun, PullRequest, ci_run, github_time
from bot.web.payloads import shape_problem

SIGNATURE_HEADER = "x-hub-signature-256"
HANDLED_EVENTS = ("push", "pull_request", "workflow_run", "check_suite")
MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB and sends nothing larger
log = logging.getLogger("faultbot.webhooks")


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
    """The facts of a delivery (GitHub's webhook payload shapes); what is missing or malformed stays None."""
    try:
        return _parse(team, event, payload)
    except (ValueError, TypeError, AttributeError) as exc:  # signed, yet not what GitHub sends
        log.warning("webhook facts dropped", extra={"github_event": event, "error": f"{type(exc).__name__}: {exc}"})
        return Delivery(team, event)


def _parse(team: str, event: str, payload: Mapping[str, Any]) -> Delivery:
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


def team_for(payload: Any, teams_by_repo: Mapping[str, str]) -> str | None:
    """The team whose repository the delivery is about (by `repository.full_name`)."""
    repository = payload.get("repository") if isinstance(payload, Mapping) else None
    name = repository.get("full_name") if isinstance(repository, Mapping) else None
    return teams_by_repo.get(name.lower()) if isinstance(name, str) else None


def webhook_route(secret: str, teams_by_repo: Mapping[str, str], on_change: Callable[[Delivery], None],
                  path: str = "/webhooks/github", max_body: int = MAX_BODY) -> Route:
    """A Starlette route for GitHub deliveries; `on_change(delivery)` runs for relevant ones."""
    lowered = {k.lower(): v for k, v in teams_by_repo.items()}

    async def receive(request: Request) -> JSONResponse:
        event = request.headers.get("x-github-event", "")
        body = await _bounded_body(request, max_body)
        if body is None:
            return _refuse(413, f"body larger than {max_body} bytes (GitHub sends at most 25 MB)", event)
        if not verify(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _refuse(401, "bad or missing X-Hub-Signature-256", event)
        if event == "ping":
            return JSONResponse({"ok": True, "event": "ping"})
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return _refuse(400, "body is not JSON", event)
        problem = shape_problem(event, payload)
        if problem is not None:
            return _refuse(400, problem, event)
        team = team_for(payload, lowered)
        if event not in HANDLED_EVENTS or team is None:
            return JSONResponse({"ok": True, "ignored": event or "unknown"}, status_code=202)
        on_change(parse(team, event, payload))
        return JSONResponse({"ok": True, "team": team, "event": event}, status_code=202)

    return Route(path, receive, methods=["POST"])


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it is known to exceed `limit` (nothing more is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        return b""
    return b"".join(chunks)


def _refuse(status: int, reason: str, event: str) -> JSONResponse:
    log.warning("webhook refused", extra={"status": status, "reason": reason, "github_event": event or None})
    return JSONResponse({"error": reason}, status_code=status)
