"""The smart-HTTP server is as strict as GitHub: partial clones with authenticated lazy
fetches, branch protection in GitHub's words, and outages a test switches at runtime.
Every client here is the real `git`."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers.branch_protection import BranchProtection
from tests.servers.forge import BOT_TOKEN, Forge
from tests.servers.git_cli import commit_file, git_text, run_git
from tests.servers.git_http import git_auth_config

NO_HELPER = ["-c", "credential.helper="]


def _git(*args: str, cwd: Path | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Real git that may fail; text output for assertions on its messages."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout)


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait for something a server thread does (bounded; fails rather than hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.02)


def _partial_clone(forge: Forge, target: Path, protocol: str = "2") -> None:
    run_git(*git_auth_config(BOT_TOKEN), "-c", f"protocol.version={protocol}", "clone", "--quiet",
            "--filter=blob:none", "--no-checkout", forge.git_http.url_for(forge.full_name), str(target))


def _missing_objects(clone: Path) -> list[str]:
    out = git_text("rev-list", "--objects", "--all", "--missing=print", cwd=clone)
    return [line[1:] for line in out.splitlines() if line.startswith("?")]


# -- partial clones ---------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["0", "2"])
def test_partial_clone_leaves_blobs_behind_and_fetches_them_with_the_token(
    forge: Forge, tmp_path: Path, protocol: str
) -> None:
    clone = tmp_path / "partial"
    _partial_clone(forge, clone, protocol)
    assert git_text("config", "remote.origin.promisor", cwd=clone) == "true"
    assert len(_missing_objects(clone)) == 2  # README.md and k8s/deployment.yaml

    checkout = _git(*git_auth_config(BOT_TOKEN), "-c", f"protocol.version={protocol}", "checkout", "main", cwd=clone)
    assert checkout.returncode == 0, checkout.stderr
    assert (clone / "k8s" / "deployment.yaml").read_text() == "replicas: 2\nimage: chat:1.0\n"
    assert _missing_objects(clone) == []


def test_a_lazy_fetch_without_the_token_is_refused_like_github(forge: Forge, tmp_path: Path) -> None:
    """Issue 16 item 1: the token given to `clone` is not stored, so git's later lazy fetch goes without it."""
    clone = tmp_path / "partial"
    _partial_clone(forge, clone)
    before = len(forge.git_http.requests)

    checkout = _git(*NO_HELPER, "checkout", "main", cwd=clone)
    assert checkout.returncode != 0
    assert "could not read Username" in checkout.stderr and "promisor remote" in checkout.stderr
    lazy = forge.git_http.requests[before:]
    assert lazy and all(r.status == 401 and not r.authenticated for r in lazy)
    assert not (clone / "README.md").exists()


def test_a_server_without_filter_support_gives_a_full_clone(forge: Forge, tmp_path: Path) -> None:
    forge.git_http.partial_clone = False
    clone = tmp_path / "full"
    _partial_clone(forge, clone)
    assert _missing_objects(clone) == []
    assert _git(*NO_HELPER, "checkout", "main", cwd=clone).returncode == 0  # no remote needed


# -- branch protection ------------------------------------------------------------------

def _new_commit(forge: Forge, name: str) -> Path:
    work = forge.clone(name)
    commit_file(work, "k8s/deployment.yaml", "replicas: 3\nimage: chat:1.0\n", "scale to three")
    return work


def test_a_direct_push_to_a_protected_branch_gets_githubs_words(forge: Forge) -> None:
    forge.github.protect("team-a", "chat", "main")
    work = _new_commit(forge, "work")
    main_before = git_text("rev-parse", "main", cwd=forge.bare)

    push = _git(*git_auth_config(BOT_TOKEN), "push", "origin", "HEAD:main", cwd=work)
    assert push.returncode == 1
    lines = [line.rstrip() for line in push.stderr.splitlines()]
    assert "remote: error: GH006: Protected branch update failed for refs/heads/main." in lines
    assert "remote: error: Changes must be made through a pull request." in lines
    assert " ! [remote rejected] HEAD -> main (protected branch hook declined)" in lines
    assert "pre-receive hook declined" not in push.stderr
    assert git_text("rev-parse", "main", cwd=forge.bare) == main_before

    porcelain = _git(*git_auth_config(BOT_TOKEN), "push", "--porcelain", "origin", "HEAD:main", cwd=work)
    assert "!\tHEAD:refs/heads/main\t[remote rejected] (protected branch hook declined)" in porcelain.stdout


def test_other_refs_of_the_same_push_still_land(forge: Forge) -> None:
    forge.github.protect("team-a", "chat", "main")
    work = _new_commit(forge, "work")
    push = _git(*git_auth_config(BOT_TOKEN), "push", "origin", "HEAD:main", "HEAD:refs/heads/fix", cwd=work)
    assert push.returncode == 1 and "(protected branch hook declined)" in push.stderr
    assert git_text("rev-parse", "fix", cwd=forge.bare) == git_text("rev-parse", "HEAD", cwd=work)


def test_force_push_and_deletion_rules(forge: Forge) -> None:
    rule = BranchProtection(require_pull_request=False)
    forge.github.protect("team-a", "chat", "main", rule)
    work = _new_commit(forge, "work")
    fast_forward = _git(*git_auth_config(BOT_TOKEN), "push", "origin", "HEAD:main", cwd=work)
    assert fast_forward.returncode == 0, fast_forward.stderr  # allowed without the PR rule

    run_git("reset", "--quiet", "--hard", "HEAD~1", cwd=work)
    commit_file(work, "other.txt", "x\n", "rewrite history")
    forced = _git(*git_auth_config(BOT_TOKEN), "push", "--force", "origin", "HEAD:main", cwd=work)
    assert "remote: error: Cannot force-push to a protected branch." in forced.stderr
    assert "(protected branch hook declined)" in forced.stderr
    deleted = _git(*git_auth_config(BOT_TOKEN), "push", "origin", ":main", cwd=work)
    assert "remote: error: Cannot delete this protected branch." in deleted.stderr

    forge.github.unprotect("team-a", "chat", "main")
    assert _git(*git_auth_config(BOT_TOKEN), "push", "--force", "origin", "HEAD:main", cwd=work).returncode == 0


def test_required_checks_refuse_pushes_too(forge: Forge) -> None:
    forge.github.protect("team-a", "chat", "main", BranchProtection(False, ("ci", "lint")))
    push = _git(*git_auth_config(BOT_TOKEN), "push", "origin", "HEAD:main", cwd=_new_commit(forge, "work"))
    assert "remote: error: 2 of 2 required status checks are expected." in push.stderr


# -- outages ----------------------------------------------------------------------------

def test_500_until_cleared(forge: Forge, tmp_path: Path) -> None:
    forge.git_http.outage.fail(500)
    failed = _git(*git_auth_config(BOT_TOKEN), "ls-remote", forge.git_http.url_for(forge.full_name))
    assert failed.returncode != 0 and "500" in failed.stderr
    forge.git_http.outage.clear()
    assert _git(*git_auth_config(BOT_TOKEN), "ls-remote", forge.git_http.url_for(forge.full_name)).returncode == 0


def test_a_hang_on_pushes_only_holds_pushes_and_serves_reads(forge: Forge) -> None:
    work = _new_commit(forge, "work")
    forge.git_http.outage.hang(30, only="/git-receive-pack")
    url = forge.git_http.url_for(forge.full_name)
    assert _git(*git_auth_config(BOT_TOKEN), "ls-remote", url).returncode == 0  # reads unaffected

    # A client with a low-speed limit gives up on the held push; the server never sees it finish.
    held = _git(*git_auth_config(BOT_TOKEN), "-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=1",
                "push", "origin", "HEAD:main", cwd=work)
    assert held.returncode != 0
    assert ("hang", "POST /team-a/chat.git/git-receive-pack") in forge.git_http.outage.served

    assert git_text("rev-parse", "main", cwd=forge.bare) != git_text("rev-parse", "HEAD", cwd=work)

    # Released, the server finishes the push the client gave up on: it lands after all.
    forge.git_http.outage.clear()
    _wait_for(lambda: any(r.path.endswith("/git-receive-pack") for r in forge.git_http.requests))
    assert git_text("rev-parse", "main", cwd=forge.bare) == git_text("rev-parse", "HEAD", cwd=work)


def test_clear_releases_a_request_that_is_hanging_now(forge: Forge) -> None:
    forge.git_http.outage.hang(60)
    url = forge.git_http.url_for(forge.full_name)
    release = threading.Timer(0.3, forge.git_http.outage.clear)
    release.start()
    # Bounded by the subprocess timeout: a hang that ignored clear() would raise TimeoutExpired.
    assert _git(*git_auth_config(BOT_TOKEN), "ls-remote", url, timeout=15).returncode == 0
    release.join()


def test_a_dropped_connection_fails_the_clone_once(forge: Forge, tmp_path: Path) -> None:
    forge.git_http.outage.drop(times=1, only="/git-upload-pack")
    url = forge.git_http.url_for(forge.full_name)
    dropped = _git(*git_auth_config(BOT_TOKEN), "clone", url, str(tmp_path / "dropped"))
    assert dropped.returncode != 0
    assert forge.git_http.outage.served == [("drop", "POST /team-a/chat.git/git-upload-pack")]
    assert _git(*git_auth_config(BOT_TOKEN), "clone", url, str(tmp_path / "again")).returncode == 0


def test_a_dropped_push_answer_still_lands_the_push(forge: Forge) -> None:
    """The server did the work and the client never heard: what a kill or blip mid-push looks like."""
    work = _new_commit(forge, "work")
    forge.git_http.outage.drop(times=1, only="/git-receive-pack")
    push = _git(*git_auth_config(BOT_TOKEN), "push", "origin", "HEAD:main", cwd=work)
    assert push.returncode != 0
    assert git_text("rev-parse", "main", cwd=forge.bare) == git_text("rev-parse", "HEAD", cwd=work)
