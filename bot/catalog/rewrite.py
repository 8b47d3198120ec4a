"""Read and change the text at a `Location`, the way a developer's one-line change would look.

Pure text in, text out (the edit layer does the file I/O). A YAML scalar is changed through
`bot.yamledit`, which splices the new value at the position ruamel records, so exactly one
line of the file changes; a base64 Secret value is decoded, changed and encoded again; a
line of an env file or a span of a plain file is replaced in place.
"""

from __future__ import annotations

from typing import Any

from bot.catalog.locations import Location, decode, encode
from bot.catalog.yamledit import YamlFile
from bot.catalog.yamlpath import get_values, parse_path, walk
from bot.catalog.yamlread import read_yaml
from bot.errors import EditError


def text_at(file_text: str, location: Location) -> str:
    """The decoded text of the place (the whole scalar, line or file; `location.excerpt` narrows it)."""
    if location.is_yaml:
        documents = read_yaml(file_text).documents
        index = location.doc_index or 0
        if index >= len(documents) or documents[index].problem is not None:
            raise EditError(f"{location}: the document cannot be read")
        values = get_values(documents[index].data, parse_path(location.yaml_path or ""))
        if len(values) != 1 or isinstance(values[0], (dict, list)):
            raise EditError(f"{location}: does not name exactly one value")
        decoded = decode(_scalar_text(values[0]), location.encoding)
        if decoded is None:
            raise EditError(f"{location}: is not valid base64")
        return decoded
    if location.line is not None:
        lines = file_text.splitlines()
        if not 0 < location.line <= len(lines):
            raise EditError(f"{location}: the file has {len(lines)} lines")
        return lines[location.line - 1]
    return file_text


def rewrite(file_text: str, location: Location, replacement: str) -> str:
    """`file_text` with the located part (its span, or all of it) replaced by `replacement`."""
    old = text_at(file_text, location)
    new = location.splice(old, replacement)
    if new == old:
        raise EditError(f"{location}: already {location.excerpt(old)!r}; the edit would change nothing")
    if location.is_yaml:
        return _rewrite_yaml(file_text, location, encode(new, location.encoding))
    if location.line is not None:
        lines = file_text.splitlines(keepends=True)
        ending = lines[location.line - 1][len(lines[location.line - 1].rstrip("\r\n")):]
        lines[location.line - 1] = new + ending
        return "".join(lines)
    return new


def _rewrite_yaml(file_text: str, location: Location, scalar: str) -> str:
    yaml_file = YamlFile(file_text)
    document = yaml_file.document(location.doc_index or 0)
    places = [(p, k) for p, k in walk(document.data, parse_path(location.yaml_path or "")) if not (isinstance(p, dict) and k not in p)]
    if len(places) != 1:
        raise EditError(f"{location}: does not name exactly one value")
    parent, key = places[0]
    value: Any = int(scalar) if isinstance(parent[key], int) and not isinstance(parent[key], bool) and scalar.isdigit() else scalar
    if not document.splice_scalar(parent, key, value):
        parent[key] = value
    return yaml_file.render()


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
