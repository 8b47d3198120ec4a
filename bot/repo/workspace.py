"""The one door to git: every git command faultbot runs goes through this module.

It runs the real `git` through GitPython with the `GIT_*` variables of the caller's
environment scrubbed (so a developer's GIT_DIR or GIT_AUTHOR_* never leaks in), in the C
locale (git translates its messages: a German operator's "nichts zu committen" must mean
what "nothing to commit" means), hands an HTTPS token to git per command as an
`http.extraHeader` (never in a remote URL or in .git/config), and redacts that token from
every message it raises. Outcomes are read from exit codes and machine output
(`--porcelain`, `ls-files -u`) wherever git offers them, and from text only where it does not.
"""

from __future__ import annotations

import base64
import codecs
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git

from bot.base.gitenv import KEPT
from bot.base.redact import Redactor, redact_url
from bot.errors import EditError, GitError
from bot.repo.gitprocess import DEFAULT_LIMITS, GitLimits, config_env, execute


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment minus GIT_* variables (but those of bot.base.gitenv.KEPT: test
    isolation, the operator's global config, how to reach the forge), never prompting for credentials."""
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith(("GIT_", "LC_")) or k in KEPT) and k != "LANGUAGE"}
    env["LC_ALL"] = "C"  # untranslated messages (gettext ignores LANGUAGE in the C locale)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ASKPASS"] = ""  # empty: git skips core.askPass and SSH_ASKPASS too, and fails instead of asking
    env["GCM_INTERACTIVE"] = "never"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Credentials:
    """How to authenticate to one remote: an HTTPS token, or nothing (file://, ssh).

    `refresh`, where given, is asked for the token before every command: GitHub App
    installation tokens expire after an hour, and a daemon runs for an afternoon.
    """

    token: str | None = None
    redactor: Redactor = field(default_factory=Redactor)
    refresh: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        self.redactor.add(self.token)

    def current(self) -> str | None:
        """The token to use now (registered with the redactor before it is used)."""
        if self.refresh is None:
            return self.token
        token = self.refresh()
        self.redactor.add(token)
        return token

    def git_env(self, url: str) -> dict[str, str]:
        """Config for this one git command, passed in the environment (GIT_CONFIG_COUNT/KEY/VALUE)
        rather than as `-c` arguments: a process's arguments are visible to every local user
        (`ps`), its environment is not."""
        if not url.startswith(("https://", "http://")):
            return {}
        token = self.current()
        if not token:
            return {}
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": "",
            "GIT_CONFIG_KEY_1": "http.extraHeader", "GIT_CONFIG_VALUE_1": f"Authorization: Basic {basic}",
        }


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    credentials: Credentials | None = None,
    url: str = "",
    env: Mapping[str, str] | None = None,
    limits: GitLimits = DEFAULT_LIMITS,
    keep_fds: Sequence[int] = (),
) -> str:
    """Run one git command; raise GitError (redacted, with status and output) on failure.

    Every command is bounded: git abandons a stalled transfer itself (`limits.stall_seconds`)
    and the whole process group is killed past `limits.wall_seconds`.
    """
    creds = credentials or Credentials()
    command = ["git", *args]
    shown = creds.redactor(" ".join(command))
    auth = creds.git_env(url)
    pairs = [*_config_pairs(auth), *limits.config()]
    extra = {k: v for k, v in {**(env or {}), **auth}.items() if not k.startswith("GIT_CONFIG_")}
    try:
        done = execute(command, cwd=cwd, env=scrubbed_env({**extra, **config_env(pairs)}), limits=limits,
                       keep_fds=keep_fds)
    except git.GitCommandNotFound as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if done.timed_out:
        raise GitError(f"{shown} gave no answer within {limits.wall_seconds:g}s; stopped it (the forge may be down)",
                       command=shown, status=None, output=creds.redactor(done.stderr), retryable=True)
    if done.status != 0:
        detail = creds.redactor(done.stderr.strip())
        raise GitError(
            f"{shown} failed (exit {done.status}): {_headline(detail)}",
            command=shown,
            status=done.status,
            output=detail,
            stdout=creds.redactor(done.stdout),
            retryable=_looks_transient(detail),
        )
    return done.stdout


def _config_pairs(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The GIT_CONFIG_KEY/VALUE pairs of an environment, in order."""
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    return [(env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"]) for i in range(count)]


def _headline(stderr: str) -> str:
    """The line of git's stderr that says what went wrong (its `fatal:`/`error:` line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:", "remote: error", "! [")):
            return line
    return lines[-1] if lines else "no output"


def _looks_transient(stderr: str) -> bool:
    """Network trouble is worth a retry; a missing branch or a bad token is not."""
    lowered = stderr.lower()
    permanent = ("authentication failed", "403", "401", "not found", "does not appear")
    if any(word in lowered for word in permanent):
        return False
    transient = ("timed out", "too slow", "could not resolve", "connection", "502", "503", "504", "500", "rpc failed")
    return any(word in lowered for word in transient)


def remote_head(url: str, branch: str, credentials: Credentials | None = None,
                limits: GitLimits = DEFAULT_LIMITS) -> str | None:
    """The sha of `branch` on the remote (one cheap `git ls-remote`), or None if absent."""
    output = run_git(
        ["ls-remote", "--heads", "--", url, f"refs/heads/{branch}"], credentials=credentials, url=url, limits=limits
    )
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def remote_heads(url: str, credentials: Credentials | None = None,
                 limits: GitLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """Every branch on the remote and its sha (one `git ls-remote --heads`)."""
    output = run_git(["ls-remote", "--heads", "--", url], credentials=credentials, url=url, limits=limits)
    heads = {}
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            heads[ref.removeprefix("refs/heads/")] = sha
    return heads


def describe_url(url: str) -> str:
    """A URL safe to print."""
    return redact_url(url)


def apply_patch(tree: Path, patch: str, directory: str | None = None) -> list[str]:
    """Apply a unified diff inside `tree` (3-way where the tree is a git repo); return paths.

    git itself refuses paths that leave the tree or cross a symlink: the guarantee we want.
    """
    where = [f"--directory={directory}"] if directory else []
    three_way = ["--3way"] if (tree / ".git").is_dir() else []
    with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as handle:
        handle.write(patch if patch.endswith("\n") else patch + "\n")
        patch_path = handle.name
    try:
        listing = run_git(["apply", "--numstat", "-z", *where, patch_path], cwd=tree)  # -z: names unquoted
        run_git(["apply", *three_way, *where, patch_path], cwd=tree)
    finally:
        Path(patch_path).unlink(missing_ok=True)
    changed = [record.split("\t")[-1] for record in listing.split("\0") if record.strip()]
    return changed + [p for p in _rename_sources(patch, directory) if p not in changed]


def _rename_sources(patch: str, directory: str | None) -> list[str]:
    """The old paths of the renames in a git patch: `--numstat` names only the new one, and the
    old one is deleted too (a caller that writes only the listed paths would keep both)."""
    sources = []
    for line in patch.splitlines():
        if line.startswith("rename from "):
            path = line[len("rename from "):]
            if path.startswith('"') and path.endswith('"'):  # git's C-style quoting: octal bytes of UTF-8, \t, \"
                path = codecs.escape_decode(path[1:-1].encode("utf-8"))[0].decode("utf-8", "surrogateescape")
            sources.append(f"{directory.rstrip('/')}/{path}" if directory else path)
    return sources


IGNORED_COPY = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".venv", "node_modules")


@dataclass(frozen=True)
class Author:
    """Who a commit is by: used as author *and* committer, so nothing says 'faultbot'."""

    name: str
    email: str

    def env(self) -> dict[str, str]:
        """Git's identity variables for one command."""
        return {
            "GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email,
        }


@dataclass(frozen=True)
class CommitInfo:
    """A commit as fix detection sees it. Dates are deliberately absent: a team controls them."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    message: str


class LocalRepo:
    """A git repository on local disk that faultbot owns (a scratch copy or a cache clone)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_directory(cls, source: Path, dest: Path, author: Author) -> LocalRepo:
        """A fresh repo holding a copy of `source` (without its .git) as one commit."""
        shutil.copytree(source, dest, ignore=IGNORED_COPY, symlinks=True)
        repo = cls(dest)
        repo.git("init", "-q", "-b", "main")
        repo.commit_all("Initial import", author)
        return repo

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run git inside this repo."""
        return run_git(args, cwd=self.path, env=env)

    def head(self) -> str:
        """The sha HEAD points at."""
        return self.git("rev-parse", "HEAD").strip()

    def tree_of(self, rev: str) -> str:
        """The tree id of a commit (equal trees = identical content)."""
        return self.git("rev-parse", f"{rev}^{{tree}}").strip()

    def commit_all(self, message: str, author: Author) -> str:
        """Stage everything and commit it; the new sha."""
        self.git("add", "-A")
        self.git("commit", "-q", "--no-verify", "-m", message, env=author.env())
        return self.head()

    def write_files(self, contents: Mapping[str, bytes | None]) -> None:
        """Write these paths' contents into the work tree (None deletes); a path that leaves the
        tree, passes through a symlink or reaches into `.git` is refused (EditError), as git refuses it."""
        from bot.catalog.edits import safe_path

        targets = {}
        for rel in contents:
            if any(part.lower() == ".git" for part in PurePosixPath(rel).parts):
                raise EditError(f"{rel}: inside .git; not written")
            targets[rel] = safe_path(self.path, rel)  # EditError: leaves the tree, or goes through a symlink
        # Deletions first, deepest first, emptied folders with them: a folder may become a file.
        for rel in sorted((r for r, c in contents.items() if c is None), key=lambda r: -r.count("/")):
            targets[rel].unlink(missing_ok=True)
            folder = targets[rel].parent
            while folder != self.path and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        for rel, content in sorted(contents.items()):
            if content is None:
                continue
            try:
                targets[rel].parent.mkdir(parents=True, exist_ok=True)
                targets[rel].write_bytes(content)
            except OSError as exc:  # a folder where a file goes, a file where a folder goes
                raise EditError(f"{rel}: cannot be written: {exc.strerror or exc}") from None

    def revert(self, sha: str, author: Author) -> str | None:
        """`git revert` one commit as a new commit (history is never rewritten); its sha, or
        None when undoing it changes nothing (the change is already gone).

        RevertConflict when it does not undo cleanly; the work tree is then left as it was.
        Told apart by git's index and exit codes, not by its (translated) messages.
        """
        mainline = ["-m", "1"] if len(self.commit_info(sha).parents) > 1 else []
        try:
            self.git("revert", "--no-commit", *mainline, sha, env=author.env())
        except GitError as exc:
            conflicted = self.git("ls-files", "--unmerged").strip()
            self._abort_revert()  # index and work tree as they were
            if conflicted:
                paths = sorted({line.split("\t", 1)[-1] for line in conflicted.splitlines()})
                raise RevertConflict(f"reverting {sha[:12]} conflicts in {', '.join(paths)}",
                                     command=exc.command, status=exc.status, output=exc.output) from None
            raise
        try:
            self.git("diff", "--cached", "--quiet", "HEAD")
        except GitError as exc:
            if exc.status != 1:
                raise
            self.git("commit", "-q", "--no-verify", "--no-edit", env=author.env())  # git's own revert message
            return self.head()
        self._abort_revert()
        return None

    def _abort_revert(self) -> None:
        try:
            self.git("revert", "--abort")
        except GitError:
            pass  # no revert in progress (git refused before it started one)

    def checkout_detached(self, sha: str) -> None:
        """Put the work tree at `sha` (our own scratch/cache repos only)."""
        self.git("checkout", "-q", "--force", "--detach", sha)
        self.git("clean", "-q", "-fdx")

    def diff(self, base: str, head: str) -> str:
        """Unified diff between two commits."""
        return self.git("diff", "--no-color", "--no-ext-diff", base, head)

    def first_parent_log(self, base: str, head: str) -> list[CommitInfo]:
        """Commits on the first-parent line from `base` (exclusive) to `head`, oldest first."""
        if base == head:
            return []
        raw = self.git("log", "--first-parent", "--reverse", "--format=%H%x00%P%x00%an%x00%ae%x00%B%x1e", f"{base}..{head}")
        commits = []
        for record in raw.split("\x1e"):
            if not record.strip():
                continue
            sha, parents, name, email, body = record.strip("\n").split("\x00", 4)
            commits.append(CommitInfo(sha, tuple(parents.split()), name, email, body.strip()))
        return commits

    def contains(self, ancestor: str, descendant: str) -> bool:
        """Is `ancestor` in the history of `descendant` (both must be fetched)?"""
        try:
            self.git("merge-base", "--is-ancestor", ancestor, descendant)
        except GitError as exc:
            if exc.status == 1:
                return False
            raise
        return True

    def has_commit(self, sha: str) -> bool:
        """Is this commit in the cache?"""
        try:
            self.git("cat-file", "-e", f"{sha}^{{commit}}")
        except GitError:
            return False
        return True

    def commit_info(self, sha: str) -> CommitInfo:
        """One commit's identity and message."""
        raw = self.git("log", "-1", "--format=%H%x00%P%x00%an%x00%ae%x00%B", sha)
        full, parents, name, email, body = raw.split("\x00", 4)
        return CommitInfo(full, tuple(parents.split()), name, email, body.strip())

    def changed_paths(self, sha: str) -> list[str]:
        """Paths a commit changed against its first parent."""
        return [p for p in self.git("diff", "--name-only", "--no-renames", f"{sha}^1", sha).splitlines() if p]

    def changes(self, sha: str) -> list[tuple[str, str | None, str | None]]:
        """What a commit changed against its first parent: (path, blob before, blob after), None
        where the path is absent on that side; one `diff-tree`, raw machine output."""
        raw = self.git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", f"{sha}^1", sha)
        fields = raw.split("\x00")
        found = []
        for head, path in zip(fields[0::2], fields[1::2], strict=False):
            if not head.startswith(":"):
                continue
            _, _, old, new, _ = head[1:].split(" ", 4)
            absent = "0" * len(old)
            found.append((path, None if old == absent else old, None if new == absent else new))
        return found

    def blob_text(self, blob: str) -> str:
        """A blob's content as text (bytes that are not UTF-8 replaced)."""
        return self.git("cat-file", "blob", blob)

    def same_content(self, a: str, b: str, paths: list[str]) -> bool:
        """Do two commits hold identical content at these paths (deleted counts as content)?"""
        if not paths:
            return True
        try:
            self.git("diff", "--quiet", a, b, "--", *paths)
        except GitError as exc:
            if exc.status == 1:
                return False
            raise
        return True

    def export_tree(self, rev: str, dest: Path) -> Path:
        """Write the files of `rev` into `dest`, touching neither this repo's index nor its work tree."""
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="faultbot-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self.git("read-tree", rev, env=env)
            self.git("checkout-index", "--all", f"--prefix={dest.resolve()}/", env=env)
        return dest

    def merged_messages(self, merge: str) -> list[str]:
        """The messages of the commits a merge commit brought in (its second parent's side)."""
        parents = self.commit_info(merge).parents
        if len(parents) < 2:
            return []
        raw = self.git("log", "--format=%B%x1e", f"{parents[0]}..{parents[1]}")
        return [message.strip() for message in raw.split("\x1e") if message.strip()]

    def undoes(self, base: str, change: str, commit: str, paths: Sequence[str]) -> bool:
        """Does `commit` undo the change `base..change` at `paths`, whatever else changed there
        since (a CI image-tag bump in the same file)?

        Asked of git's own three-way merge, per path: merging "undo the change" (`change` →
        `base`) into `commit`'s version must change nothing. It changes nothing exactly when
        the commit already holds the old lines where the change made new ones; a forward fix
        (other lines) conflicts or differs, and a fault still there would be taken out.
        """
        scratch = self.path / ".git" / "faultbot-judge"
        scratch.mkdir(exist_ok=True)
        try:
            return all(self._undone_at(scratch, base, change, commit, path) for path in paths)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _undone_at(self, scratch: Path, base: str, change: str, commit: str, path: str) -> bool:
        before, after, now = (self.content(rev, path) for rev in (base, change, commit))
        if before is None or after is None or now is None:
            return now == before  # the change added or deleted the file: undone when that is undone
        files = []
        for name, text in (("now", now), ("after", after), ("before", before)):
            file = scratch / name
            file.write_text(text, encoding="utf-8", errors="surrogateescape")
            files.append(str(file))
        try:
            merged = self.git("merge-file", "-p", "-q", *files)
        except GitError as exc:
            if exc.status is not None and exc.status > 0:
                return False  # conflicts: the commit changed those lines some other way
            raise
        return merged == now

    def content(self, rev: str, path: str) -> str | None:
        """A file's text at a commit (None where it does not exist)."""
        try:
            return self.git("cat-file", "-p", f"{rev}:{path}")
        except GitError as exc:
            if exc.status == 128:
                return None
            raise

    def changed_lines(self, base: str, head: str) -> tuple[int, int]:
        """(added, removed) line counts between two commits."""
        added = removed = 0
        for line in self.git("diff", "--numstat", base, head).splitlines():
            plus, minus, _ = line.split("\t", 2)
            added += int(plus) if plus.isdigit() else 0
            removed += int(minus) if minus.isdigit() else 0
        return added, removed


def clone_branch(url: str, branch: str, dest: Path, credentials: Credentials | None = None,
                 limits: GitLimits = DEFAULT_LIMITS) -> Path:
    """A shallow clone of one branch (for reading a team's tree: plan, validate)."""
    run_git(
        ["clone", "-q", "--depth", "1", "--single-branch", "--branch", branch, "--", url, str(dest)],
        credentials=credentials,
        url=url,
        limits=limits,
    )
    return dest


def publish_directory(source: Path, bare: Path, author: Author, branch: str = "main") -> str:
    """Make a new bare repository at `bare` whose `branch` holds `source` as one commit.

    Used by `faultbot demo` to stand up team repositories with no forge at all.
    """
    run_git(["init", "-q", "--bare", "-b", branch, str(bare)])
    with tempfile.TemporaryDirectory(prefix="faultbot-publish-") as scratch:
        repo = LocalRepo.from_directory(source, Path(scratch) / "tree", author)
        repo.git("push", "-q", bare.as_uri(), f"HEAD:refs/heads/{branch}")
        return repo.head()


class RevertConflict(GitError):
    """`git revert` of a commit conflicts with what the branch holds now."""
