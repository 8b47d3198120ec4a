"""Templates in fault files are checked when the catalog loads, not when a repository is tried.

A variant whose template cannot render on any repository (a syntax error, an unknown filter, a
misspelt variable) would otherwise fail on every team as "this variant does not fit", and the next
variant would be tried: an authoring error hidden behind a working variant. What a template may
name depends on the edit (see `bot.catalog.edits`): every edit sees `roles`, `deployed` and
`ports`; YAML edits add the edited object as `resource`, `yaml.set` the value it replaces as
`current`; `connection.set` the connection's `host`, `port`, `service` and `namespace`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

EVERY_EDIT = frozenset({"roles", "deployed", "ports"})
YAML_EDIT = EVERY_EDIT | {"resource"}
YAML_SET = YAML_EDIT | {"current"}
CONNECTION_SET = EVERY_EDIT | {"host", "port", "service", "namespace"}

# Parsing and compiling only: the same syntax, filters and tests as the environments that render.
_PARSER = SandboxedEnvironment()


def check_templates(value: Any, allowed: frozenset[str]) -> None:
    """ValueError naming the template if one in `value` (strings in dicts/lists too) cannot compile
    or names a variable outside `allowed`."""
    if isinstance(value, dict):
        for item in value.values():
            check_templates(item, allowed)
    elif isinstance(value, list):
        for item in value:
            check_templates(item, allowed)
    elif isinstance(value, str) and ("{{" in value or "{%" in value):
        try:
            _PARSER.from_string(value)  # compiles: unknown filters and tests fail here
            names = meta.find_undeclared_variables(_PARSER.parse(value))
        except TemplateError as exc:
            raise ValueError(f"template {value!r}: {exc}") from None
        unknown = sorted(names - allowed)
        if unknown:
            raise ValueError(f"template {value!r} names {', '.join(unknown)}, which this edit does not have "
                             f"(it has {', '.join(sorted(allowed))})")
