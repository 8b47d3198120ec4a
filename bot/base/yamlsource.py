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
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.base.yamlguard import check_text, read_bounded
from bot.errors import ConfigError, FaultbotError, UnsafeYaml

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
            text = read_bounded(path)
            check_text(text)
        except IsADirectoryError:
            raise error(f"{path.name}: is a folder, not a file; pass the YAML file itself") from None
        except OSError as exc:
            raise error(f"{path.name}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            line = text_line(exc.object, exc.start)
            raise error(f"{path.name}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8") from None
        except UnsafeYaml as exc:
            raise error(f"{path.name}: {exc.message}") from None
        try:
            root = YAML(typ="rt").load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problem = exc.problem or exc.context or "invalid YAML"
            raise error(f"{path.name}:{line}: invalid YAML: {_printable(problem)}") from None
        except YAMLError as exc:  # a reader error (control characters) carries no mark of its own
            raise error(f"{path.name}:{_line_of_reader_error(exc, text)}: invalid YAML: {_printable(str(exc).splitlines()[0])}") from None
        except RecursionError:
            raise error(f"{path.name}: nested too deeply to read") from None
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


def text_line(raw: bytes, offset: int) -> int:
    """1-based line of a byte offset."""
    return raw.count(b"\n", 0, offset) + 1


def _printable(message: str) -> str:
    """A parser's message with control characters shown as escapes (one line, nothing hidden)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _line_of_reader_error(exc: YAMLError, text: str) -> int:
    position = getattr(exc, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else 1


def plain_data(node: Any) -> Any:
    """ruamel's commented containers as plain dicts/lists, so pydantic sees ordinary data."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, bool)) else k: plain_data(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_data(v) for v in node]
    return node
