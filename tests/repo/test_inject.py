"""Injection as a simulated developer, on real repositories: file://, authenticated smart
HTTP, and pull requests through PyGithub against the local GitHub-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.app.cli import main
from bot.app.compose import make_injector, open_store
from bot.catalog.faults import Catalog
from bot.config import load_config
from bot.game.events import Landed
from bot.repo.injector import InjectionRefused
from bot.store.eventlog import Store
from tests.conftest import CHAT_APP
from tests.gitrepos import git, make_team_repo
from tests.servers.branch_protection import BranchProtection
from tests.servers.forge import BOT_TOKEN, GIT_SERVERS, Forge, open_forge

FAULT = "web-unreachable/service-selector-typo"
CATALOG = Catalog.load()
REVEALING = ("faultbot", "fault", "inject", "chaos", "bot")


def write_config(tmp_path: Path, team_lines: str, extra: str = "") -> Path:
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: Rehearsal, state: sqlite:///state/faultbot.db, workdir: cache}\n"
        "defaults:\n  personas:\n    - {name: Kenji Sato, email: k.sato@example.com}\n"
        f"{extra}teams:\n  - name: team-a\n{team_lines}",
        encoding="utf-8",
    )
    (tmp_path / "state").mkdir(exist_ok=True)
    return path


def injector_for(config_path: Path, store: Store | None = None, **hooks: object):  # type: ignore[no-untyped-def]
    config, _ = load_config(config_path)
    store = store or open_store(config, config_path)
    injector = make_injector(config, config_path, config.team("team-a"), store)
    for name, hook in hooks.items():
        setattr(injector, name, hook)
    return injector, store


def commits(bare: Path, branch: str = "main") -> list[str]:
    return git(bare, "log", "--format=%H", branch).splitlines()


def assert_looks_human(bare: Path, sha: str) -> None:
    author = git(bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", sha)
    assert author.startswith("Kenji Sato <k.sato@example.com>|Kenji Sato <k.sato@example.com>|")
    message = author.split("|", 2)[2]
    assert message.strip() in CATALOG.get(FAULT).spec.commit_messages
    assert "trailer" not in message.lower() and ":" not in message.splitlines()[-1].split(" ")[0]
    everything = git(bare, "show", "--format=%an%ae%cn%ce%B", sha).lower()
    assert not any(word in everything for word in REVEALING), everything


# --- push delivery -------------------------------------------------------------------------

def test_push_over_file_url(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    before = remote.head()
    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    result = injector.inject(CATALOG.get(FAULT))
    assert remote.head() == result.sha and result.parent == before
    assert git(remote.bare, "rev-parse", f"{result.sha}^") == before
    assert_looks_human(remote.bare, result.sha)
    assert "-    app: frontend\n+    app: frontend-web" in git(remote.bare, "show", result.sha)
    kinds = [e.kind for e in store.events("team-a")]
    assert kinds == ["inject.intent", "inject.landed", "repo.head"]
    landed = store.events("team-a")[-2].facts
    assert isinstance(landed, Landed) and landed.sha == result.sha and result.pushed_at is not None
    assert abs((datetime.now(timezone.utc) - result.pushed_at).total_seconds()) < 60


def test_a_landing_and_the_head_it_leaves_are_written_in_one_transaction(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):  # how the store opens each write (bot.store.eventlog)
            writes.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    injector.inject(CATALOG.get(FAULT))
    assert [e.kind for e in store.events("team-a")] == ["inject.intent", "inject.landed", "repo.head"]
    assert len(writes) == 2  # the intent before the push; the landing with its head after it


def test_second_inject_of_the_same_fault_is_refused(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    injector, _ = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    injector.inject(CATALOG.get(FAULT))
    head = remote.head()
    with pytest.raises(InjectionRefused, match="already injected"):
        injector.inject(CATALOG.get(FAULT))
    assert remote.head() == head


def test_a_concurrent_team_push_is_kept_and_the_fault_lands_on_top(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    pushes: list[str] = []

    def teammate_pushes_first(sha: str) -> None:
        if pushes:
            return
        pushes.append(sha)
        (remote.clone / "README.md").write_text("# chat\n\nOn-call: see the runbook.\n")
        git(remote.clone, "commit", "-qam", "Docs: on-call pointer")
        git(remote.clone, "push", "-q", "origin", "main")

    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"), before_push=teammate_pushes_first)
    result = injector.inject(CATALOG.get(FAULT))
    history = commits(remote.bare)
    team_commit = git(remote.clone, "rev-parse", "HEAD")
    assert history[0] == result.sha and history[1] == team_commit  # kept, and the fault on top
    assert result.parent == team_commit and pushes[0] != result.sha
    assert [e.kind for e in store.events("team-a")] == ["inject.intent", "inject.intent", "inject.landed", "repo.head"]


def test_a_head_seen_before_the_team_pushed_again_costs_one_retry_not_their_commit(tmp_path: Path) -> None:
    """The daemon passes the head its poll saw (no fetch when the cache has it); if the team
    pushed after that poll, the first push is refused as non-fast-forward and the retry fetches."""
    remote = make_team_repo(tmp_path)
    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    seen = injector.cache.sync("main")  # the cache as the plan left it, at the head the poll then saw
    (remote.clone / "README.md").write_text("# chat\n\nOn-call: see the runbook.\n")
    git(remote.clone, "commit", "-qam", "Docs: on-call pointer")
    git(remote.clone, "push", "-q", "origin", "main")
    team_commit = remote.head()
    result = injector.inject(CATALOG.get(FAULT), seen_head=seen)
    intents = [e.facts for e in store.events("team-a") if e.kind == "inject.intent"]
    assert [i.parent for i in intents] == [seen, team_commit]  # first on the head seen, then on the fetched one
    assert commits(remote.bare)[:2] == [result.sha, team_commit] and result.parent == team_commit


def test_the_head_seen_is_used_without_a_fetch_only_when_the_cache_has_it(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    injector, _ = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    seen = injector.cache.sync("main")
    (remote.clone / "README.md").write_text("# chat\n\nOn-call: see the runbook.\n")
    git(remote.clone, "commit", "-qam", "Docs: on-call pointer")
    git(remote.clone, "push", "-q", "origin", "main")
    assert injector.cache.sync("main", seen=seen) == seen  # the cache has it: taken as the head, nothing fetched
    assert injector.cache.sync("main", seen=remote.head()) == remote.head()  # not yet: fetched


def test_a_fault_that_no_longer_applies_is_refused_with_nothing_pushed(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    # Two labels, neither the `app` nor the `app.kubernetes.io/name` the fault's variants know.
    service = remote.clone / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("  selector:\n    app: frontend\n", "  selector:\n    tier: web\n    release: stable\n"))
    pods = remote.clone / "k8s" / "frontend.yaml"
    pods.write_text(pods.read_text().replace("      labels:\n        app: frontend\n        tier: web\n",
                                             "      labels:\n        app: frontend\n        tier: web\n        release: stable\n"))
    git(remote.clone, "commit", "-qam", "Select frontend pods by tier and release")
    git(remote.clone, "push", "-q", "origin", "main")
    head = remote.head()
    injector, store = injector_for(write_config(tmp_path, f"    url: {remote.url}\n"))
    with pytest.raises(InjectionRefused) as caught:
        injector.inject(CATALOG.get(FAULT))
    assert "does not apply to team-a at" in caught.value.message and "matches 2 places" in caught.value.message
    assert "nothing pushed" in caught.value.message and "\n" not in caught.value.message
    assert remote.head() == head and store.events("team-a") == []


def test_crash_between_push_and_record_makes_no_second_commit(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    config = write_config(tmp_path, f"    url: {remote.url}\n")

    def crash(sha: str) -> None:
        raise KeyboardInterrupt("power cut")

    injector, store = injector_for(config, after_push=crash)
    with pytest.raises(KeyboardInterrupt):
        injector.inject(CATALOG.get(FAULT))
    pushed = remote.head()
    assert [e.kind for e in store.events("team-a")] == ["inject.intent"]
    store.close()
    again, store = injector_for(config)  # a new process, the same state file
    result = again.inject(CATALOG.get(FAULT))
    assert result.recovered and result.sha == pushed
    assert remote.head() == pushed and len(commits(remote.bare)) == 2
    assert [e.kind for e in store.events("team-a")] == ["inject.intent", "inject.landed", "repo.head"]
    landed = store.events("team-a")[-2].facts
    assert isinstance(landed, Landed) and landed.recovered


def test_cli_dry_run_prints_the_diff_and_pushes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    config = write_config(tmp_path, f"    url: {remote.url}\n")
    head = remote.head()
    assert main(["inject", "--config", str(config), "team-a", FAULT, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nothing pushed" in out and "+    app: frontend-web" in out
    assert remote.head() == head
    assert main(["inject", "--config", str(config), "team-a", FAULT, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sha"] == remote.head() and shown["persona"] == "Kenji Sato" and shown["delivery"] == "push"
    assert shown["branch"] == "main" and shown["pushed_at"]


def test_cli_unknown_team_and_fault_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remote = make_team_repo(tmp_path)
    config = write_config(tmp_path, f"    url: {remote.url}\n")
    assert main(["inject", "--config", str(config), "team-z", FAULT]) == 2
    assert capsys.readouterr().err.strip() == "no team named 'team-z' in the config (teams: team-a)"
    assert main(["inject", "--config", str(config), "team-a", "web-unreachable/nope"]) == 2
    assert "no fault 'web-unreachable/nope'" in capsys.readouterr().err


# --- smart HTTP with a token, and the local GitHub --------------------------------------------

@pytest.fixture
def chat_forge(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Forge]:
    with open_forge(tmp_path, CHAT_APP, partial_clone=getattr(request, "param", True)) as opened:
        yield opened


@pytest.mark.parametrize("chat_forge", GIT_SERVERS, indirect=True)
def test_push_over_authenticated_smart_http(tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    url = chat_forge.git_http.url_for(chat_forge.full_name)
    config = write_config(tmp_path, f"    url: {url}\n")
    assert main(["inject", "--config", str(config), "team-a", FAULT]) == 0
    out = capsys.readouterr().out
    assert "injected" in out and BOT_TOKEN not in out
    head = git(chat_forge.bare, "rev-parse", "main")
    assert head.startswith(out.split(": ")[1][:12])
    assert all(r.authenticated for r in chat_forge.git_http.requests if r.status != 401)
    cache_config = (tmp_path / "cache" / "repos" / "team-a" / ".git" / "config").read_text()
    assert BOT_TOKEN not in cache_config and "x-access-token" not in cache_config


def test_a_wrong_token_gives_one_line_without_the_token(tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    wrong = "ghs_wrong-token-1234567890"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)
    url = chat_forge.git_http.url_for(chat_forge.full_name)
    config = write_config(tmp_path, f"    url: {url}\n")
    head = git(chat_forge.bare, "rev-parse", "main")
    assert main(["inject", "--config", str(config), "team-a", FAULT]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "faultbot: git clone" in err[0], err
    assert wrong not in captured.err + captured.out
    import base64

    assert base64.b64encode(f"x-access-token:{wrong}".encode()).decode() not in captured.err
    assert git(chat_forge.bare, "rev-parse", "main") == head


def pr_config(tmp_path: Path, forge: Forge) -> Path:
    url = forge.git_http.url_for(forge.full_name)
    return write_config(
        tmp_path,
        f"    repo: {forge.full_name}\n    url: {url}\n    delivery: pr\n",
        extra=f"github: {{api_url: '{forge.github.api_url}', request_interval: 0s}}\n",
    )


@pytest.mark.parametrize("chat_forge", GIT_SERVERS, indirect=True)
def test_pr_delivery_opens_and_merges_through_pygithub(tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    before = git(chat_forge.bare, "rev-parse", "main")
    injector, store = injector_for(pr_config(tmp_path, chat_forge))
    result = injector.inject(CATALOG.get(FAULT))
    assert result.pr_number == 1 and result.delivery == "pr"
    main_head = git(chat_forge.bare, "rev-parse", "main")
    assert main_head == result.landed_sha
    parents = git(chat_forge.bare, "log", "-1", "--format=%P", main_head).split()
    assert parents == [before, result.sha]  # a real merge commit of the fault commit
    assert_looks_human(chat_forge.bare, result.sha)
    landed = store.latest("team-a", Landed, FAULT)
    assert landed is not None and landed.pr == 1 and landed.landed_sha == main_head
    assert result.pushed_at is not None and result.pushed_at.tzinfo is not None
    assert any(r.method == "PUT" and r.path.endswith("/pulls/1/merge") for r in chat_forge.github.requests)


def test_a_pr_is_never_based_on_a_head_seen_before_the_team_pushed(tmp_path: Path, chat_forge: Forge,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # A PR branch is never refused as non-fast-forward, so the head a poll saw cannot stand in
    # for a fetch: the PR would rest on a tree the rehearsal never judged, without the team's commit.
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    injector, _ = injector_for(pr_config(tmp_path, chat_forge))
    seen = injector.cache.sync("main")
    work = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", chat_forge.bare.as_uri(), str(work))
    (work / "README.md").write_text("# chat\n\nOn-call: see the runbook.\n")
    git(work, "-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com", "commit", "-qam", "Docs: on-call pointer")
    git(work, "push", "-q", "origin", "main")
    team_commit = git(chat_forge.bare, "rev-parse", "main")
    result = injector.inject(CATALOG.get(FAULT), seen_head=seen)
    assert result.parent == team_commit != seen
    assert git(chat_forge.bare, "log", "-1", "--format=%P", result.sha) == team_commit


@pytest.mark.parametrize("chat_forge", GIT_SERVERS, indirect=True)
def test_pr_refused_by_branch_protection_is_one_line_and_left_open(tmp_path: Path, chat_forge: Forge,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    chat_forge.github.protect(chat_forge.owner, chat_forge.name, "main", BranchProtection(required_status_checks=("ci",)))
    before = git(chat_forge.bare, "rev-parse", "main")
    assert main(["inject", "--config", str(pr_config(tmp_path, chat_forge)), "team-a", FAULT]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PR #1" in err[0] and "refused the merge" in err[0] and "left open" in err[0]
    assert git(chat_forge.bare, "rev-parse", "main") == before
    from github import Auth, Github

    client = Github(base_url=chat_forge.github.api_url, auth=Auth.Token(BOT_TOKEN), seconds_between_requests=None, seconds_between_writes=None)
    assert client.get_repo(chat_forge.full_name).get_pull(1).state == "open"
