"""Detecting the fix on real repositories: revert vs forward fix for every fault, unrelated
and automation commits, split fixes, PR merges on the local GitHub, forged dates, regressions."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app.compose import make_injector, make_watcher, open_store
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog, Fault
from bot.catalog.faultspec import ReferenceFix
from bot.catalog.rehearsal import apply_fix, rehearse
from bot.config import load_config
from bot.forge import PullRequest
from bot.game.events import Fixed, FixPull, Kind, Who
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.watcher import TeamWatcher
from bot.repo.workspace import apply_patch
from bot.store.eventlog import Store
from tests.catalog.test_catalog import PROVEN_ELSEWHERE
from tests.conftest import CHAT_APP
from tests.gitrepos import TeamRepo, git, make_team_repo
from tests.repo.test_inject import write_config
from tests.servers.forge import BOT_TOKEN, GIT_SERVERS, MEMBER_LOGIN, MEMBER_TOKEN, Forge, open_forge
from tests.servers.git_cli import run_git
from tests.servers.git_http import git_auth_config

CATALOG = Catalog.load()
SELECTOR = "web-unreachable/service-selector-typo"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]


@dataclass
class Game:
    """One team repo with one fault injected, and the bot's view of it."""

    remote: TeamRepo
    config: Path
    store: Store
    watcher: TeamWatcher
    fault: Fault
    injected: str

    def team_pull(self) -> None:
        git(self.remote.clone, "pull", "-q", "--ff-only", "origin", "main")

    def team_commit(self, message: str, *extra: str) -> str:
        git(self.remote.clone, *ALICE, *extra, "commit", "-qam", message)
        git(self.remote.clone, "push", "-q", "origin", "HEAD:main")
        return git(self.remote.clone, "rev-parse", "HEAD")

    def instance(self) -> FaultInstance:
        self.watcher.refresh()
        return fold(self.store.events("team-a"))[0]


def start_game(tmp_path: Path, fault_id: str, source: Path = CHAT_APP) -> Game:
    remote = make_team_repo(tmp_path, source=source)
    config_path = write_config(tmp_path, f"    url: {remote.url}\n")
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    team = config.team("team-a")
    fault = CATALOG.get(fault_id)
    injected = make_injector(config, config_path, team, store).inject(fault).sha
    watcher = make_watcher(config, config_path, team, store, CATALOG)
    game = Game(remote, config_path, store, watcher, fault, injected)
    game.team_pull()
    return game


def apply_reference_fix(game: Game, fix: ReferenceFix) -> None:
    """What a team member does by hand: the reference forward fix, in their own clone."""
    instance = fold(game.store.events("team-a"))[0]
    apply_fix(game.fault, fix, game.remote.clone, RoleBinding.from_json(instance.binding), apply_patch=apply_patch)
    git(game.remote.clone, "add", "-A")


def forward_fix(fault: Fault, source: Path = CHAT_APP) -> ReferenceFix:
    """The reference forward fix that is not a revert on this repository (rehearsed to find it,
    unless the fault has one forward fix for every shape: tests/catalog proves that one mends it)."""
    forward = [f for f in fault.spec.fixes if f.kind == "forward"]
    if len(forward) == 1 and fault.spec.variants is None and not forward[0].when:
        return forward[0]
    from bot.app.compose import behaviour_runner

    fix = rehearse(fault, source, apply_patch=apply_patch, runner=behaviour_runner()).forward_fix()
    assert fix is not None, f"{fault.id}: no forward fix mends it here without restoring the original"
    return fix


# The faults that play on the chat app (the others are proven on the repos they fit).
CHAT_APP_FAULTS = sorted(set(CATALOG.faults) - set(PROVEN_ELSEWHERE))


@pytest.mark.parametrize("fault_id", CHAT_APP_FAULTS)
def test_revert_is_detected_as_revert(tmp_path: Path, fault_id: str) -> None:
    game = start_game(tmp_path, fault_id)
    assert game.instance().state is State.injected
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    fixed = game.instance()
    assert fixed.state is State.fixed and fixed.fix_kind == "revert"
    assert fixed.fix_sha == game.remote.head() and fixed.fixed_by == Who("Alice Ng", "alice@example.com")
    assert fixed.time_to_fix_s is not None and fixed.time_to_fix_s >= 0


@pytest.mark.parametrize("fault_id", CHAT_APP_FAULTS)
def test_reference_forward_fix_is_detected_as_forward_fix(tmp_path: Path, fault_id: str) -> None:
    game = start_game(tmp_path, fault_id)
    fix = forward_fix(game.fault)
    apply_reference_fix(game, fix)
    sha = game.team_commit(fix.message or fix.name)
    fixed = game.instance()
    assert (fixed.state, fixed.fix_kind, fixed.fix_sha) == (State.fixed, "forward-fix", sha)
    assert fixed.failing == ()


def test_unrelated_commits_leave_the_fault_open(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    (game.remote.clone / "README.md").write_text("# chat\n\nOn-call: #chat-oncall\n")
    game.team_commit("Docs: on-call channel")
    frontend = game.remote.clone / "k8s" / "frontend.yaml"
    frontend.write_text(frontend.read_text().replace("chat-frontend:1.4.2", "chat-frontend:1.4.3"))
    git(game.remote.clone, "-c", "user.name=github-actions[bot]",
        "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com",
        "commit", "-qam", "chore(deploy): bump images to 1.4.3")
    git(game.remote.clone, "push", "-q", "origin", "main")
    git(game.remote.clone, "checkout", "-q", "-b", "try-fix")
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "try-fix")  # a fix on another branch is not on main
    instance = game.instance()
    assert instance.state is State.injected and instance.fix_sha is None
    assert any("matches no workload's pods" in reason for reason in instance.failing), instance.failing
    assert instance.first_response is not None and instance.first_response.author == "Alice Ng"


def test_automation_commit_is_never_the_fix_or_the_response(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    git(game.remote.clone, "-c", "user.name=github-actions[bot]", "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com",
        "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    instance = game.instance()
    assert instance.state is State.injected and instance.first_response is None


def test_a_fix_split_over_two_commits_is_found_at_the_second(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    fix = next(f for f in game.fault.spec.fixes if f.kind == "forward")
    first_half = fix.model_copy(update={"edits": fix.edits[:1]})
    second_half = fix.model_copy(update={"edits": fix.edits[1:]})
    apply_reference_fix(game, first_half)
    game.team_commit("frontend: add component label")
    assert game.instance().state is State.injected
    apply_reference_fix(game, second_half)
    second = game.team_commit("frontend: select by component")
    fixed = game.instance()
    assert fixed.fix_sha == second and fixed.fix_kind == "forward-fix"


def test_forged_author_date_does_not_change_fixed_at(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    forged = "2026-01-01T00:00:00+00:00"
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "commit", "-q", "--amend", "--no-edit", f"--date={forged}")
    git(game.remote.clone, "push", "-q", "origin", "main")
    before = datetime.now(timezone.utc)
    fixed = game.instance()
    assert fixed.fixed_at is not None and fixed.fixed_at >= before
    assert fixed.fixed_at_source == "observed"
    assert fixed.fixed_at_uncertainty_s is not None and fixed.fixed_at_uncertainty_s >= 0
    assert fixed.time_to_fix_s is not None and fixed.time_to_fix_s >= 0


def test_a_re_break_after_the_fix_is_a_regression(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    assert game.instance().state is State.fixed
    git(game.remote.clone, *ALICE, "revert", "--no-edit", "HEAD")  # revert the revert
    git(game.remote.clone, "push", "-q", "origin", "main")
    regressed = game.instance()
    assert regressed.state is State.regressed and regressed.regressions == 1
    git(game.remote.clone, *ALICE, "revert", "--no-edit", "HEAD")
    git(game.remote.clone, "push", "-q", "origin", "main")
    again = game.instance()
    assert again.state is State.fixed and again.fix_sha == game.remote.head()


def test_nothing_changed_costs_one_ls_remote(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    game.watcher.refresh()
    cache_head = git(game.watcher.cache.path, "rev-parse", "HEAD")
    result = game.watcher.refresh()
    assert not result.moved and result.recorded == []
    assert git(game.watcher.cache.path, "rev-parse", "HEAD") == cache_head


# --- a fix merged through a PR on the local GitHub ------------------------------------------

@pytest.fixture
def chat_forge(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Forge]:
    with open_forge(tmp_path, CHAT_APP, partial_clone=getattr(request, "param", True)) as opened:
        yield opened


@dataclass
class PrGame:
    """A fault injected on the local GitHub, then fixed by alice through a merged PR."""

    store: Store
    watcher: TeamWatcher
    number: int
    merged_at: datetime


def fix_through_a_pr(tmp_path: Path, forge: Forge, monkeypatch: pytest.MonkeyPatch) -> PrGame:
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    url = forge.git_http.url_for(forge.full_name)
    config_path = write_config(tmp_path, f"    repo: {forge.full_name}\n    url: {url}\n",
                               extra=f"github: {{api_url: '{forge.github.api_url}', request_interval: 0s}}\n")
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    team = config.team("team-a")
    injected = make_injector(config, config_path, team, store).inject(CATALOG.get(SELECTOR)).sha
    work = forge.clone("alice")
    run_git(*ALICE, "checkout", "-q", "-b", "alice/revert-selector", cwd=work)
    run_git(*ALICE, "revert", "--no-edit", injected, cwd=work)
    run_git(*git_auth_config(BOT_TOKEN), "push", "-q", "origin", "alice/revert-selector", cwd=work)
    from github import Auth, Github

    alice = Github(base_url=forge.github.api_url, auth=Auth.Token(MEMBER_TOKEN),
                   seconds_between_requests=None, seconds_between_writes=None).get_repo(forge.full_name)
    pr = alice.create_pull(base="main", head="alice/revert-selector", title="Revert selector change", body="Site is down")
    pr.merge(merge_method="merge")
    merged_at = alice.get_pull(pr.number).merged_at.replace(tzinfo=timezone.utc)
    return PrGame(store, make_watcher(config, config_path, team, store, CATALOG), pr.number, merged_at)


@pytest.mark.parametrize("chat_forge", GIT_SERVERS, indirect=True)
def test_fix_merged_by_pr_carries_number_author_and_merged_at(tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch) -> None:
    game = fix_through_a_pr(tmp_path, chat_forge, monkeypatch)
    game.watcher.refresh()
    (instance,) = fold(game.store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_kind == "revert"
    assert instance.pr is not None and instance.pr.number == game.number and instance.pr.author == MEMBER_LOGIN
    assert instance.fixed_at_source == "github:merged_at"
    assert instance.fixed_at == game.merged_at
    assert instance.fixed_by is not None and instance.fixed_by.name == "Alice Ng" and instance.fixed_by.login == MEMBER_LOGIN
    assert instance.first_response is not None and instance.first_response.kind == "pull_request"


def test_a_new_branch_is_the_first_response(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    game.watcher.refresh()  # the baseline: main only
    git(game.remote.clone, "checkout", "-q", "-b", "investigate-503")
    git(game.remote.clone, "push", "-q", "origin", "investigate-503")
    instance = game.instance()
    assert instance.state is State.injected
    assert instance.first_response is not None
    assert instance.first_response.kind == "branch" and instance.first_response.branch == "investigate-503"


@pytest.mark.parametrize("chat_forge", GIT_SERVERS, indirect=True)
def test_a_fix_found_while_github_is_rate_limited_is_amended_with_the_pr_later(
    tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time_machine

    game = fix_through_a_pr(tmp_path, chat_forge, monkeypatch)
    watcher, store = game.watcher, game.store
    chat_forge.github.exhaust_rate_limit(timedelta(minutes=10))
    watcher.refresh()
    (during,) = fold(store.events("team-a"))
    assert during.state is State.fixed and during.pr is None and during.pr_pending  # git proved it; PR unknown yet
    assert during.as_json()["stale"] is True
    calls = len(chat_forge.github.requests)
    watcher.refresh()  # still limited: the forge waits for the reset instead of asking again
    assert len(chat_forge.github.requests) == calls
    chat_forge.github.restore_rate_limit()
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=11)):  # past the reset
        watcher.refresh()
    (after,) = fold(store.events("team-a"))
    assert after.pr is not None and after.pr.number == game.number and not after.pr_pending
    assert after.fixed_at == game.merged_at and after.fixed_at_source == "github:merged_at"
    assert after.as_json()["stale"] is False


def test_a_force_push_that_drops_the_fault_is_a_fix(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    assert game.instance().state is State.injected
    git(game.remote.clone, "reset", "-q", "--hard", "HEAD~1")  # back to before the fault
    git(game.remote.clone, "push", "-q", "--force", "origin", "main")  # the team's choice, not ours
    fixed = game.instance()
    assert fixed.state is State.fixed and fixed.fix_kind == "revert" and fixed.fix_sha == game.remote.head()


def test_a_fix_that_adds_a_new_manifest_is_found_at_that_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain-folder"  # no kustomization: every YAML file is deployed
    shutil.copytree(CHAT_APP, plain)
    (plain / "k8s" / "kustomization.yaml").unlink()
    game = start_game(tmp_path, "db-unreachable/db-netpol-blocks-backend", source=plain)
    policy = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-api-to-db\n  namespace: chat\n"
        "spec:\n  podSelector:\n    matchLabels:\n      app: postgres\n  policyTypes: [Ingress]\n  ingress:\n"
        "    - from:\n        - podSelector:\n            matchLabels:\n              app: backend\n"
        "      ports:\n        - port: 5432\n"
    )
    (game.remote.clone / "k8s" / "allow-api-to-db.yaml").write_text(policy)
    git(game.remote.clone, "add", "-A")
    sha = game.team_commit("Allow the API to reach the database again")
    fixed = game.instance()
    assert (fixed.state, fixed.fix_kind, fixed.fix_sha) == (State.fixed, "forward-fix", sha)


def test_a_later_faults_fix_does_not_rewrite_an_earlier_fix(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR)
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "main")
    first = game.instance()
    config, _ = load_config(game.config)
    second = make_injector(config, game.config, config.team("team-a"), game.store).inject(
        CATALOG.get("web-unreachable/service-targetport-wrong"))
    game.team_pull()
    git(game.remote.clone, *ALICE, "revert", "--no-edit", second.sha)
    git(game.remote.clone, "push", "-q", "origin", "main")
    game.watcher.refresh()
    by_fault = {i.fault: i for i in fold(game.store.events("team-a"))}
    assert by_fault[SELECTOR].fix_sha == first.fix_sha and by_fault[SELECTOR].fixed_at == first.fixed_at
    assert by_fault["web-unreachable/service-targetport-wrong"].state is State.fixed


@pytest.mark.parametrize("chat_forge", [False], indirect=True)
def test_a_fix_is_recorded_from_git_first_then_enriched_with_its_pr(
    tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = fix_through_a_pr(tmp_path, chat_forge, monkeypatch)
    game.watcher.refresh()
    kinds = [e.kind for e in game.store.events("team-a", kinds=(Kind.FIXED, Kind.FIX_PR, Kind.RESPONSE))]
    assert kinds[0] is Kind.FIXED and sorted(kinds[1:]) == sorted([Kind.FIX_PR, Kind.RESPONSE])  # git's facts first
    fixed, enriched = game.store.latest("team-a", Fixed), game.store.latest("team-a", FixPull)
    assert fixed is not None and fixed.pr is None and fixed.fixed_at_source == "observed" and fixed.pr_lookup == "pending"
    assert enriched is not None and enriched.sha == fixed.sha and enriched.source == "rest"
    assert enriched.pr is not None and enriched.pr.number == game.number and enriched.pr.merged_at == game.merged_at


@pytest.mark.parametrize("chat_forge", [False], indirect=True)
def test_a_pr_a_webhook_delivered_is_used_without_asking_github(
    tmp_path: Path, chat_forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = fix_through_a_pr(tmp_path, chat_forge, monkeypatch)
    merged = chat_forge.github.requests
    head, merge = (run_git("rev-parse", ref, cwd=chat_forge.bare).stdout.decode().strip()
                   for ref in ("alice/revert-selector", "main"))
    delivered = PullRequest(game.number, "https://github.example/pr", "alice/revert-selector", head, MEMBER_LOGIN,
                            None, True, game.merged_at, merge, "closed")  # as a pull_request delivery carries it
    game.watcher.note_pull(delivered)
    game.watcher.refresh()
    (instance,) = fold(game.store.events("team-a"))
    assert instance.pr is not None and instance.pr.number == game.number and instance.fixed_at == game.merged_at
    assert instance.fixed_by is not None and instance.fixed_by.login == MEMBER_LOGIN
    enriched = game.store.latest("team-a", FixPull)
    assert enriched is not None and enriched.source == "webhook"
    asked = [r.path for r in chat_forge.github.requests[len(merged):]]
    assert not [p for p in asked if "/commits/" in p]  # only the first-response lookup (/pulls) was made
