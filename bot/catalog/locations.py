"""Where a piece of configuration is written, precisely enough for an edit to change it.

A connection's host may sit in a manifest scalar (an env `value`, one `args` item, a ConfigMap
key, a base64 Secret key), in a kustomize generator (a `literals:` item, a line of an `envs:`
file, a whole `files:` file), or inside a longer text (a shell command, an nginx.conf). One
value type names all of these: the file, the document and YAML path when it is YAML, the
1-based line when it is a plain-text file, and the character span of the part that matters
inside the (decoded) text there.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["plain", "base64"]


@dataclass(frozen=True)
class Location:
    """One place in the repository: a YAML scalar, a line of a text file, or a whole text file.

    `span` is (start, end) inside the decoded text of that place; None means all of it.
    """

    path: str  # posix, relative to the tree root
    doc_index: int | None = None  # YAML document; None for a plain-text file
    yaml_path: str | None = None  # bot.yamlpath syntax, to the scalar inside that document
    line: int | None = None  # 1-based line of a plain-text file; None: the whole file
    span: tuple[int, int] | None = None
    encoding: Encoding = "plain"

    @property
    def is_yaml(self) -> bool:
        """True when the place is a scalar inside a YAML document."""
        return self.yaml_path is not None

    def narrowed(self, start: int, end: int) -> Location:
        """The same place, narrowed to text[start:end] of what this location already spans."""
        offset = self.span[0] if self.span is not None else 0
        return Location(self.path, self.doc_index, self.yaml_path, self.line, (offset + start, offset + end), self.encoding)

    def excerpt(self, text: str) -> str:
        """The part of `text` (the decoded scalar, line or file) this location points at."""
        return text if self.span is None else text[self.span[0]:self.span[1]]

    def splice(self, text: str, replacement: str) -> str:
        """`text` (decoded) with the located part replaced: the new decoded value."""
        if self.span is None:
            return replacement
        start, end = self.span
        return text[:start] + replacement + text[end:]

    def __str__(self) -> str:
        where = self.path
        if self.yaml_path is not None:
            where += f" {self.yaml_path}" if not self.doc_index else f" (document {self.doc_index + 1}) {self.yaml_path}"
        elif self.line is not None:
            where += f":{self.line}"
        if self.encoding == "base64":
            where += " (base64)"
        return where


def decode(raw: str, encoding: Encoding) -> str | None:
    """The text a scalar stands for: base64 Secret `data:` decoded; None if it is not valid."""
    if encoding == "plain":
        return raw
    try:
        return base64.b64decode("".join(raw.split()), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def encode(text: str, encoding: Encoding) -> str:
    """The scalar to write for `text` (the inverse of decode)."""
    return text if encoding == "plain" else base64.b64encode(text.encode("utf-8")).decode("ascii")
