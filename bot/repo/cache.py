"""A team's repository cached on our disk, and pushes to it.

Every git command here still goes through `bot.repo.workspace.run_git`, the one door to git
(scrubbed environment, C locale, token per command, redacted messages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from bot.errors import FaultbotError, GitError
from bot.repo.cachelock import exclusive, held_lock_fds
from bot.repo.gitprocess import DEFAULT_LIMITS, GitLimits
from bot.repo.workspace import Credentials, LocalRepo, remote_head, remote_heads, run_git


class PushRejected(GitError):
    """The remote refused a push because the branch moved (non-fast-forward): look again, retry."""


class PushRefused(GitError):
    """The remote refused a push for good (branch protection, a hook): retrying changes nothing."""


# `[remote rejected]` reasons that mean the ref moved under the push (a race on the server).
_REF_MOVED = ("cannot lock ref", "failed to update ref", "failed to lock", "incorrect old value", "stale info")


def push_outcome(error: GitError) -> GitError:
    """The error a failed `git push --porcelain` stands for: PushRejected (the branch moved),
    PushRefused (protection or a hook declined it), or the error itself (network, auth).

    Reads git's porcelain status line `!<TAB>from:to<TAB>[rejected] (fetch first)`, whose
    words git never translates, rather than its human summary.
    """
    for line in error.stdout.splitlines():
        flag, _, rest = line.partition("\t")
        if flag != "!":
            continue
        summary = rest.partition("\t")[2]
        reason = summary[summary.find("(") + 1:summary.rfind(")")] if "(" in summary else summary
        if summary.startswith("[rejected]") or any(word in reason for word in _REF_MOVED):
            return PushRejected(f"push rejected: {reason}", command=error.command, status=error.status,
                                output=error.output, stdout=error.stdout)
        said = [ln.removeprefix("remote:").strip().removeprefix("error:").strip()
                for ln in error.output.splitlines() if ln.startswith("remote:") and "error" in ln]
        detail = f" ({' '.join(said)})" if said else ""
        return PushRefused(f"push refused by the remote: {reason}{detail}", command=error.command,
                           status=error.status, output=error.output, stdout=error.stdout, retryable=False)
    return error


class TeamCache(LocalRepo):
    """A team's repository cached on our disk: cloned once, then fetched. Only our own cache's
    work tree and tracking refs are ever reset here; pushes to the team never force and never
    rewrite.

    The clone is partial (`--filter=blob:none`, where the server allows it), and every git
    command run in the cache carries the token, because in a partial clone any command that
    reads a blob (checkout, diff, revert, apply) may fetch it from the remote. Measured with
    bench/bench_cache_clone.py against a year-old team repo served as GitHub serves it (1,500
    files, 3,000 commits, 20 MB of binaries deleted from history): the partial cache is a tenth
    of the full one on disk (2.4 vs 24 MB) for the same time to clone, inject and search; the
    fetches after the first one bring whole commits (they fetch by URL, without the filter),
    so fix search never waits on a lazy blob fetch, and only the first checkout makes one.
    """

    def __init__(self, path: Path, url: str, credentials: Credentials | None = None, partial: bool = True,
                 limits: GitLimits = DEFAULT_LIMITS, guard: Callable[[], None] | None = None) -> None:
        super().__init__(path)
        self.url = url
        self.credentials = credentials or Credentials()
        self.partial = partial
        self.limits = limits  # every command is bounded (repos.yaml `timeouts:`)
        # Called before every write to the team's remote; raises to stop it (the daemon's
        # leadership check: a process that lost its lease must not push).
        self.guard = guard or (lambda: None)

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold this cache for a whole read-modify sequence (sync, edit, commit, push)."""
        return exclusive(self.path)

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run git in the cache, always with the token: in a partial clone any command that
        reads a blob (checkout, diff, revert, apply) may fetch it from the remote. Bounded, and
        inheriting the cache lock where this thread holds it (see bot.repo.cachelock)."""
        return run_git(args, cwd=self.path, credentials=self.credentials, url=self.url, env=env,
                       limits=self.limits, keep_fds=held_lock_fds(self.path))

    def remote(self, *args: str) -> str:
        """A git command that talks to the team's remote (token handed over per command)."""
        return self.git(*args)

    def sync(self, branch: str, seen: str | None = None) -> str:
        """Clone or fetch, then put the work tree at the remote branch head; return its sha.

        `seen`: the head the caller saw on the remote a moment ago (a poll's `ls-remote`). If
        the cache's tracking branch is already there, nothing is fetched: the daemon's first
        round injects into the clone its plan just made. Should the branch have moved since,
        the push is refused as non-fast-forward and the retry fetches (see Injector).
        """
        fresh = not (self.path / ".git").is_dir()
        if seen is not None and not fresh and self._cloned_head(f"refs/remotes/origin/{branch}") == seen:
            head = seen
        else:
            head = self.fetch(branch)
        if fresh:
            self.git("checkout", "-q", "--force", "--detach", head)  # an empty work tree: nothing to clean
        else:
            self.checkout_detached(head)
        return head

    def warm(self, branch: str) -> str | None:
        """Clone or fetch ahead of a command that will sync, from another thread, so that git
        runs while the caller loads the rest (`faultbot inject`: the store and SQLAlchemy);
        the head, for that sync's `seen`. A failure is not reported here (None): the
        command's own sync meets it and says so."""
        try:
            with self.exclusive():
                return self.sync(branch)
        except FaultbotError:
            return None

    def fetch(self, branch: str) -> str:
        """Clone or fetch the remote branch and return its head; the work tree is left as it is
        (fix search checks out only the commits it must judge)."""
        fresh = not (self.path / ".git").is_dir()
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            blobs = ["--filter=blob:none"] if self.partial else []
            run_git(
                ["clone", "-q", "--no-checkout", *blobs, "--", self.url, str(self.path)],
                credentials=self.credentials, url=self.url, limits=self.limits, keep_fds=held_lock_fds(self.path),
            )
        tracking = f"refs/remotes/origin/{branch}"
        head = self._cloned_head(tracking) if fresh else None  # a clone made this instant has the branch already
        if head is None:  # (if not, the fetch says so in git's own words)
            self.remote("fetch", "-q", "--prune", self.url, f"+refs/heads/{branch}:{tracking}")
            head = self.git("rev-parse", tracking).strip()
        return head

    def _cloned_head(self, tracking: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", tracking).strip() or None
        except GitError:
            return None

    def remote_head(self, branch: str) -> str | None:
        """The branch head on the remote right now (one `ls-remote`)."""
        return remote_head(self.url, branch, self.credentials, self.limits)

    def remote_heads(self) -> dict[str, str]:
        """Every branch on the remote right now (one `ls-remote`)."""
        return remote_heads(self.url, self.credentials, self.limits)

    def push(self, sha: str, branch: str) -> None:
        """Push `sha` to `branch` without force; PushRejected if the branch has moved on,
        PushRefused if the remote will not take it at all (a protected branch)."""
        self.guard()
        try:
            self.remote("push", "--porcelain", self.url, f"{sha}:refs/heads/{branch}")
        except GitError as exc:
            raise push_outcome(exc) from None
