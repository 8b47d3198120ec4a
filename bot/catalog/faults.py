"""The fault catalog: `fault_patches/<family>/<name>/fault.yaml`, loaded into strict models.

A fault file is a boundary like repos.yaml: unknown keys, unknown ops, unknown roles and
bad regexes are errors that name the file, line and field. See docs/faults.md for the
format and faultspec.py for the models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.base.yamlsource import SourceMap, plain_data
from bot.catalog.faultspec import FaultSpec, FileAdd, ReferenceFix, WrongFix
from bot.catalog.templates import EVERY_EDIT, check_templates
from bot.errors import CatalogError

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "fault_patches"


@dataclass(frozen=True)
class Fault:
    """A loaded fault: its spec and the folder its patch files live in."""

    spec: FaultSpec
    folder: Path

    @property
    def id(self) -> str:
        """`family/name`."""
        return self.spec.id

    @property
    def family(self) -> str:
        """The scenario family it belongs to."""
        return self.spec.family

    @property
    def hint_delays(self) -> list[timedelta]:
        """When each hint is due, after injection."""
        return [hint.after for hint in self.spec.hints]


def _describe(error: dict[str, Any], source: SourceMap) -> str:
    loc = [p for p in error["loc"] if not (isinstance(p, str) and (p.startswith(("function-", "tagged-union")) or p in {"[key]"}))]
    # Discriminated unions put the tag name in the location (`edits.0.yaml.set.path`): drop it.
    loc = [p for p in loc if not (isinstance(p, str) and ("." in p or p in _TAGS))]
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "union_tag_invalid":
        message = f"unknown {error['ctx']['discriminator'].strip(chr(39))} {error['ctx']['tag']!r} (known: {error['ctx']['expected_tags']})"
    elif kind in ("enum", "literal_error"):
        message = f"{error['input']!r} is not allowed; {error['msg'].lower()}"
    elif kind == "missing":
        message = "missing (required)"
    field_path = source.where(loc)
    return f"{source.path.parent.name}/{field_path}: {message}"


_TAGS = {
    "ingress_routes", "service_selects", "service_target_port", "env_host_resolves",
    "refs_resolve", "network_allows", "replicas", "probes_target_ports", "yaml_value", "text",
    "all", "any", "patch", "connection_resolves", "exposed", "terraform_allows", "dns_record", "tests", "acceptance",
    "browser",
}


def load_fault(path: Path) -> Fault:
    """Load one fault.yaml; CatalogError naming file, line and field on any problem."""
    source = SourceMap.load(path, error=CatalogError)
    try:
        spec = FaultSpec.model_validate(plain_data(source.root))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CatalogError(_describe(first, source)) from None  # type: ignore[arg-type]
    folder = path.parent
    expected = f"{folder.parent.name}/{folder.name}"
    if spec.id != expected:
        raise CatalogError(f"{folder.name}/{source.where(('id',))}: id {spec.id!r} must match its folder {expected!r}")
    _check_sources(spec, folder)
    return Fault(spec, folder)


def _check_sources(spec: FaultSpec, folder: Path) -> None:
    """The template files `file.add` edits read (`source:`), checked like the templates in fault.yaml."""
    edits = [e for variant in spec.all_variants for e in variant.edits]
    fixes: list[ReferenceFix | WrongFix] = [*spec.fixes, *spec.wrong_fixes]
    edits += [e for fix in fixes for e in fix.edits]
    for edit in edits:
        if isinstance(edit, FileAdd) and edit.source is not None:
            file = (folder / edit.source).resolve()
            if not file.is_relative_to(folder.resolve()) or not file.is_file():
                raise CatalogError(f"{folder.name}/{edit.source}: the source of a file.add edit must be a file in the fault's folder")
            try:
                check_templates(file.read_text(encoding="utf-8"), EVERY_EDIT)
            except ValueError as exc:
                raise CatalogError(f"{folder.name}/{edit.source}: {exc}") from None


class _FaultFiles(Mapping[str, Fault]):
    """The catalog's fault.yaml files by id (a file's id is its folder), each parsed when first asked for."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = {f"{p.parent.parent.name}/{p.parent.name}": p for p in paths}
        self._loaded: dict[str, Fault] = {}

    def __getitem__(self, fault_id: str) -> Fault:
        if fault_id not in self._loaded:
            self._loaded[fault_id] = load_fault(self._paths[fault_id])
        return self._loaded[fault_id]

    def __contains__(self, fault_id: object) -> bool:
        return fault_id in self._paths  # Mapping's default would parse the file to answer

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


@dataclass(frozen=True)
class Catalog:
    """Every fault, by id."""

    root: Path
    faults: Mapping[str, Fault]

    @classmethod
    def load(cls, root: Path = DEFAULT_CATALOG, *, lazy: bool = False) -> Catalog:
        """Load every fault.yaml under root; the first malformed one stops the load.

        `lazy`: parse each file only when its fault is asked for (a command that uses one
        fault need not parse them all; a malformed file then fails when it is used)."""
        if not root.is_dir():
            raise CatalogError(f"{root}: no fault catalog there")
        files = _FaultFiles(sorted(root.glob("*/*/fault.yaml")))
        if lazy:
            return cls(root, files)
        return cls(root, {fault_id: files[fault_id] for fault_id in files})

    @property
    def families(self) -> list[str]:
        """Family names, sorted."""
        return sorted({f.family for f in self.faults.values()})

    def get(self, fault_id: str) -> Fault:
        """A fault by id, or an error listing close ids."""
        if fault_id in self.faults:
            return self.faults[fault_id]
        close = [i for i in self.faults if fault_id.split("/")[-1] in i]
        suggestion = f"; did you mean {', '.join(close)}?" if close else "; see `faultbot faults list`"
        raise CatalogError(f"no fault {fault_id!r} in {self.root.name}/{suggestion}")

    def only(self, fault_ids: list[str]) -> Catalog:
        """The same catalog cut down to these faults (an unknown id is an error naming close ones)."""
        return Catalog(self.root, {fault_id: self.get(fault_id) for fault_id in fault_ids})

    def in_family(self, family: str) -> list[Fault]:
        """Faults of one family, by id; drafts (`faults new`, not yet proven) are never scheduled."""
        return [f for i, f in sorted(self.faults.items()) if f.family == family and not f.spec.draft]
