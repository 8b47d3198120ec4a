"""A scratch copy of a team's tree for rehearsals: edited in place, reset path by path.

The rehearsal needs no commits and no git (the catalog layer runs none): the original tree
is the read-only `source`; every path an edit reports is restored from it on `reset`, and
a diff is `difflib` over the paths that changed, written like `git diff` so people read
the same thing `plan` and `inject --dry-run` show. One copy serves every fault of a plan
(the copy dominated a rehearsal's cost: bench/bench_rehearsal.py).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".venv", "node_modules")

Snapshot = Mapping[str, bytes | None]
"""Contents of some paths (None: the path does not exist)."""


_SKIPPED = {".git", "__pycache__", ".pytest_cache", ".venv", "node_modules"}  # as IGNORED


def content_digest(source: Path) -> str:
    """A digest of everything a scratch copy of `source` takes (paths, modes, contents, link
    targets): two trees with one digest rehearse alike (bot.catalog.memo)."""
    digest = hashlib.sha256()
    for folder, folders, files in os.walk(source):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED)
        base = Path(folder)
        for name in sorted(files):
            if name in _SKIPPED:
                continue
            path = base / name
            relative = path.relative_to(source).as_posix()
            if path.is_symlink():
                content, mode = b"symlink:" + os.readlink(path).encode(), 0
            else:
                content, mode = path.read_bytes(), path.stat().st_mode & 0o111
            digest.update(f"{relative}\0{mode}\0{len(content)}\0".encode())
            digest.update(content)
        for name in folders:  # symlinked folders are copied as links, and empty ones as folders
            if (base / name).is_symlink():
                digest.update(f"{(base / name).relative_to(source).as_posix()}\0link:{os.readlink(base / name)}\0".encode())
    return digest.hexdigest()


class ScratchTree:
    """A copy of `source` at `tree` that edits may change; `source` is never written."""

    def __init__(self, source: Path, tree: Path) -> None:
        self.source = source
        self.tree = tree
        shutil.copytree(source, tree, ignore=IGNORED, symlinks=True)
        self.dirty: set[str] = set()

    def touched(self, paths: Iterable[str]) -> None:
        """Note paths an edit changed (so reset and diff know them)."""
        self.dirty.update(paths)

    def original(self, path: str) -> bytes | None:
        """A path's content in the source tree."""
        file = self.source / path
        return file.read_bytes() if file.is_file() and not file.is_symlink() else None

    def current(self, path: str) -> bytes | None:
        """A path's content in the scratch tree now."""
        file = self.tree / path
        return file.read_bytes() if file.is_file() and not file.is_symlink() else None

    def snapshot(self) -> Snapshot:
        """The current content of every changed path (to come back to with `restore`)."""
        return {path: self.current(path) for path in self.dirty}

    def restore(self, snapshot: Snapshot | None = None) -> None:
        """Put every changed path back as in `snapshot` (default: the source tree)."""
        for path in sorted(self.dirty):
            wanted = snapshot[path] if snapshot is not None and path in snapshot else self.original(path)
            self._write(path, wanted)
        self.dirty = {p for p in self.dirty if snapshot is not None and p in snapshot}

    def reset(self) -> None:
        """Back to the source tree."""
        self.restore(None)

    def revert_paths(self, paths: Iterable[str]) -> None:
        """Put these paths back as they are in the source."""
        for path in paths:
            self._write(path, self.original(path))

    def same_as_source(self) -> bool:
        """Does the scratch tree hold exactly the source's content again?"""
        return all(self.current(p) == self.original(p) for p in self.dirty)

    def diff(self) -> str:
        """A unified diff of every changed path against the source, as `git diff` writes it."""
        return "".join(file_diff(p, self.original(p), self.current(p)) for p in sorted(self.dirty))

    def _write(self, path: str, content: bytes | None) -> None:
        file = self.tree / path
        if content is None:
            if file.is_file() or file.is_symlink():
                file.unlink()
            parent = file.parent
            while parent != self.tree and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # an edit that added a folder leaves none behind
                parent = parent.parent
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)


def changed_lines(diff: str) -> tuple[int, int]:
    """(added, removed) lines of a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def _lines(content: bytes | None) -> list[str]:
    if content is None:
        return []
    text = content.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def file_diff(path: str, before: bytes | None, after: bytes | None) -> str:
    """One file's change as `git diff` writes it (empty when unchanged)."""
    if before == after:
        return ""
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header.append("new file mode 100644\n")
    elif after is None:
        header.append("deleted file mode 100644\n")
    old = "/dev/null" if before is None else f"a/{path}"
    new = "/dev/null" if after is None else f"b/{path}"
    body = list(difflib.unified_diff(_lines(before), _lines(after), old, new, n=3))
    return "".join(header + body)


def puts_back(original: bytes | None, broken: bytes | None, fixed: bytes | None) -> bool:
    """Does `fixed` hold the original lines everywhere the fault (original → broken) changed
    them, whatever else it changed? Issue 16's revert rule, as git's three-way merge judges
    it in the fix search (`Workspace.undoes`): undoing the fault on top of `fixed` changes nothing."""
    if fixed == original:
        return True
    if original is None or broken is None or fixed is None:
        return False
    before, after, now = _lines(original), _lines(broken), _lines(fixed)
    fix_ops = [op for op in difflib.SequenceMatcher(None, after, now, autojunk=False).get_opcodes() if op[0] != "equal"]
    for tag, j1, j2, i1, i2 in difflib.SequenceMatcher(None, after, before, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        touching = [op for op in fix_ops if _overlap(op[1], op[2], j1, j2)]
        if not touching:
            return False  # the fix left this part of the fault as it was
        a1, a2 = min(op[1] for op in touching), max(op[2] for op in touching)
        b1, b2 = min(op[3] for op in touching), max(op[4] for op in touching)
        s1, s2 = min(a1, j1), max(a2, j2)
        wanted = after[s1:j1] + before[i1:i2] + after[j2:s2]
        if now[b1 - (a1 - s1):b2 + (s2 - a2)] != wanted:
            return False  # changed some other way: a merge would conflict
    return True


def _overlap(a1: int, a2: int, b1: int, b2: int) -> bool:
    if a1 == a2 or b1 == b2:
        return a1 <= b2 and a2 >= b1
    return a1 < b2 and a2 > b1
