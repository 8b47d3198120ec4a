"""Paths inside one YAML document: `spec.template.spec.containers[name=backend].env[name=DB_HOST].value`.

Steps are keys (`spec`), quoted keys (`labels["app.kubernetes.io/name"]`), indices (`[0]`),
matches on a list item's field (`[name=DB_HOST]`) and a wildcard (`[*]`, every item). A
path used to change something must lead to exactly one place, so a fault never edits two
containers when the author meant one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*\*\s*\]
      | \[\s*(?P<field>[\w.-]+)\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\]]*?)\s*\]
      | \[\s*(?P<qkey>"[^"]*"|'[^']*')\s*\]
      | \.?(?P<key>[A-Za-z0-9_$@-][\w$@/-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Step:
    """One step of a path."""

    key: str | None = None
    index: int | None = None
    match: tuple[str, str] | None = None
    wildcard: bool = False

    def __str__(self) -> str:
        if self.key is not None:
            return self.key if re.fullmatch(r"[\w$@/-]+", self.key) else f'["{self.key}"]'
        if self.index is not None:
            return f"[{self.index}]"
        if self.match is not None:
            return f"[{self.match[0]}={self.match[1]}]"
        return "[*]"


def parse_path(text: str) -> tuple[Step, ...]:
    """Parse a path; ValueError with the position where it stops making sense."""
    steps: list[Step] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read path {text!r} at position {pos}")
        if match.group("index") is not None:
            steps.append(Step(index=int(match.group("index"))))
        elif match.group("field") is not None:
            steps.append(Step(match=(match.group("field"), match.group("value").strip("'\""))))
        elif match.group("qkey") is not None:
            steps.append(Step(key=match.group("qkey")[1:-1]))
        elif match.group("key") is not None:
            steps.append(Step(key=match.group("key")))
        else:
            steps.append(Step(wildcard=True))
        pos = match.end()
    if not steps:
        raise ValueError("empty path")
    return tuple(steps)


def format_path(steps: tuple[Step, ...]) -> str:
    """Steps back to text."""
    text = ""
    for step in steps:
        part = str(step)
        text += part if part.startswith("[") or not text else f".{part}"
    return text


Location = tuple[Any, Any]  # (container, key or index) — where a value lives


def walk(node: Any, steps: tuple[Step, ...]) -> Iterator[Location]:
    """Every (parent, key) the path reaches; the last step may name a missing key."""
    if not steps:
        return
    head, rest = steps[0], steps[1:]
    for parent, key in _step(node, head, last=not rest):
        if not rest:
            yield parent, key
        else:
            yield from walk(parent[key], rest)


def _step(node: Any, step: Step, *, last: bool) -> Iterator[Location]:
    if step.key is not None:
        if isinstance(node, dict) and (step.key in node or last):
            yield node, step.key
    elif step.index is not None:
        if isinstance(node, list) and -len(node) <= step.index < len(node):
            yield node, step.index % len(node)
    elif step.match is not None:
        if isinstance(node, list):
            field, value = step.match
            for i, item in enumerate(node):
                if isinstance(item, dict) and str(item.get(field)) == value:
                    yield node, i
    elif isinstance(node, list):
        yield from ((node, i) for i in range(len(node)))
    elif isinstance(node, dict):
        yield from ((node, k) for k in list(node))


def get_values(node: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Values at every existing place the path reaches."""
    found = []
    for parent, key in walk(node, steps):
        if isinstance(parent, dict) and key not in parent:
            continue
        found.append(parent[key])
    return found
