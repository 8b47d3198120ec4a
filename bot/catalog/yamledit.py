"""Edit one document of a YAML file the way a person would: the diff touches only the lines
the change is about.

ruamel.yaml keeps comments, key order and quotes, but re-emits a whole document in one
indentation style, and hand-written manifests often mix styles. So:
- a scalar that replaces a scalar is *spliced* into the original text at the line/column
  ruamel recorded (`node.lc`), keeping the original quoting; exactly one line changes;
- any other change re-emits only the document it touches (its neighbours in a
  multi-document file stay byte-identical), in whichever indentation style reproduces the
  original document most closely (measured, not guessed).
Every result is re-parsed and compared with the intended data before it is accepted.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.catalog.manifests import split_documents
from bot.catalog.yamlread import repaired_text

STYLES = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4))
_PLAIN_SAFE = re.compile(r"^[A-Za-z_/][\w./@%+-]*$")
_BOOLISH = {"yes", "no", "on", "off", "true", "false", "null", "~", "y", "n"}


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (for comparisons)."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def to_roundtrip(value: Any) -> Any:
    """A plain value as ruamel round-trip data, so it is emitted in block style."""
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = to_roundtrip(item)
        return out
    if isinstance(value, list):
        return CommentedSeq([to_roundtrip(v) for v in value])
    return value


@dataclass
class _Header:
    """The `---` line (and anything before the body) of a document part."""

    text: str


class YamlDocument:
    """One document of a multi-document file, loaded for round-trip editing."""

    def __init__(self, part: str) -> None:
        self.original = part
        lines = part.splitlines(keepends=True)
        head = lines[0] if lines and (lines[0].rstrip() == "---" or lines[0].startswith("--- ")) else ""
        self.header = _Header(head)
        self.body_text = part[len(head):]
        self.data = _load(self.body_text)
        self._spliced: str | None = None
        self._spliced_data: Any = None  # what `_spliced` was verified to parse to

    def splice_scalar(self, parent: Any, key: Any, new_value: Any) -> bool:
        """Replace one scalar in place in the text; False when it cannot be done safely."""
        old = parent[key]
        if isinstance(old, (dict, list)) or isinstance(new_value, (dict, list)):
            return False
        positions: Any = getattr(parent, "lc", None)  # ruamel's line/column record
        try:
            line, col = positions.value(key) if isinstance(parent, dict) else positions.item(key)
        except (KeyError, IndexError, TypeError, AttributeError):
            return False
        source = self._spliced if self._spliced is not None else self.body_text
        lines = source.splitlines(keepends=True)
        if line >= len(lines):
            return False
        text = lines[line]
        end = _scalar_end(text, col)
        if end is None:
            return False
        rendered = render_scalar(new_value, text[col:end])
        candidate = "".join(lines[:line]) + text[:col] + rendered + text[end:] + "".join(lines[line + 1:])
        parent[key] = new_value
        expected = plain(self.data)
        if not _parses_to(candidate, expected):
            parent[key] = old
            return False
        self._spliced = candidate
        self._spliced_data = expected
        return True

    def render(self) -> str:
        """The document's new text: spliced if possible, else re-emitted in the closest style."""
        expected = plain(self.data)
        if self._spliced is not None and (expected == self._spliced_data or _parses_to(self._spliced, expected)):
            return self.header.text + self._spliced  # verified when spliced, and nothing changed since
        best: str | None = None
        best_cost = -1
        for mapping, sequence, offset in STYLES:
            yaml = _yaml()
            yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
            stream = io.StringIO()
            yaml.dump(self.data, stream)
            candidate = stream.getvalue()
            if self.body_text and not self.body_text.endswith("\n"):
                candidate = candidate.rstrip("\n")
            merged = keep_original_lines(self.body_text, candidate)
            if _parses_to(merged, expected):
                candidate = merged
            cost = _changed_lines(self.body_text, candidate)
            if best is None or cost < best_cost:
                best, best_cost = candidate, cost
        assert best is not None
        return self.header.text + best


def _load(text: str) -> Any:
    """Round-trip data of a document, read as kubectl reads it (trailing TABs tolerated).

    The repair keeps every column before the repaired spot, so positions ruamel records
    in the repaired text are valid in the original: splices go into the original text.
    """
    try:
        return _yaml().load(text)
    except YAMLError:
        repaired, lines = repaired_text(text)
        if not lines:
            raise
        return _yaml().load(repaired)


def _parses_to(text: str, expected: Any) -> bool:
    """True when `text` is valid YAML (as kubectl reads it) whose data equals `expected`."""
    try:
        return plain(_load(text)) == expected
    except YAMLError:
        return False


def keep_original_lines(original: str, candidate: str) -> str:
    """Where a re-emitted line differs from the original only in spacing, keep the original.

    New lines are shifted by the same amount as the nearest kept line above them at their
    level, so they sit in the original's indentation style. This is what lets one document
    mix styles (as hand-written ones do) and still change only the lines the edit is about.
    """
    before = original.splitlines(keepends=True)
    after = candidate.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(
        a=[_normal(line) for line in before], b=[_normal(line) for line in after], autojunk=False
    )
    shift_at: list[tuple[int, int]] = []  # (candidate indent, original - candidate) of kept lines
    out: list[str] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for a, b in zip(range(a0, a1), range(b0, b1), strict=True):
                shift_at.append((_indent(after[b]), _indent(before[a]) - _indent(after[b])))
                out.append(before[a])
            continue
        for line in after[b0:b1]:
            indent = _indent(line)
            delta = next((d for i, d in reversed(shift_at) if i <= indent), 0)
            out.append(" " * (indent + delta) + line.lstrip(" ") if line.strip() else line)
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _normal(line: str) -> str:
    return " ".join(line.split())


def _changed_lines(before: str, after: str) -> int:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _scalar_end(text: str, col: int) -> int | None:
    """Where the scalar that starts at `col` ends on its line (None for multi-line ones)."""
    if col >= len(text):
        return None
    first = text[col]
    if first in "|>":
        return None
    if first in "\"'":
        i = col + 1
        while i < len(text):
            if first == "'" and text[i] == "'" and text[i + 1:i + 2] == "'":
                i += 2
                continue
            if first == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == first:
                return i + 1
            i += 1
        return None
    body = text[col:].rstrip("\r\n")
    comment = re.search(r"\s#", body)
    if comment:
        body = body[: comment.start()]
    if body.rstrip().endswith((",", "}", "]")) and ("{" in text[:col] or "[" in text[:col]):
        return None  # inside a flow collection: re-emit instead
    return col + len(body.rstrip())


def render_scalar(value: Any, old_text: str) -> str:
    """A scalar as YAML, quoted the way the old one was where that is possible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    quote = old_text[:1]
    if quote == "'" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    if quote == '"':
        return json.dumps(text)
    if _PLAIN_SAFE.match(text) and text.lower() not in _BOOLISH and not _numberish(text):
        return text
    if quote not in "\"'" and text.lower() not in _BOOLISH and not _numberish(text) and _plain_reads_back(text):
        return text  # `--cache-server=tcp://cache:6380` stays as plain as it was written
    return json.dumps(text)


def _plain_reads_back(text: str) -> bool:
    """Would `key: <text>` unquoted read back as exactly this string?"""
    if not text or text != text.strip() or "\n" in text or " #" in text or ": " in text:
        return False
    try:
        return YAML(typ="safe", pure=True).load(f"k: {text}\n") == {"k": text}
    except YAMLError:
        return False


def _numberish(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class YamlFile:
    """A YAML file split into documents; edit some, render all, the rest untouched."""

    def __init__(self, text: str) -> None:
        self.parts = split_documents(text)
        self._docs: dict[int, YamlDocument] = {}

    def document(self, index: int) -> YamlDocument:
        """The document at `index` (as numbered by the manifest index), loaded once."""
        if index not in self._docs:
            self._docs[index] = YamlDocument(self.parts[index])
        return self._docs[index]

    def render(self) -> str:
        """The whole file with edited documents re-rendered."""
        return "".join(
            self._docs[i].render() if i in self._docs else part for i, part in enumerate(self.parts)
        )
