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
from bot.web.webhooks import parse, signature, verify, webhook_route
from tests.gitrepos import git
from tests.repo.test_detect import ALICE, SELECTOR, start_game
from tests.servers.git_cli import run_git
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
    route = webhook_route(SECRET, {repo: "team-a"}, lambda delivery: calls.append((delivery.team, delivery.event)))
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
                                          lambda delivery: game.watcher.refresh(source="webhook"))])
    body = json.dumps({"ref": "refs/heads/main", "after": game.remote.head(), "repository": {"full_name": "pd-cup/team-a"}}).encode()
    response = Client(app).post("/webhooks/github", content=body, headers={
        "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 202
    (instance,) = fold(game.store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_kind == "revert"
    fixed = game.store.last("team-a", kinds=("fix.detected",))
    assert fixed is not None and fixed.source == "webhook"


def test_a_merged_pull_request_delivery_carries_the_pr_so_github_need_not_be_asked() -> None:
    payload = json.loads(example("pull_request/closed.payload.json"))
    pr = payload["pull_request"]
    delivery = parse("team-a", "pull_request", payload)
    assert delivery.pull is not None and delivery.ci is None
    assert (delivery.pull.number, delivery.pull.author, delivery.pull.merged) == (pr["number"], pr["user"]["login"], pr["merged"])
    assert delivery.pull.head_sha == pr["head"]["sha"] and delivery.pull.opened_at is not None
    assert delivery.pull.merge_sha == (pr["merge_commit_sha"] if pr["merged"] else None)
    assert delivery.pull.opened_at.isoformat().replace("+00:00", "Z") == pr["created_at"]


def test_a_workflow_run_delivery_carries_the_run(tmp_path: Path) -> None:
    from github import Auth, Github

    from tests.conftest import CHAT_APP
    from tests.servers.forge import BOT_TOKEN, open_forge

    with open_forge(tmp_path, CHAT_APP, partial_clone=False) as forge:
        sha = run_git("rev-parse", "main", cwd=forge.bare).stdout.decode().strip()
        forge.github.add_workflow_run(forge.owner, forge.name, sha, status="completed", conclusion="failure", name="build")
        client = Github(base_url=forge.github.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_requests=None)
        _, listing = client.requester.requestJsonAndCheck("GET", f"/repos/{forge.full_name}/actions/runs")
    # GitHub's workflow_run webhook carries the same workflow-run object its REST API lists.
    payload = {"action": "completed", "workflow_run": listing["workflow_runs"][0], "repository": {"full_name": forge.full_name}}
    delivery = parse("team-a", "workflow_run", payload)
    assert delivery.ci is not None and delivery.pull is None
    head_sha, run = delivery.ci
    assert head_sha == sha and (run.name, run.status, run.conclusion) == ("build", "completed", "failure")
    assert run.created_at is not None and run.created_at.tzinfo is not None
    suite = parse("team-a", "check_suite", {"check_suite": {"head_sha": sha, "status": "completed", "conclusion": "success",
                                                           "app": {"name": "GitHub Actions"}}})
    assert suite.ci is not None and suite.ci[0] == sha and (suite.ci[1].name, suite.ci[1].conclusion) == ("GitHub Actions", "success")
