"""Squash and rebase merges, disabled merge methods and required checks, as GitHub does them,
driven through PyGithub; the commits they make are read back with real git."""

from __future__ import annotations

import pytest
from github import Auth, Github, GithubException
from github.Repository import Repository

from tests.servers.branch_protection import BranchProtection
from tests.servers.forge import BOT_TOKEN, MEMBER_LOGIN, MEMBER_TOKEN, Forge
from tests.servers.git_cli import GitCommandError, commit_file, git_text, run_git

ALICE = ("Alice Member", "alice@team-a.test")
BOB = ("Bob Other", "bob@team-a.test")


def _repo(forge: Forge, token: str = BOT_TOKEN) -> Repository:
    client = Github(base_url=forge.github.api_url, auth=Auth.Token(token), retry=None,
                    seconds_between_requests=None, seconds_between_writes=None)
    return client.get_repo(forge.full_name)


def _branch(forge: Forge, name: str, *changes: tuple[str, str, str, tuple[str, str]]) -> list[str]:
    """Push `name` with one commit per (path, text, message, author); the new shas."""
    work = forge.clone(f"work-{name}")
    run_git("checkout", "--quiet", "-b", name, cwd=work)
    shas = [commit_file(work, path, text, message, author) for path, text, message, author in changes]
    forge.push(work, f"HEAD:refs/heads/{name}")
    return shas


def _main_moves_on(forge: Forge, path: str, text: str, message: str) -> str:
    """Someone commits straight to main meanwhile; main's new head."""
    work = forge.clone("main-work")
    commit_file(work, path, text, message)
    forge.push(work, "HEAD:main")
    return git_text("rev-parse", "main", cwd=forge.bare)


def _show(forge: Forge, sha: str, fmt: str) -> str:
    return git_text("log", "-1", f"--format={fmt}", sha, cwd=forge.bare)


@pytest.fixture
def alice(forge: Forge) -> Repository:
    forge.github.add_user(MEMBER_LOGIN, *ALICE)
    return _repo(forge, MEMBER_TOKEN)


def test_squash_of_several_commits_is_one_commit_by_the_pr_author(forge: Forge, alice: Repository) -> None:
    heads = _branch(forge, "feature", ("a.txt", "a\n", "Add a", ALICE), ("b.txt", "b\n", "Add b\n\nWhy b.", BOB))
    base = git_text("rev-parse", "main", cwd=forge.bare)
    pr = alice.create_pull(base="main", head="feature", title="Add files", body="")

    status = _repo(forge).get_pull(pr.number).merge(merge_method="squash")  # merged by the bot
    squash = git_text("rev-parse", "main", cwd=forge.bare)
    assert status.sha == squash and squash not in heads
    assert git_text("rev-list", "--parents", "-n1", squash, cwd=forge.bare).split() == [squash, base]
    assert _show(forge, squash, "%T") == _show(forge, heads[-1], "%T")
    assert _show(forge, squash, "%an <%ae>|%cn <%ce>") == "Alice Member <alice@team-a.test>|GitHub <noreply@github.com>"
    assert _show(forge, squash, "%B").strip() == (
        "Add files (#1)\n\n* Add a\n\n* Add b\n\nWhy b.\n\nCo-authored-by: Bob Other <bob@team-a.test>"
    )
    merged = _repo(forge).get_pull(pr.number)
    assert (merged.merged, merged.merge_commit_sha) == (True, squash)
    # The PR's own commits are not on main, yet GitHub still maps them and the squash to the PR.
    assert [p.number for p in _repo(forge).get_commit(squash).get_pulls()] == [1]
    assert [p.number for p in _repo(forge).get_commit(heads[0]).get_pulls()] == [1]


def test_squash_of_one_commit_keeps_its_title_and_body(forge: Forge, alice: Repository) -> None:
    _branch(forge, "one", ("a.txt", "a\n", "Tune probes\n\nThe old timeout was too short.", ALICE))
    alice.create_pull(base="main", head="one", title="PR title", body="").merge(merge_method="squash")
    assert _show(forge, "main", "%B").strip() == "Tune probes (#1)\n\nThe old timeout was too short."


def test_an_explicit_title_and_message_win(forge: Forge, alice: Repository) -> None:
    _branch(forge, "one", ("a.txt", "a\n", "Tune probes", ALICE))
    pr = alice.create_pull(base="main", head="one", title="PR title", body="")
    pr.merge(merge_method="squash", commit_title="Probes: longer timeout", commit_message="Fixes flakiness.")
    assert _show(forge, "main", "%B").strip() == "Probes: longer timeout\n\nFixes flakiness."


def test_rebase_replays_every_commit_with_new_shas(forge: Forge, alice: Repository) -> None:
    heads = _branch(forge, "feature", ("a.txt", "a\n", "Add a", ALICE), ("b.txt", "b\n", "Add b", BOB))
    base = _main_moves_on(forge, "c.txt", "c\n", "Meanwhile on main")
    pr = alice.create_pull(base="main", head="feature", title="Add files", body="")
    assert _repo(forge).get_pull(pr.number).rebaseable is True

    status = pr.merge(merge_method="rebase")
    tip = git_text("rev-parse", "main", cwd=forge.bare)
    replayed = git_text("rev-list", "--reverse", f"{base}..{tip}", cwd=forge.bare).split()
    assert status.sha == tip and len(replayed) == 2 and not set(replayed) & set(heads)
    for new, old in zip(replayed, heads, strict=True):
        assert _show(forge, new, "%an <%ae>|%at|%s") == _show(forge, old, "%an <%ae>|%at|%s")
        assert _show(forge, new, "%cn <%ce>") == "GitHub <noreply@github.com>"
    assert sorted(git_text("ls-tree", "--name-only", tip, cwd=forge.bare).split()) == [
        "README.md", "a.txt", "b.txt", "c.txt", "k8s",
    ]
    assert _repo(forge).get_pull(pr.number).merge_commit_sha == tip
    assert [p.number for p in _repo(forge).get_commit(replayed[0]).get_pulls()] == [1]


def test_a_rebase_that_conflicts_is_refused_and_nothing_moves(forge: Forge, alice: Repository) -> None:
    _branch(forge, "feature", ("k8s/deployment.yaml", "replicas: 5\n", "Five", ALICE))
    before = _main_moves_on(forge, "k8s/deployment.yaml", "replicas: 7\n", "Seven")
    pr = alice.create_pull(base="main", head="feature", title="Five", body="")
    assert _repo(forge).get_pull(pr.number).rebaseable is False
    with pytest.raises(GithubException) as refused:
        pr.merge(merge_method="rebase")
    assert (refused.value.status, refused.value.data["message"]) == (405, "Pull Request is not mergeable")
    assert git_text("rev-parse", "main", cwd=forge.bare) == before


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("merge", "Merge commits are not allowed on this repository."),
        ("squash", "Squash merges are not allowed on this repository."),
        ("rebase", "Rebase merges are not allowed on this repository."),
    ],
)
def test_a_disabled_merge_method_gets_githubs_405(forge: Forge, alice: Repository, method: str, message: str) -> None:
    _branch(forge, "feature", ("a.txt", "a\n", "Add a", ALICE))
    forge.github.set_merge_methods("team-a", "chat", **{method: False})
    pr = alice.create_pull(base="main", head="feature", title="Add a", body="")
    with pytest.raises(GithubException) as refused:
        pr.merge(merge_method=method)
    assert (refused.value.status, refused.value.data["message"]) == (405, message)
    assert refused.value.data["documentation_url"] == "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
    other = "squash" if method != "squash" else "merge"
    assert pr.merge(merge_method=other).merged is True


def test_required_checks_block_the_merge_until_they_pass(forge: Forge, alice: Repository) -> None:
    (head,) = _branch(forge, "feature", ("a.txt", "a\n", "Add a", ALICE))
    forge.github.protect("team-a", "chat", "main", BranchProtection(required_status_checks=("build", "lint")))
    pr = alice.create_pull(base="main", head="feature", title="Add a", body="")
    with pytest.raises(GithubException) as none_yet:
        pr.merge()
    assert none_yet.value.data["message"] == "2 of 2 required status checks are expected."

    forge.github.add_workflow_run("team-a", "chat", head, "completed", "success", name="build")
    forge.github.add_workflow_run("team-a", "chat", head, "completed", "failure", name="lint")
    with pytest.raises(GithubException) as one_left:
        pr.merge()
    assert one_left.value.data["message"] == "1 of 2 required status checks are expected."
    forge.github.add_commit_status("team-a", "chat", head, "success", context="lint")
    assert _repo(forge).get_pull(pr.number).mergeable_state == "clean"
    assert pr.merge().merged is True


def test_a_pr_only_rule_allows_the_api_merge_but_not_a_push(forge: Forge, alice: Repository) -> None:
    """Requiring a pull request is met by merging one; the same rule refuses a direct push."""
    _branch(forge, "feature", ("a.txt", "a\n", "Add a", ALICE))
    forge.github.protect("team-a", "chat", "main")
    assert alice.create_pull(base="main", head="feature", title="Add a", body="").merge().merged is True
    work = forge.clone("direct")
    commit_file(work, "b.txt", "b\n", "Direct change")
    with pytest.raises(GitCommandError, match="protected branch hook declined"):
        forge.push(work, "HEAD:main")
