"""Which files of a folder a fault's `glob:` means, for edits and checks alike.

Like .gitignore: a glob without a slash (`*.py`) matches file names at any depth; a glob
with one (`chat/*.py`, `**/*`) is matched against the path inside the folder. Symlinks are
never followed, so nothing outside the repository is read or written through them.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path


def files_matching(root: Path, glob: str) -> list[Path]:
    """Regular files under `root` that `glob` selects, sorted."""
    if root.is_file():
        return [root]
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or ".git" in path.relative_to(root).parts:
            continue
        relative = path.relative_to(root).as_posix()
        if "/" not in glob:
            if fnmatch.fnmatch(path.name, glob):
                found.append(path)
        elif path in root.glob(glob) or fnmatch.fnmatch(relative, glob):
            found.append(path)
    return found
