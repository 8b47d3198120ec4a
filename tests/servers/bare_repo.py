"""Read and update a bare git repository the way a forge does, by asking git every time.

Nothing is cached: a `git push` is visible to the very next API call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tests.servers.git_cli import GitCommandError, run_git

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_STATUS_NAMES = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
_LOG_FIELDS = ("%H", "%T", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%B")
_LOG_FORMAT = "%x00".join(_LOG_FIELDS) + "%x00"
_QUIET_IDENTITY = {
    "GIT_AUTHOR_NAME": "replay", "GIT_AUTHOR_EMAIL": "replay@example.test", "GIT_AUTHOR_DATE": "@0 +0000",
    "GIT_COMMITTER_NAME": "replay", "GIT_COMMITTER_EMAIL": "replay@example.test", "GIT_COMMITTER_DATE": "@0 +0000",
}


@dataclass(frozen=True)
class Identity:
    """A git author or committer."""

    name: str
    email: str


@dataclass(frozen=True)
class Signature:
    """Who made a commit and when (UTC)."""

    name: str
    email: str
    date: datetime


@dataclass(frozen=True)
class CommitInfo:
    """The parts of a commit object the API exposes."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


@dataclass(frozen=True)
class FileChange:
    """One file of a diff, with GitHub's names for the status."""

    filename: str
    status: str
    additions: int
    deletions: int
    sha: str | None
    patch: str | None
    previous_filename: str | None


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a tree (file, directory, symlink or submodule)."""

    mode: str
    kind: str
    sha: str
    size: int
    path: str


class MergeConflict(Exception):
    """The two heads touch the same lines; GitHub would call the PR not mergeable."""


class RefMoved(Exception):
    """The branch changed between reading it and updating it."""


class BareRepo:
    """One bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        """Whether the directory holds a bare repository."""
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def _git(self, *args: str, env: Mapping[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> str:
        return run_git("--git-dir", str(self.path), *args, env=env, ok_codes=ok).stdout.decode()

    def default_branch(self) -> str:
        """The branch HEAD points at."""
        ref = self._git("symbolic-ref", "--quiet", "HEAD", ok=(0, 1)).strip()
        return ref.removeprefix("refs/heads/") or "main"

    def resolve(self, rev: str) -> str | None:
        """The commit sha `rev` names (branch, tag, sha, `refs/...`), or None."""
        if not rev or rev.startswith("-"):
            return None
        return self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", ok=(0, 1)).strip() or None

    def branch_sha(self, branch: str) -> str | None:
        """The tip of `branch`, or None when there is no such branch."""
        return self.ref_sha(f"refs/heads/{branch}")

    def ref_sha(self, ref: str) -> str | None:
        """The object a full ref name points at, or None."""
        if ref.startswith("-"):
            return None
        return self._git("rev-parse", "--verify", "--quiet", "--end-of-options", ref, ok=(0, 1)).strip() or None

    def branches(self) -> list[str]:
        """All branch names."""
        out = self._git("for-each-ref", "--format=%(refname:strip=2)", "refs/heads/")
        return [line for line in out.splitlines() if line]

    def commit(self, sha: str) -> CommitInfo:
        """One commit by sha."""
        return self.log([sha], limit=1)[0]

    def log(
        self,
        revs: Sequence[str],
        paths: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        skip: int = 0,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[CommitInfo]:
        """Commits reachable from `revs`, newest first unless `reverse`."""
        args = ["log", f"--format={_LOG_FORMAT}", *self._filters(since, until), f"--skip={skip}"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        if reverse:
            args.append("--reverse")
        fields = self._git(*args, *revs, "--", *paths).split("\x00")
        width = len(_LOG_FIELDS)
        return [_parse_commit(fields[i : i + width]) for i in range(0, len(fields) - width + 1, width)]

    def count(self, revs: Sequence[str], paths: Sequence[str] = (), since: str | None = None, until: str | None = None) -> int:
        """How many commits `log` would list without paging."""
        return int(self._git("rev-list", "--count", *self._filters(since, until), *revs, "--", *paths).strip())

    @staticmethod
    def _filters(since: str | None, until: str | None) -> list[str]:
        return [*([f"--since={since}"] if since else []), *([f"--until={until}"] if until else [])]

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor, or None for unrelated histories."""
        return self._git("merge-base", one, other, ok=(0, 1)).strip() or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether `ancestor` is reachable from `descendant`."""
        proc = run_git("--git-dir", str(self.path), "merge-base", "--is-ancestor", ancestor, descendant, ok_codes=(0, 1))
        return proc.returncode == 0

    def diff(self, base: str | None, head: str) -> list[FileChange]:
        """Files changed from `base` (None: the empty tree) to `head`, with patches."""
        old = base or EMPTY_TREE
        raw = self._git("diff-tree", "-r", "-z", "-M", "--raw", old, head).split("\x00")
        numstat = self._numstat(old, head)
        changes = []
        i = 0
        while i < len(raw) - 1:
            meta = raw[i].lstrip(":").split(" ")
            status = meta[4][0]
            if status in "RC":
                previous, filename = raw[i + 1], raw[i + 2]
                i += 3
            else:
                previous, filename = None, raw[i + 1]
                i += 2
            additions, deletions = numstat.get(filename, (0, 0))
            blob = meta[2] if status == "D" else meta[3]
            changes.append(
                FileChange(
                    filename=filename,
                    status=_STATUS_NAMES.get(status, "changed"),
                    additions=additions,
                    deletions=deletions,
                    sha=blob,
                    patch=self._patch(old, head, [p for p in (previous, filename) if p]),
                    previous_filename=previous,
                )
            )
        return changes

    def _numstat(self, old: str, head: str) -> dict[str, tuple[int, int]]:
        parts = self._git("diff-tree", "-r", "-z", "-M", "--numstat", old, head).split("\x00")
        counts: dict[str, tuple[int, int]] = {}
        i = 0
        while i < len(parts) - 1:
            added, deleted, name = parts[i].split("\t", 2)
            if name == "":  # a rename: old and new names follow
                name = parts[i + 2]
                i += 3
            else:
                i += 1
            # Binary files report "-": GitHub counts them as 0 lines.
            counts[name] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
        return counts

    def _patch(self, old: str, head: str, paths: list[str]) -> str | None:
        text = self._git("diff-tree", "-p", "-M", "--no-color", "--no-ext-diff", old, head, "--", *paths)
        start = text.find("\n@@")
        # GitHub's `patch` is only the hunks; binary files have none.
        return text[start + 1 :].rstrip("\n") if start >= 0 else None

    def tree_entry(self, rev: str, path: str) -> TreeEntry | None:
        """The entry at `path` in commit `rev` (the root tree for an empty path)."""
        if not path:
            tree = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}", ok=(0, 1)).strip()
            return TreeEntry("040000", "tree", tree, 0, "") if tree else None
        out = self._git("ls-tree", "-z", "--long", rev, "--", path)
        entries = [_parse_tree_line(line, "") for line in out.split("\x00") if line]
        return next((e for e in entries if e.path == path), None)

    def list_tree(self, tree_sha: str, prefix: str) -> list[TreeEntry]:
        """The direct children of a tree, with paths under `prefix`."""
        out = self._git("ls-tree", "-z", "--long", tree_sha)
        return [_parse_tree_line(line, prefix) for line in out.split("\x00") if line]

    def blob(self, sha: str) -> bytes:
        """Raw content of a blob."""
        return run_git("--git-dir", str(self.path), "cat-file", "blob", sha).stdout

    def merge_trees(self, base: str, head: str) -> str:
        """The tree of merging `head` into `base`; raises MergeConflict."""
        proc = run_git("--git-dir", str(self.path), "merge-tree", "--write-tree", "--no-messages", base, head, ok_codes=(0, 1))
        if proc.returncode == 1:
            raise MergeConflict(proc.stdout.decode().strip())
        return proc.stdout.decode().split("\n", 1)[0].strip()

    def replay_tree(self, commit: str, onto: str) -> str:
        """The tree of cherry-picking `commit` onto `onto`; raises MergeConflict.

        git 2.39's `merge-tree --write-tree` takes no explicit merge base, so we give it one:
        a throwaway commit with `onto`'s tree whose parent is `commit`'s parent makes that
        parent the merge base, which is exactly a cherry-pick's three-way merge.
        """
        parent = self._git("rev-parse", f"{commit}^").strip()
        tree = self._git("rev-parse", f"{onto}^{{tree}}").strip()
        stand_in = self._git("commit-tree", tree, "-p", parent, "-m", "replay base", env=_QUIET_IDENTITY).strip()
        return self.merge_trees(stand_in, commit)

    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, author: Identity, committer: Identity, when: datetime,
        authored: datetime | None = None,
    ) -> str:
        """Write a commit object and return its sha (no ref moves); `authored` defaults to `when`."""
        stamp = f"{int(when.timestamp())} +0000"
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": f"{int(authored.timestamp())} +0000" if authored else stamp,
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": stamp,
        }
        parent_args = [arg for parent in parents for arg in ("-p", parent)]
        return self._git("commit-tree", tree, *parent_args, "-m", message, env=env).strip()

    def move_branch(self, branch: str, new: str, expected_old: str) -> None:
        """Point `branch` at `new` only if it still points at `expected_old`."""
        try:
            self._git("update-ref", f"refs/heads/{branch}", new, expected_old)
        except GitCommandError as error:
            raise RefMoved(branch) from error

    def last_commit_time(self) -> datetime | None:
        """Committer date of the newest branch tip: our stand-in for `pushed_at`."""
        out = self._git("for-each-ref", "--sort=-committerdate", "--count=1", "--format=%(committerdate:unix)", "refs/heads/")
        return datetime.fromtimestamp(int(out.strip()), timezone.utc) if out.strip() else None


def _parse_commit(fields: Sequence[str]) -> CommitInfo:
    sha, tree, parents, an, ae, at, cn, ce, ct, message = fields
    return CommitInfo(
        sha=sha.strip(),
        tree=tree,
        parents=tuple(parents.split()),
        author=Signature(an, ae, datetime.fromtimestamp(int(at), timezone.utc)),
        committer=Signature(cn, ce, datetime.fromtimestamp(int(ct), timezone.utc)),
        message=message.rstrip("\n"),
    )


def _parse_tree_line(line: str, prefix: str) -> TreeEntry:
    meta, _, name = line.partition("\t")
    mode, kind, sha, size = meta.split()
    path = f"{prefix}/{name}" if prefix else name
    return TreeEntry(mode, kind, sha, int(size) if size.isdigit() else 0, path)
