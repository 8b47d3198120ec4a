"""Load YAML keeping line numbers, so every error can point at `file:LINE`.

ruamel.yaml's round-trip loader records where each key and item sits (`node.lc`);
`SourceMap.line_of(path)` walks a pydantic-style location (`("teams", 2, "branch")`)
down that tree and answers the 1-based line of the deepest part that exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from bot.errors import ConfigError, FaultbotError

Loc = Sequence[str | int]


def format_loc(loc: Loc) -> str:
    """`("teams", 2, "branch")` -> `teams[2].branch`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class SourceMap:
    """A parsed YAML document plus the positions ruamel recorded for it."""

    def __init__(self, path: Path, root: Any) -> None:
        self.path = path
        self.root = root

    @classmethod
    def load(cls, path: Path, error: type[FaultbotError] = ConfigError) -> SourceMap:
        """Parse `path`; a syntax error becomes one line naming the file and line."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise error(f"{path.name}: cannot read: {exc.strerror}") from exc
        try:
            root = YAML(typ="rt").load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problem = exc.problem or exc.context or "invalid YAML"
            raise error(f"{path.name}:{line}: invalid YAML: {problem}") from exc
        return cls(path, root)

    def line_of(self, loc: Loc) -> int:
        """1-based line of the deepest existing node along `loc` (line 1 if none)."""
        node, line = self.root, 1
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def where(self, loc: Loc) -> str:
        """`repos.yaml:12: teams[2].branch` — the prefix of every config error line."""
        field = format_loc(loc)
        head = f"{self.path.name}:{self.line_of(loc)}"
        return f"{head}: {field}" if field else head
