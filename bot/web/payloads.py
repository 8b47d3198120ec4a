"""The shape of the GitHub webhook payloads faultbot acts on, checked before anything reads them.

A validly signed body is still data from outside: `[1,2,3]`, `null` or `{"repository": "x"}`
used to reach `payload.get(...)` and answer 500 with a traceback (issue 15 item 6). These
models name what faultbot reads of a `push` and a `pull_request` delivery (the webhook is a
boundary, like repos.yaml); every field is one GitHub's webhook schema requires
(tests/web/test_webhook_shapes.py holds them to ../shared/contracts/github-webhooks.json), so
a real delivery always passes. They are strict (no coercion); other fields are GitHub's
business and are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class _Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Repository(_Payload):
    """`repository` of every delivery: which team it is about."""

    full_name: str


class PushEvent(_Payload):
    """`X-GitHub-Event: push`."""

    ref: str
    after: str
    repository: Repository


class PullRequestEvent(_Payload):
    """`X-GitHub-Event: pull_request` (any action)."""

    action: str
    number: int
    pull_request: dict[str, Any]
    repository: Repository


SHAPES: dict[str, type[_Payload]] = {"push": PushEvent, "pull_request": PullRequestEvent}


def shape_problem(event: str, payload: object) -> str | None:
    """Why `payload` is not a `event` delivery GitHub would send (one line), or None."""
    if not isinstance(payload, dict):
        return f"the body is JSON but not an object ({type(payload).__name__})"
    model = SHAPES.get(event)
    if model is None:
        return None
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        return f"not a GitHub {event} payload: {where}: {first['msg'].lower()} ({exc.error_count()} problem(s))"
    return None
