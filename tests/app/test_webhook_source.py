"""A detection a webhook triggered is logged as the webhook's, not the poll's (issue 16 item 8).

The real daemon with its web side: the poll is an hour away, so only the signed delivery can
make the daemon look; the fix it finds must say so (`webhook:push`), as must the PR data that
follows it, and a `workflow_run` delivery's run is recorded as `webhook:workflow_run`.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from github import Auth, Github

from bot.app.control import run_daemon
from bot.config import sqlite_url_for
from bot.game.events import CIRun, Fixed, Kind, Landed
from bot.store.eventlog import Store
from bot.web.webhooks import signature
from tests.app.test_daemon import wait_until
from tests.conftest import CHAT_APP
from tests.servers.forge import BOT_TOKEN, open_forge
from tests.servers.git_cli import run_git

SECRET = "It's a Secret to Everybody"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


def test_a_fix_found_because_of_a_webhook_is_logged_with_the_webhooks_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("FAULTBOT_WEBHOOK_SECRET", SECRET)
    with open_forge(tmp_path, CHAT_APP) as forge:
        config = tmp_path / "repos.yaml"
        config.write_text(
            "event: {name: Game day, state: sqlite:///state.db, workdir: cache}\n"
            "poll_interval: 1h\n"
            "web: {port: 0, webhook_secret_env: FAULTBOT_WEBHOOK_SECRET}\n"
            f"github: {{api_url: '{forge.github.api_url}', request_interval: 0s}}\n"
            "defaults:\n  personas: [{name: Kenji Sato, email: k.sato@example.com}]\n"
            "  scenario: {faults: [web-unreachable/service-selector-typo], first_delay: 0s, time_limit: 1h}\n"
            f"teams:\n  - name: team-a\n    repo: {forge.full_name}\n    url: {forge.git_http.url_for(forge.full_name)}\n",
            encoding="utf-8")
        store = Store(sqlite_url_for(tmp_path / "state.db"))
        stop = threading.Event()
        holder: dict[str, object] = {}
        thread = threading.Thread(target=lambda: holder.setdefault("d", run_daemon(config, stop=stop, timeout=timedelta(minutes=1))),
                                  daemon=True)
        thread.start()
        try:
            wait_until(lambda: store.last("team-a", kinds=(Kind.LANDED,)) is not None, 20)
            landed = store.latest("team-a", Landed)
            assert landed is not None
            work = forge.clone("alice")
            run_git(*ALICE, "revert", "--no-edit", landed.sha, cwd=work)
            forge.push(work, "HEAD:main")
            from bot.app.daemon import _RUNNING

            web_url = next(d.web_url for d in _RUNNING.values() if d.web_url)
            after = run_git("rev-parse", "HEAD", cwd=work).stdout.decode().strip()
            # The fields of a push delivery faultbot reads (bot/web/payloads.py: what GitHub always sends).
            body = json.dumps({"ref": "refs/heads/main", "after": after,
                               "repository": {"full_name": forge.full_name}}).encode()
            answer = httpx.post(f"{web_url}/webhooks/github", content=body, timeout=10, headers={
                "X-GitHub-Event": "push", "X-Hub-Signature-256": signature(SECRET, body)})
            assert answer.status_code == 202
            wait_until(lambda: store.last("team-a", kinds=(Kind.FIXED,)) is not None, 15)
            wait_until(lambda: store.last("team-a", kinds=(Kind.FIX_PR,)) is not None, 15)
            # CI by webhook: the workflow_run delivery's run is recorded as it came, with its source.
            # (First let the look finish: its deploy refresh asks GitHub about both commits' CI once.)
            fix_sha = store.latest("team-a", Fixed)
            assert fix_sha is not None
            wait_until(lambda: any(r.path.endswith("/actions/runs") and fix_sha.sha in r.query
                                   for r in forge.github.requests), 15)
            forge.github.add_workflow_run(forge.owner, forge.name, landed.landed_sha or landed.sha, conclusion="failure")
            client = Github(base_url=forge.github.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_requests=None)
            _, listing = client.requester.requestJsonAndCheck("GET", f"/repos/{forge.full_name}/actions/runs")
            body = json.dumps({"action": "completed", "workflow_run": listing["workflow_runs"][0],
                               "repository": {"full_name": forge.full_name}}).encode()
            answer = httpx.post(f"{web_url}/webhooks/github", content=body, timeout=10, headers={
                "X-GitHub-Event": "workflow_run", "X-Hub-Signature-256": signature(SECRET, body)})
            assert answer.status_code == 202
            wait_until(lambda: store.last("team-a", kinds=(Kind.CI,)) is not None, 15)
        finally:
            stop.set()
            thread.join(timeout=30)
        fixed = store.last("team-a", kinds=(Kind.FIXED,))
        enriched = store.last("team-a", kinds=(Kind.FIX_PR,))
        ci = store.last("team-a", kinds=(Kind.CI,))
        store.close()
    assert fixed is not None and fixed.source == "webhook:push"
    assert enriched is not None and enriched.source == "webhook:push" and enriched.id > fixed.id
    assert ci is not None and ci.source == "webhook:workflow_run"
    assert isinstance(ci.facts, CIRun) and ci.facts.conclusion == "failure" and ci.facts.role == "injected"
