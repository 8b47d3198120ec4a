"""What git accepts as a branch name (`git check-ref-format --branch`), checked without running git.

repos.yaml is validated before any git runs, and a name git refuses (or reads as a pattern,
like `ma*n`) would otherwise pass validation and break `inject` on the day.
"""

from __future__ import annotations

_FORBIDDEN = set(" ~^:?*[\\")


def branch_name_problem(name: str) -> str | None:
    """Why git would refuse `name` as a branch, or None if it is a valid one."""
    if not name:
        return "is empty"
    if name.startswith("-"):
        return "starts with '-'"
    if name == "@":
        return "is '@', which git reserves"
    bad = sorted({c for c in name if c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"contains {shown}, which git does not allow in a branch name (no patterns: name one branch)"
    if ".." in name or "@{" in name or "//" in name:
        return "contains '..', '@{' or '//', which git does not allow"
    if name.startswith("/") or name.endswith(("/", ".")):
        return "starts with '/' or ends with '/' or '.'"
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return f"has a part {part!r} starting with '.' or ending with '.lock'"
    return None
