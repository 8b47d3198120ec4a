"""`when:` conditions: the shape a repository must have for a variant or a fix to fit it.

A condition is a pre-filter: a variant whose edits fail is skipped anyway, but a condition
lets the skip reason say which shape the repository has (`Service/web spec.ports[0].targetPort
is 8080 (int), not str`) instead of where an edit stumbled.
"""

from __future__ import annotations

from typing import Any

from bot.catalog.edits import EditContext, render_path
from bot.catalog.faultspec import Condition
from bot.catalog.yamlpath import get_values, parse_path


def unmet(conditions: list[Condition], context: EditContext) -> str | None:
    """Why the repository does not have this shape (the first condition it misses), or None."""
    for condition in conditions:
        reason = _path_unmet(condition, context) if condition.role is not None else _connection_unmet(condition, context)
        if reason is not None:
            return reason
    return None


def _shape(values: list[Any]) -> str:
    if not values:
        return "missing"
    if len(values) > 1:
        return f"{len(values)} values"
    value = values[0]
    if isinstance(value, bool):
        return f"{value!r} (bool)"
    if isinstance(value, int):
        return f"{value} (int)"
    if isinstance(value, str):
        return f"{value!r} (str)"
    return type(value).__name__


def _path_unmet(condition: Condition, context: EditContext) -> str | None:
    assert condition.role is not None and condition.path is not None
    target = context.roles.resolve(condition.role)
    resource = target.resource
    path = render_path(condition.path, context.variables())
    values = get_values(dict(resource.body), parse_path(path))
    one = values[0] if len(values) == 1 else None
    holds = {
        "missing": not values,
        "present": bool(values),
        "int": isinstance(one, int) and not isinstance(one, bool),
        "str": isinstance(one, str) and not one.isdigit(),
    }[condition.is_]
    return None if holds else f"{resource.kind}/{resource.name} {path} is {_shape(values)}, not {condition.is_}"


def _connection_unmet(condition: Condition, context: EditContext) -> str | None:
    assert condition.connection is not None
    target = context.roles.resolve(condition.connection)
    connection = target.connection
    written = connection is not None and (connection.host_at if condition.part == "host" else connection.port_at) is not None
    if written == (condition.is_ == "written"):
        return None
    if connection is None:
        return f"{target.how}: its {condition.part} is not written"
    state = "written" if written else "implied"
    return f"the {condition.part} of {connection.key} is {state}, not {condition.is_}"
