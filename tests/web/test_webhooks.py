"""GitHub webhook deliveries: signatures per GitHub's docs, real example payloads, and a good
delivery leads to detection without waiting for the poll."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.game.timeline import State, fold
from bot.web.server import BackgroundServer
from bot.web.webhooks import signature, verify, webhook_route
from tests.gitrepos import git
from tests.repo.test_detect import ALICE, SELECTOR, start_game
from tests.shared_files import CONTRACTS_DIR, require

EXAMPLES = CONTRACTS_DIR / "github-webhook-examples"
SECRET = "It's a Secret to Everybody"


def test_githubs_published_test_vector() -> None:
    assert signature(SECRET, b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    assert verify(SECRET, b"Hello, World!", signature(SECRET, b"Hello, World!"))
    assert not verify(SECRET, b"Hello, World!", signature("another secret", b"Hello, World!"))
    assert not verify(SECRET, b"Hello, World!", None)
    assert not verify("", b"x", signature("", b"x"))  # no secret configured: nothing is trusted


def example(name: str) -> bytes:
    return require(EXAMPLES / name).read_bytes()


class Client:
    """POST to a real uvicorn server on 127.0.0.1 serving the webhook route."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def post(self, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        with BackgroundServer(self.app) as server:
            return httpx.post(server.url + path, content=content, headers=headers, timeout=30)


def client_for(calls: list[tuple[str, str]], repo: str) -> Client:
    route = webhook_route(SECRET, {repo: "team-a"}, lambda team, event: calls.append((team, event)))
    return Client(Starlette(routes=[route]))


@pytest.mark.parametrize(("event", "file"), [("push", "push/with-new-branch.payload.json"),
                                              ("pull_request", "pull_request/closed.payload.json")])
def test_a_signed_delivery_of_a_listed_repo_triggers_a_check(event: str, file: str) -> None:
    body = example(file)
    repo = json.loads(body)["repository"]["full_name"]
    calls: list[tuple[str, str]] = []
    response = client_for(calls, repo).post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": event, "X-Hub-Signature-256": signature(SECRET, body), "Content-Type": "application/json"})
    assert response.status_code == 202 and calls == [("team-a", event)]


@pytest.mark.parametrize("header", [None, "sha256=" + "0" * 64, "sha1=abc", signature("wrong", b"{}")])
def test_unsigned_or_badly_signed_deliveries_are_rejected(header: str | None) -> None:
    body = example("push/with-new-branch.payload.json")
    calls: list[tuple[str, str]] = []
    headers = {"X-GitHub-Event": "push"} | ({"X-Hub-Signature-256": header} if header else {})
    response = client_for(calls, json.loads(body)["repository"]["full_name"]).post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401 and calls == []


def test_deliveries_for_other_repos_or_events_change_nothing() -> None:
    body = example("push/with-new-branch.payload.json")
    calls: list[tuple[str, str]] = []
    client = client_for(calls, "someone/else")
    response = client.post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 202 and calls == []


def test_a_good_delivery_leads_to_detection_without_the_poll(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    game.watcher.refresh()
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    app = Starlette(routes=[webhook_route(SECRET, {"pd-cup/team-a": "team-a"},
                                          lambda team, event: game.watcher.refresh(source="webhook"))])
    body = json.dumps({"ref": "refs/heads/main", "after": game.remote.head(), "repository": {"full_name": "pd-cup/team-a"}}).encode()
    response = Client(app).post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 202
    (instance,) = fold(game.store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_kind == "revert"
    fixed = game.store.last("team-a", kinds=("fix.detected",))
    assert fixed is not None and fixed.source == "webhook"
