"""What one kustomize root deploys: the files it reaches, the names it gives, what it generates.

Kustomize semantics modelled (kubectl kustomize / ArgoCD render the same way):
- `resources:` (and the older `bases:`): a file is deployed; a directory is followed through
  its kustomization, recursively; a URL is remote (reported, not followed);
- `components:` only when listed (a component folder nobody lists deploys nothing);
- `namespace:` of an outer kustomization overrides inner ones; `namePrefix` accumulates outer
  first (`outer-inner-name`), `nameSuffix` inner first (`name-inner-outer`);
- `configMapGenerator` / `secretGenerator`: the keys and values they create (`literals`,
  `envs`/`env` files, `files`), each with the place it is written, so a connection that reads
  a generated key can be edited where it is written. A generated name gets a content hash
  unless `disableNameSuffixHash`; references to it are rewritten by kustomize, so callers
  resolve references by the written name.
Fields that change objects in ways not modelled here (patches, replacements, `replicas:`,
transformer plugins) are reported as notes, never silently ignored: a check that reads an
object a patch changes must know it sees the object as written in its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from bot.base.yamlguard import read_bounded
from bot.catalog.locations import Location
from bot.catalog.manifests import KUSTOMIZATION_NAMES
from bot.catalog.yamlread import read_yaml
from bot.errors import UnsafeYaml

# Fields that change deployed objects in ways this module does not apply.
NOT_MODELLED = (
    "patches", "patchesStrategicMerge", "patchesJson6902", "replacements", "vars", "replicas",
    "transformers", "generators", "validators", "configurations",
)
# Fields that add the same labels to selectors and to the pods they select (so selection
# still holds), or touch only images and annotations: nothing a connection or role depends on.
NEUTRAL = ("commonLabels", "labels", "commonAnnotations", "images", "buildMetadata", "sortOptions", "crds", "openapi")


class NoteKind(StrEnum):
    """What a note tells the organizer about the deployed set."""

    unreadable = "unreadable"  # a file kubectl may accept but faultbot cannot parse
    refused = "refused"  # not read on purpose: too large, or a YAML alias bomb (bot.base.yamlguard)
    repaired = "repaired"  # read after ignoring trailing TABs (kubectl accepts them)
    missing = "missing"  # a listed file or folder does not exist
    remote = "remote"  # a remote base (URL): not fetched
    not_modelled = "not-modelled"  # a kustomize field whose effect is not applied
    ignored = "ignored"  # files present in the tree that this root does not deploy
    conflict = "conflict"  # the same file reached twice


@dataclass(frozen=True)
class Note:
    """One line for `validate`: a file and what is true about it."""

    kind: NoteKind
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Scope:
    """The transforms kustomize applies to the objects of one file."""

    kustomization: str  # the kustomization that lists the file
    namespace: str | None = None
    prefix: str = ""
    suffix: str = ""

    def name(self, written: str) -> str:
        """The name an object written as `written` is deployed under."""
        return f"{self.prefix}{written}{self.suffix}"


@dataclass(frozen=True)
class GeneratedEntry:
    """One key of a generated ConfigMap/Secret, and where its value is written."""

    key: str
    value: str
    location: Location


@dataclass(frozen=True)
class GeneratedObject:
    """A ConfigMap or Secret that a kustomize generator creates."""

    kind: str  # ConfigMap | Secret
    name: str  # as written in the generator; references use this name
    scope: Scope
    hashed: bool  # kustomize appends a content hash to the deployed name
    entries: tuple[GeneratedEntry, ...]

    @property
    def deployed_name(self) -> str:
        """The name in the cluster (`-<hash>` stands for kustomize's content hash)."""
        return self.scope.name(self.name) + ("-<hash>" if self.hashed else "")

    def value(self, key: str) -> GeneratedEntry | None:
        """The entry for `key`, or None."""
        return next((e for e in self.entries if e.key == key), None)


@dataclass(frozen=True)
class KustomizeBuild:
    """Everything one kustomize root reaches."""

    root: str  # the folder of the root kustomization
    files: tuple[tuple[str, Scope], ...]  # deployed manifest files and their transforms
    generated: tuple[GeneratedObject, ...] = ()
    kustomizations: tuple[str, ...] = ()  # every kustomization file read
    notes: tuple[Note, ...] = ()
    helm: bool = False  # the root renders a Helm chart (`helmCharts:`)
    sources: tuple[str, ...] = ()  # every file a generator names, present or not: adding one changes the build


def kustomization_in(folder: Path) -> Path | None:
    """The kustomization file of a folder, or None."""
    for name in KUSTOMIZATION_NAMES:
        candidate = folder / name
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    return None


def is_remote(entry: str) -> bool:
    """A remote kustomize resource (URL or go-getter style), which is never fetched."""
    return "://" in entry or entry.startswith(("github.com/", "gitlab.com/", "bitbucket.org/")) or "?ref=" in entry


@dataclass
class _Walk:
    tree: Path
    files: dict[str, Scope] = field(default_factory=dict)
    generated: list[GeneratedObject] = field(default_factory=list)
    kustomizations: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    helm: bool = False
    sources: list[str] = field(default_factory=list)

    def named(self, path: Path) -> str | None:
        """`rel(path)`, remembered as a generator's source (missing, empty or unreadable alike)."""
        rel = self.rel(path)
        if rel is not None and rel not in self.sources:
            self.sources.append(rel)
        return rel

    def rel(self, path: Path) -> str | None:
        resolved = path.resolve()
        root = self.tree.resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else None

    def note(self, kind: NoteKind, path: str, message: str) -> None:
        note = Note(kind, path, message)
        if note not in self.notes:
            self.notes.append(note)


def build(tree: Path, root: str) -> KustomizeBuild:
    """Follow the kustomization in folder `root` of `tree` (posix, relative; "" is the top)."""
    walk = _Walk(tree)
    folder = tree / root if root else tree
    kfile = kustomization_in(folder)
    if kfile is None:
        walk.note(NoteKind.missing, root or ".", "no kustomization.yaml here")
    else:
        _follow(walk, kfile, None, ())
    return KustomizeBuild(
        root, tuple(walk.files.items()), tuple(walk.generated), tuple(walk.kustomizations), tuple(walk.notes), walk.helm,
        tuple(walk.sources),
    )


def reached_files(tree: Path, kfile: Path) -> set[str]:
    """The manifest files and kustomizations a kustomization reaches (for choosing roots)."""
    walk = _Walk(tree)
    _follow(walk, kfile, None, ())
    return set(walk.files) | set(walk.kustomizations)


def _load_spec(walk: _Walk, kfile: Path, rel: str) -> tuple[Mapping[str, Any], int] | None:
    try:
        read = read_yaml(read_bounded(kfile))
    except UnsafeYaml as exc:
        walk.note(NoteKind.refused, rel, exc.message)
        return None
    except (OSError, UnicodeDecodeError) as exc:
        walk.note(NoteKind.unreadable, rel, f"cannot read: {exc}")
        return None
    for doc in read.documents:
        if doc.problem is not None and doc.problem.refused:
            walk.note(NoteKind.refused, rel, doc.problem.message)
            return None
        if doc.problem is not None:
            walk.note(NoteKind.unreadable, rel, f"{doc.problem}; kustomize would refuse it too")
            return None
        if isinstance(doc.data, Mapping):
            return doc.data, doc.index
    walk.note(NoteKind.unreadable, rel, "is empty or not a mapping")
    return None


def _follow(walk: _Walk, kfile: Path, outer: Scope | None, stack: tuple[str, ...]) -> None:
    rel = walk.rel(kfile)
    if rel is None or rel in stack:
        return  # outside the tree, or a cycle (kustomize refuses cycles; nothing more to add)
    walk.kustomizations.append(rel)
    loaded = _load_spec(walk, kfile, rel)
    if loaded is None:
        return
    spec, doc_index = loaded
    own_namespace = spec.get("namespace") if isinstance(spec.get("namespace"), str) else None
    scope = Scope(
        kustomization=rel,
        namespace=(outer.namespace if outer and outer.namespace else own_namespace),
        prefix=(outer.prefix if outer else "") + str(spec.get("namePrefix") or ""),
        suffix=str(spec.get("nameSuffix") or "") + (outer.suffix if outer else ""),
    )
    for name in NOT_MODELLED:
        if spec.get(name):
            walk.note(NoteKind.not_modelled, rel, f"`{name}:` is not applied by faultbot; objects it changes are judged as written in their files")
    if spec.get("helmCharts"):
        walk.helm = True
    for key in ("resources", "bases", "components"):
        for entry in spec.get(key) or []:
            if isinstance(entry, str):
                _entry(walk, kfile, rel, entry, scope, (*stack, rel))
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for position, generator in enumerate(spec.get(key) or []):
            if isinstance(generator, Mapping):
                _generate(walk, kfile.parent, rel, doc_index, kind, key, position, generator, spec, scope)


def _entry(walk: _Walk, kfile: Path, rel: str, entry: str, scope: Scope, stack: tuple[str, ...]) -> None:
    if is_remote(entry):
        walk.note(NoteKind.remote, rel, f"remote resource {entry!r} is not fetched; what it deploys is unknown to faultbot")
        return
    target = kfile.parent / entry
    target_rel = walk.rel(target)
    if target_rel is None:
        walk.note(NoteKind.missing, rel, f"resource {entry!r} is outside the repository")
    elif target.is_dir():
        inner = kustomization_in(target)
        if inner is None:
            walk.note(NoteKind.missing, rel, f"resource {entry!r} is a folder without a kustomization.yaml (kustomize refuses it)")
        else:
            _follow(walk, inner, scope, stack)
    elif target.is_file():
        if target_rel in walk.files:
            walk.note(NoteKind.conflict, target_rel, f"reached twice (again from {rel}); kustomize refuses duplicate objects")
            return
        walk.files[target_rel] = scope
    else:
        walk.note(NoteKind.missing, rel, f"resource {entry!r} does not exist")


def _generate(
    walk: _Walk, folder: Path, rel: str, doc_index: int, kind: str, key: str, position: int,
    generator: Mapping[str, Any], spec: Mapping[str, Any], scope: Scope,
) -> None:
    name = str(generator.get("name") or "")
    if not name:
        return
    gen_path = f"{key}[{position}]"
    entries: list[GeneratedEntry] = []
    for number, literal in enumerate(generator.get("literals") or []):
        literal_key, sep, value = str(literal).partition("=")
        if sep:
            start, end = len(literal_key) + 1, len(str(literal))
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                start, end, value = start + 1, end - 1, value[1:-1]  # kustomize drops one pair of quotes
            where = Location(rel, doc_index, f"{gen_path}.literals[{number}]", span=(start, end))
            entries.append(GeneratedEntry(literal_key.strip(), value, where))
    env_files = list(generator.get("envs") or []) + ([generator["env"]] if generator.get("env") else [])
    for env_file in env_files:
        entries += _env_file_entries(walk, folder, rel, str(env_file))
    for file_entry in generator.get("files") or []:
        file_key, sep, file_name = str(file_entry).partition("=")
        file_name = file_name if sep else file_key
        file_key = file_key if sep else PurePosixPath(file_name).name
        source = folder / file_name
        source_rel = walk.named(source)
        if source_rel is None or not source.is_file():
            walk.note(NoteKind.missing, rel, f"{key} {name!r}: file {file_name!r} does not exist")
            continue
        try:
            entries.append(GeneratedEntry(file_key, read_bounded(source), Location(source_rel)))
        except (OSError, UnicodeDecodeError, UnsafeYaml):
            continue  # a binary (or huge) file holds no host names
    options = {**(spec.get("generatorOptions") or {}), **(generator.get("options") or {})}
    hashed = not options.get("disableNameSuffixHash", False)
    behavior = str(generator.get("behavior") or "create")
    namespace = generator.get("namespace") if isinstance(generator.get("namespace"), str) else None
    own_scope = Scope(scope.kustomization, scope.namespace or namespace, scope.prefix, scope.suffix)
    created = GeneratedObject(kind, name, own_scope, hashed, tuple(entries))
    base = next((g for g in walk.generated if g.kind == kind and g.name == name), None)
    if base is not None and behavior in ("merge", "replace"):
        kept = tuple(e for e in base.entries if behavior == "merge" and created.value(e.key) is None)
        walk.generated[walk.generated.index(base)] = GeneratedObject(kind, name, base.scope, hashed, kept + created.entries)
    else:
        walk.generated.append(created)


def _env_file_entries(walk: _Walk, folder: Path, rel: str, env_file: str) -> list[GeneratedEntry]:
    source = folder / env_file
    source_rel = walk.named(source)
    if source_rel is None or not source.is_file():
        walk.note(NoteKind.missing, rel, f"env file {env_file!r} does not exist (kustomize would refuse to build)")
        return []
    try:
        text = read_bounded(source)
    except (OSError, UnicodeDecodeError, UnsafeYaml) as exc:
        walk.note(NoteKind.unreadable, rel, f"env file {env_file!r}: cannot read: {exc}")
        return []
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        env_key, _, _ = line.partition("=")
        start = len(env_key) + 1
        entries.append(GeneratedEntry(env_key.strip(), line[start:], Location(source_rel, line=number, span=(start, len(line)))))
    return entries
