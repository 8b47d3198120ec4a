"""Limits on YAML faultbot did not write: team repositories are not trusted input (issue 15 item 5).

An 8-line "billion laughs" document (anchors whose aliases repeat each other) parses into a
small shared graph, but anything that walks it as a tree (validation, JSON, comparisons)
expands it: 4.6 GB and growing in `inject`. So, before any of it is used:
- a file larger than `MAX_BYTES` is not read at all (reading stops at the limit);
- a text with anchors is composed once (cheap: aliases stay shared) and its *expanded* node
  count, counted over the graph with memoisation, must stay under `MAX_NODES`;
- flow nesting deeper than `MAX_DEPTH` is refused before the parser slows down on it.
Each refusal is an `UnsafeYaml` whose message says what was too much; callers add the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from bot.errors import UnsafeYaml

MAX_BYTES = 2 * 1024 * 1024  # Kubernetes itself stores at most 1.5 MiB per object
MAX_NODES = 100_000  # a large real manifest file has a few thousand
MAX_DEPTH = 100  # brackets inside brackets; real manifests nest a handful
_BRACKETS = re.compile(r"[\[\]{}]")
_ANCHOR = re.compile(r"(?:^|[\s\[\{,:-])&[^\s,\[\]\{\}]")


def read_bounded(path: Path, limit: int = MAX_BYTES) -> str:
    """A file's text (UTF-8), refusing one larger than `limit` without reading it all.

    Raises OSError (cannot read), UnicodeDecodeError (not UTF-8) or UnsafeYaml (too large).
    """
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise UnsafeYaml(f"larger than {_size(limit)}; faultbot does not read files that size")
    return raw.decode("utf-8")


def check_text(text: str, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> None:
    """Refuse a YAML text that is too large or whose aliases expand past `max_nodes` nodes.

    Syntax errors are not this function's business: they are left for the parse to report.
    """
    if len(text) > max_bytes:
        raise UnsafeYaml(f"larger than {_size(max_bytes)}; faultbot does not read files that size")
    if text.count("[") + text.count("{") > MAX_DEPTH and _flow_depth(text) > MAX_DEPTH:
        # ruamel's scanner slows down superlinearly with flow nesting (5000 levels: 15 s) before
        # its recursion gives out: a cheap count first.
        raise UnsafeYaml(f"nested deeper than {MAX_DEPTH} levels; refused")
    if "*" not in text or not _ANCHOR.search(text):
        return  # no anchors, no aliases: the size bound is the node bound
    try:
        documents = list(YAML(typ="safe", pure=True).compose_all(text))
    except YAMLError:
        return
    except RecursionError:
        raise UnsafeYaml("nested too deeply to read") from None
    counted: dict[int, int] = {}
    total = 0
    for document in documents:
        if document is not None:
            total += _expanded(document, counted, max_nodes)
        if total > max_nodes:
            break
    if total > max_nodes:
        raise UnsafeYaml(f"its aliases expand to more than {max_nodes} nodes (a YAML alias bomb); refused")


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { (quotes ignored: an upper bound is all that is needed)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(text):
        depth = depth + 1 if bracket in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest


def _expanded(root: Node, counted: dict[int, int], cap: int) -> int:
    """Nodes in the tree `root` stands for, each alias counted in full (iterative, memoised)."""
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in counted:
            continue
        children = _children(node)
        if children_done or not children:
            size = 1 + sum(counted.get(id(child), 0) for child in children)
            counted[id(node)] = min(size, cap + 1)  # saturate: the answer is only "too many"
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in counted)
    return counted[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
