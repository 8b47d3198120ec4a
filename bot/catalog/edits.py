"""Apply a fault's edits to a checked-out tree, the way a developer's change would look.

Every write goes through `safe_path`, which refuses absolute paths, `..` and symlinks, so
no edit can reach outside the repository. Values may be Jinja templates rendered against
the current state (`{{ current }}-v2`, `{{ current + 1 }}`, `{{ roles.frontend_workload.spec... }}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import SandboxedEnvironment

from bot.base.yamlguard import read_bounded
from bot.catalog.faultspec import (
    ConnectionSet,
    Edit,
    FileAdd,
    FileDelete,
    Patch,
    TextReplace,
    YamlAppend,
    YamlDelete,
    YamlSet,
)
from bot.catalog.globs import files_matching
from bot.catalog.manifests import KUSTOMIZATION_NAMES, Resource
from bot.catalog.rewrite import rewrite
from bot.catalog.roles import Role, Roles
from bot.catalog.yamledit import YamlFile, plain, to_roundtrip
from bot.catalog.yamlpath import Step, format_path, parse_path, walk
from bot.errors import EditError, GitError, UnsafeYaml


class _Templates(NativeEnvironment, SandboxedEnvironment):
    """Native types (`{{ current + 1 }}` stays an int) inside Jinja's sandbox."""


_TEMPLATES = _Templates(undefined=StrictUndefined)
_TEXT_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


def safe_path(tree: Path, relative: str) -> Path:
    """`tree/relative`, refusing anything that would write outside the tree or via a symlink."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise EditError(f"path {relative!r} leaves the repository; use a path inside it")
    current = tree
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise EditError(f"path {relative!r} goes through a symlink ({current.relative_to(tree)}); refusing")
    return current


PatchApplier = Callable[[Path, str, "str | None"], list[str]]
"""Applies a unified diff inside a tree (optionally below a directory); returns the paths it
changed and raises GitError when it does not apply. git does this (`bot.repo.workspace.
apply_patch`); the catalog only says which patch goes where, so it runs no git itself."""


@dataclass
class EditContext:
    """What edits need: the tree, its roles, the fault folder (for patch/source files) and a
    way to apply patches. `changed` collects the paths written, even when a later edit fails."""

    tree: Path
    roles: Roles
    fault_dir: Path
    apply_patch: PatchApplier
    changed: list[str] = field(default_factory=list)

    def variables(self) -> dict[str, Any]:
        """Template variables: every resolvable role's object as plain data (`roles`), its
        deployed name and namespace (`deployed`: kustomize's namePrefix applied, as DNS knows
        it), and the port its clients dial where known (`ports`)."""
        roles: dict[str, Any] = {}
        deployed: dict[str, Any] = {}
        ports: dict[str, Any] = {}
        for role in Role:
            target = self.roles.try_resolve(role)
            if target is None:
                continue
            if target.port is not None:
                ports[role.value] = target.port
            roles[role.value] = target.directory if target.directory is not None else (
                plain(dict(target.resource.body)) if len(target.resources) == 1
                else [plain(dict(r.body)) for r in target.resources]
            )
            if target.directory is None and len(target.resources) == 1:
                deployed[role.value] = {"name": target.resource.name, "namespace": target.resource.namespace}
        return {"roles": roles, "deployed": deployed, "ports": ports}


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render templates inside a value (strings anywhere in dicts/lists)."""
    if isinstance(value, str) and "{{" in value:
        try:
            return _TEMPLATES.from_string(value).render(**variables)
        except TemplateError as exc:
            raise EditError(f"template {value!r}: {exc}") from None
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def render_text(text: str, variables: Mapping[str, Any]) -> str:
    """Render a whole-file template (file.add content) to text."""
    try:
        return _TEXT_TEMPLATES.from_string(text).render(**variables)
    except TemplateError as exc:
        raise EditError(f"template: {exc}") from None


def apply_edits(edits: list[Edit], context: EditContext) -> list[str]:
    """Apply edits in order; return the repo-relative paths changed. EditError if one fails."""
    for number, edit in enumerate(edits):
        try:
            paths = _APPLY[type(edit)](edit, context)
        except EditError as exc:
            raise EditError(f"edits[{number}] ({edit.op}): {exc.message}") from None
        context.changed += [p for p in paths if p not in context.changed]
    return list(context.changed)


def _single_resource(context: EditContext, role: Role) -> Resource:
    target = context.roles.resolve(role)
    if target.directory is not None or len(target.resources) != 1:
        raise EditError(f"role {role} is not a single Kubernetes object")
    return target.resource


def render_path(path: str, variables: Mapping[str, Any]) -> str:
    """A path, rendered when it is a template (`spec.ports[port={{ ports.db_connection }}]`)."""
    if "{{" not in path:
        return path
    try:
        rendered = _TEXT_TEMPLATES.from_string(path).render(**variables)
    except TemplateError as exc:
        if "ports" in path and "has no attribute" in str(exc):
            raise EditError(f"path {path!r}: no port is known for that role (its clients dial a node port the API server chose, "
                            "or the Service has several ports and none is the usual one)") from None
        raise EditError(f"path {path!r}: {exc}") from None
    try:
        parse_path(rendered)
    except ValueError as exc:
        raise EditError(f"path {path!r} renders to {rendered!r}: {exc}") from None
    return rendered


def _create_parents(document: Any, path: str) -> None:
    """Create the missing mappings a path walks through (never list items)."""
    node = document
    for step in parse_path(path)[:-1]:
        if step.key is None or not isinstance(node, dict):
            places = [p[k] for p, k in walk(node, (step,)) if not (isinstance(p, dict) and k not in p)]
            if len(places) != 1:
                return
            node = places[0]
            continue
        if step.key not in node or node[step.key] is None:
            node[step.key] = to_roundtrip({})
        node = node[step.key]


def _locate(document: Any, path: str, *, allow_missing: bool) -> tuple[Any, Any]:
    steps = parse_path(path)
    places = list(walk(document, steps))
    if not allow_missing:
        places = [(p, k) for p, k in places if not (isinstance(p, dict) and k not in p)]
    if not places:
        parent_steps: tuple[Step, ...] = steps[:-1]
        if allow_missing and parent_steps and steps[-1].key is not None:
            raise EditError(f"{format_path(parent_steps)} does not exist")
        raise EditError(f"{path} matches nothing")
    if len(places) > 1:
        raise EditError(f"{path} matches {len(places)} places; make the path name exactly one")
    return places[0]


def _team_text(path: Path, shown: str) -> str:
    """A team file's text, bounded: a team repository is not trusted input."""
    try:
        return read_bounded(path)
    except (UnicodeDecodeError, UnsafeYaml) as exc:
        raise EditError(f"{shown}: {exc.message if isinstance(exc, UnsafeYaml) else 'not UTF-8 text'}") from None


def _yaml_edit(context: EditContext, role: Role, action: Any) -> list[str]:
    resource = _single_resource(context, role)
    file_path = safe_path(context.tree, resource.path)
    yaml_file = YamlFile(_team_text(file_path, resource.path))
    document = yaml_file.document(resource.doc_index)
    action(document, {"resource": plain(dict(resource.body)), **context.variables()})
    file_path.write_text(yaml_file.render(), encoding="utf-8")
    return [resource.path]


def _yaml_set(edit: YamlSet, context: EditContext) -> list[str]:
    def action(document: Any, variables: dict[str, Any]) -> None:
        path = render_path(edit.path, variables)
        if edit.create:
            _create_parents(document.data, path)
        parent, key = _locate(document.data, path, allow_missing=True)
        exists = not (isinstance(parent, dict) and key not in parent)
        if not exists and "current" in repr(edit.value):
            raise EditError(f"{path} does not exist, so there is no current value to change")
        current = plain(parent[key]) if exists else None
        value = render_value(edit.value, {**variables, "current": current})
        if exists and current == value:
            raise EditError(f"{path} is already {value!r}; the edit would change nothing")
        if exists and document.splice_scalar(parent, key, value):
            return
        parent[key] = to_roundtrip(value)

    return _yaml_edit(context, edit.role, action)


def _yaml_delete(edit: YamlDelete, context: EditContext) -> list[str]:
    def action(document: Any, variables: dict[str, Any]) -> None:
        parent, key = _locate(document.data, render_path(edit.path, variables), allow_missing=False)
        del parent[key]

    return _yaml_edit(context, edit.role, action)


def _yaml_append(edit: YamlAppend, context: EditContext) -> list[str]:
    def action(document: Any, variables: dict[str, Any]) -> None:
        parent, key = _locate(document.data, render_path(edit.path, variables), allow_missing=True)
        value = to_roundtrip(render_value(edit.value, variables))
        if isinstance(parent, dict) and key not in parent:
            parent[key] = to_roundtrip([])
        if not isinstance(parent[key], list):
            raise EditError(f"{edit.path} is not a list")
        parent[key].append(value)

    return _yaml_edit(context, edit.role, action)


def _kustomization_in(tree: Path, folder: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        if (folder / name).is_file() and not (folder / name).is_symlink():
            return folder / name
    return None


def _set_kustomization_entry(tree: Path, file: Path, *, present: bool) -> list[str]:
    """Add or remove `file` in the `resources:` of the kustomization beside it."""
    kustomization = _kustomization_in(tree, file.parent)
    if kustomization is None:
        return []
    yaml_file = YamlFile(_team_text(kustomization, kustomization.relative_to(tree).as_posix()))
    document = yaml_file.document(len(yaml_file.parts) - 1 if not yaml_file.parts[0].strip() else 0)
    resources = document.data.get("resources") if isinstance(document.data, dict) else None
    if resources is None:
        return []
    name = file.name
    if present and name not in resources:
        resources.append(name)
    elif not present and name in resources:
        resources.remove(name)
    else:
        return []
    kustomization.write_text(yaml_file.render(), encoding="utf-8")
    return [kustomization.relative_to(tree).as_posix()]


def _file_add(edit: FileAdd, context: EditContext) -> list[str]:
    variables = context.variables()
    relative = render_text(edit.path, variables)
    if edit.role is not None:
        anchor = _single_resource(context, edit.role).path
        relative = (PurePosixPath(anchor).parent / relative).as_posix()
    target = safe_path(context.tree, relative)
    if target.exists():
        raise EditError(f"{relative} already exists; a fault only adds new files")
    if edit.source is not None:
        source = safe_path(context.fault_dir, edit.source)
        if not source.is_file():
            raise EditError(f"source {edit.source!r} is not a file in the fault's folder")
        template = source.read_text(encoding="utf-8")
    else:
        template = edit.content or ""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_text(template, variables), encoding="utf-8")
    changed = [relative]
    if edit.kustomize:
        changed += _set_kustomization_entry(context.tree, target, present=True)
    return changed


def _file_delete(edit: FileDelete, context: EditContext) -> list[str]:
    relative = edit.path if edit.path is not None else _single_resource(context, edit.role).path  # type: ignore[arg-type]
    target = safe_path(context.tree, relative)
    if not target.is_file():
        raise EditError(f"{relative} is not a file of the repo")
    target.unlink()
    changed = [relative]
    if edit.kustomize:
        changed += _set_kustomization_entry(context.tree, target, present=False)
    return changed


def _text_files(context: EditContext, role: Role | None, path: str | None, glob: str) -> list[Path]:
    if role is not None:
        target = context.roles.resolve(role)
        if target.directory is None:
            # An object role (network_policies may be several objects): the files holding them.
            paths = dict.fromkeys(r.path for r in target.resources)
            return [safe_path(context.tree, p) for p in paths]
        base = target.directory
    else:
        base = path or ""
    root = safe_path(context.tree, base)
    if not root.exists():
        raise EditError(f"{base} does not exist")
    return files_matching(root, glob)


def _text_replace(edit: TextReplace, context: EditContext) -> list[str]:
    pattern = re.compile(edit.pattern, re.MULTILINE)
    files = _text_files(context, edit.role, edit.path, edit.glob)
    hits: list[tuple[Path, str]] = []
    total = 0
    for file in files:
        try:
            text = read_bounded(file)
        except (UnicodeDecodeError, UnsafeYaml):
            continue  # binary or huge: not a file a person would edit this way
        found = len(pattern.findall(text))
        if found:
            hits.append((file, text))
            total += found
    if total != edit.count:
        raise EditError(
            f"pattern {edit.pattern!r} matches {total} time(s) in {edit.role or edit.path}/{edit.glob}; "
            f"the fault expects exactly {edit.count}"
        )
    changed = []
    for file, text in hits:
        try:
            replaced = pattern.sub(edit.replacement, text)
        except re.error as exc:
            raise EditError(f"replacement {edit.replacement!r} is not a valid re.sub template: {exc}") from None
        file.write_text(replaced, encoding="utf-8")
        changed.append(file.relative_to(context.tree).as_posix())
    return changed


def _patch(edit: Patch, context: EditContext) -> list[str]:
    patch_file = safe_path(context.fault_dir, edit.file)
    if not patch_file.is_file():
        raise EditError(f"patch file {edit.file!r} is not in the fault's folder")
    directory = None
    if edit.role is not None:
        target = context.roles.resolve(edit.role)
        if target.directory is None:
            raise EditError(f"role {edit.role} is not a directory; a patch applies inside one")
        directory = target.directory
    try:
        return context.apply_patch(context.tree, patch_file.read_text(encoding="utf-8"), directory)
    except GitError as exc:
        raise EditError(f"patch {edit.file} does not apply: {exc.output.splitlines()[0] if exc.output else exc.message}") from None


def _connection_set(edit: ConnectionSet, context: EditContext) -> list[str]:
    target = context.roles.resolve(edit.connection)
    connection = target.connection
    if connection is None:
        raise EditError(f"{target.how}: its {edit.part} is not written anywhere faultbot can edit")
    location = connection.host_at if edit.part == "host" else connection.port_at
    if location is None:
        implied = f"the {connection.endpoint.scheme}:// scheme" if connection.endpoint.scheme else "the client"
        raise EditError(f"the port of {connection.key} is not written (implied by {implied})")
    service = context.roles.try_resolve(Role.db_service) if edit.connection is Role.db_connection else None
    variables = {
        **context.variables(), "host": connection.endpoint.host, "port": connection.port,
        "service": service.resource.name if service else connection.endpoint.host,
        "namespace": service.resource.namespace if service else target.resource.namespace,
    }
    value = str(render_value(edit.value, variables))
    file = safe_path(context.tree, location.path)
    file.write_text(rewrite(file.read_text(encoding="utf-8"), location, value), encoding="utf-8")
    return [location.path]


_APPLY: dict[type, Any] = {
    YamlSet: _yaml_set,
    YamlDelete: _yaml_delete,
    YamlAppend: _yaml_append,
    FileAdd: _file_add,
    FileDelete: _file_delete,
    TextReplace: _text_replace,
    Patch: _patch,
    ConnectionSet: _connection_set,
}
