"""Read manifest YAML the way kubectl does, or say exactly why not: never drop a file silently.

kubectl (go-yaml) accepts trailing TABs after a value (`apiVersion: v1<TAB>`); ruamel.yaml,
like every YAML 1.1/1.2 scanner in Python, refuses them ("found character '\\t' that cannot
start any token"). Measured on argoproj/argocd-example-apps' kustomize-guestbook, whose Service
file has a trailing TAB on 9 of its 10 lines: today's index drops that Service without a word.

The repair is narrow on purpose: only a line the scanner complains about, and only when
everything from the complaint to the end of that line is blank, loses its trailing blanks.
Tabs inside block scalars never reach the scanner's complaint (they are content there), so
they are kept. Columns before the repaired spot are unchanged, which lets an edit splice into
the *original* text at the positions ruamel reports for the repaired one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.main import CParser

from bot.base.yamlguard import check_text
from bot.catalog.manifests import split_documents
from bot.errors import UnsafeYaml

MAX_REPAIRS = 10_000  # one per line at most; a bound so a pathological file cannot loop
MAX_DEPTH = 100  # nesting read through libyaml; deeper goes to the pure parser, as before
_SLOW = object()  # _load_fast's "use the pure parser"
_PURE_ONLY = ("\t", "\x85", "\u2028", "\u2029")  # characters the two readers take differently


@dataclass(frozen=True)
class YamlProblem:
    """Why one document of a file cannot be read: 1-based line in the file, and the parser's words."""

    line: int
    message: str
    refused: bool = False  # not read on purpose (too large, an alias bomb): bot.base.yamlguard

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ReadDocument:
    """One document of a multi-document file: its data, or the problem that stopped the parser."""

    index: int
    data: Any
    first_line: int  # 1-based line of the document's first line in the file
    repaired_lines: tuple[int, ...] = ()  # 1-based file lines whose trailing blanks were ignored
    problem: YamlProblem | None = None


@dataclass(frozen=True)
class ReadFile:
    """Every document of one YAML text, in order (the same numbering as the manifest index)."""

    documents: tuple[ReadDocument, ...]

    @property
    def repaired_lines(self) -> tuple[int, ...]:
        """Lines read with their trailing TABs/blanks ignored, over all documents."""
        return tuple(line for doc in self.documents for line in doc.repaired_lines)

    @property
    def problems(self) -> tuple[YamlProblem, ...]:
        """Documents that could not be read at all."""
        return tuple(doc.problem for doc in self.documents if doc.problem is not None)


def read_yaml(text: str) -> ReadFile:
    """Parse every document of `text`, repairing trailing TABs the way kubectl tolerates them."""
    return _read(text)


@lru_cache(maxsize=2048)
def _read(text: str) -> ReadFile:
    try:
        check_text(text)  # team repositories are not trusted: no alias bombs, nothing huge
    except UnsafeYaml as exc:
        return ReadFile((ReadDocument(0, None, 1, problem=YamlProblem(1, exc.message, refused=True)),))
    documents = []
    first_line = 1
    for index, part in enumerate(split_documents(text)):
        documents.append(_read_part(index, part, first_line))
        first_line += part.count("\n")
    return ReadFile(tuple(documents))


def repaired_text(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` with the trailing blanks the scanner refuses removed, and the 1-based lines touched.

    Positions (line, column) of everything the parser reads are the same in both texts, so
    a value located in the repaired text can be spliced into the original one.
    """
    repaired, lines, _ = _repaired(text)
    return repaired, lines


def _repaired(text: str) -> tuple[str, tuple[int, ...], list[Any] | None]:
    """repaired_text, plus the documents its last parse loaded (None if none succeeded): a
    reader that needs them need not parse the text a second time."""
    lines = text.splitlines(keepends=True)
    repaired: list[int] = []
    loaded = None
    for _ in range(MAX_REPAIRS):
        try:
            loaded = _load_all("".join(lines))
            break
        except MarkedYAMLError as exc:
            line = _trailing_blank_line(exc, lines)
            if line is None:
                break
            ending = lines[line][len(lines[line].rstrip("\r\n")):]
            lines[line] = lines[line].rstrip("\r\n").rstrip(" \t") + ending
            repaired.append(line + 1)
        except (YAMLError, RecursionError):
            break
    return "".join(lines), tuple(repaired), loaded


def _load_all(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=True).load_all(text))


def _load_fast(text: str) -> Any:
    """The one document of `text` through libyaml (ruamel.yaml.clib), or _SLOW when that does not
    settle it: clib missing, a refusal (the pure parser then says why, in the words and lines the
    notes use), not exactly one document, or nesting past MAX_DEPTH (see _deeper_than).

    libyaml scans about ten times faster than ruamel's pure-Python scanner, which was most of the
    time a rehearsal spends. Scalars are resolved by ruamel's own (YAML 1.2) rules either way; the
    few it resolves differently here were `-.5` (now a number) and `12:30:00` (now a string). A
    text with a TAB, NEL, LS or PS anywhere is not given to it (see _PURE_ONLY).
    """
    if CParser is None:
        return _SLOW
    try:
        loaded = list(YAML(typ="safe").load_all(text))  # typ="safe" takes libyaml where clib is installed
    except (YAMLError, RecursionError):
        return _SLOW
    if len(loaded) != 1 or _deeper_than(loaded[0], MAX_DEPTH):
        return _SLOW
    return loaded[0]


def _deeper_than(data: Any, limit: int) -> bool:
    """Does `data` nest more than `limit` mappings/lists deep? (Iterative: libyaml builds what
    the recursive pure parser gives up on, and faultbot's own walks are recursive.)"""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


def _read_part(index: int, part: str, first_line: int) -> ReadDocument:
    if not part.strip():
        return ReadDocument(index, None, first_line)
    # TABs: the pure parser's repair and notes. NEL, LS and PS: line breaks to libyaml, refused by
    # the pure scanner; such a text stays refused, as before.
    fast = _SLOW if any(c in part for c in _PURE_ONLY) else _load_fast(part)
    if fast is not _SLOW:
        return ReadDocument(index, fast, first_line)
    text, repaired, loaded = _repaired(part)
    try:
        # One document parsed already (the usual case) is what `load` would give; anything
        # else is parsed again by `load`, for its own error.
        data = loaded[0] if loaded is not None and len(loaded) == 1 else YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark else 0)
        message = str(exc.problem or exc.context or "invalid YAML")
        return ReadDocument(index, None, first_line, problem=YamlProblem(line, message))
    except YAMLError as exc:
        return ReadDocument(index, None, first_line, problem=YamlProblem(first_line, str(exc).splitlines()[0]))
    except RecursionError:
        return ReadDocument(index, None, first_line, problem=YamlProblem(first_line, "nested too deeply to read"))
    return ReadDocument(index, data, first_line, tuple(first_line + line - 1 for line in repaired))


def _trailing_blank_line(exc: MarkedYAMLError, lines: list[str]) -> int | None:
    """The 0-based line of a complaint about a blank that only trails to the end of its line."""
    mark = exc.problem_mark
    if mark is None or "\\t" not in str(exc.problem or "") and "\t" not in str(exc.problem or ""):
        return None
    if not 0 <= mark.line < len(lines):
        return None
    rest = lines[mark.line].rstrip("\r\n")[mark.column:]
    return mark.line if rest and not rest.strip(" \t") else None
