"""The manifest index: every Kubernetes object a repository deploys, and where it lives.

Reads every YAML document of a tree (multi-document files, any folder layout), keyed by
kind / namespace / name, with its file and document position. Where a
`kustomization.yaml` exists, only what its `resources:` reach counts as deployed (that is
what ArgoCD renders); elsewhere every YAML object counts. YAML that is not a Kubernetes
object (workflows, Helm values, compose files) is ignored, and so is YAML that does not parse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.base.yamlguard import check_text, read_bounded
from bot.errors import UnsafeYaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SKIP_DIRS = {".git", ".github", "node_modules", ".terraform", "__pycache__", ".venv"}
YAML_SUFFIXES = {".yaml", ".yml"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")


@dataclass(frozen=True)
class ResourceRef:
    """How a role or a check names one object: kind, name and (resolved) namespace."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Resource:
    """One Kubernetes object in the tree: where it is, and its content as plain data."""

    kind: str
    name: str
    namespace: str
    path: str  # posix, relative to the tree root
    doc_index: int
    body: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def ref(self) -> ResourceRef:
        """This object's reference."""
        return ResourceRef(self.kind, self.name, self.namespace)

    @property
    def pod_labels(self) -> Mapping[str, str]:
        """Labels of the pods a workload creates (empty for non-workloads)."""
        template = dig(self.body, "spec", "template", "metadata", "labels")
        return template if isinstance(template, Mapping) else {}

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        """The pod template's containers (empty for non-workloads)."""
        found = dig(self.body, "spec", "template", "spec", "containers")
        return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} ({self.path})"


def dig(node: Any, *keys: str | int) -> Any:
    """Follow keys/indices through plain data; None where the path does not exist."""
    for key in keys:
        if isinstance(key, int) and isinstance(node, list) and -len(node) <= key < len(node):
            node = node[key]
        elif isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            return None
    return node


def split_documents(text: str) -> list[str]:
    """Split a multi-document YAML text on its `---` lines, keeping every byte.

    Joining the parts back gives the original text, which lets an edit re-emit one
    document and leave its neighbours byte-identical.
    """
    parts: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n").rstrip() == "---" or line.startswith("--- "):
            parts.append("".join(current))
            current = [line]
        else:
            current.append(line)
    parts.append("".join(current))
    return parts


def load_documents(text: str) -> list[Any]:
    """Every document of a YAML text as plain data, in order (None for an empty one).

    Parsed once per distinct text: fix search and rehearsals re-read the same manifests
    at many commits, and parsing dominates their cost (bench/bench_rehearsal.py). The
    documents are shared, so callers must treat them as read-only.
    """
    return list(_parse_documents(text))


@lru_cache(maxsize=4096)
def _parse_documents(text: str) -> tuple[Any, ...]:
    check_text(text)  # UnsafeYaml: too large, or an alias bomb (team repositories are not trusted)
    yaml = YAML(typ="safe")
    try:
        return tuple(yaml.load(part) if part.strip() else None for part in split_documents(text))
    except RecursionError:
        raise UnsafeYaml("nested too deeply to read") from None


def _problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _is_k8s_object(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
        and isinstance(dig(doc, "metadata", "name"), str)
    )


@dataclass
class ManifestIndex:
    """All deployed objects of one tree."""

    root: Path
    resources: list[Resource] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    kustomizations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files refused: `path: why` (alias bombs, huge)

    @classmethod
    def scan(cls, root: Path) -> ManifestIndex:
        """Index a checked-out tree."""
        index = cls(root=root)
        files, namespaces = index._deployed_files()
        for rel in sorted(files):
            index._add_file(rel, namespaces.get(rel))
        return index

    def _deployed_files(self) -> tuple[set[str], dict[str, str]]:
        """Files kustomize would read (with a namespace override), or every YAML file."""
        kustomizations = sorted(
            p for p in _walk(self.root) if p.name in KUSTOMIZATION_NAMES
        )
        self.kustomizations = [p.relative_to(self.root).as_posix() for p in kustomizations]
        if not kustomizations:
            every = {
                p.relative_to(self.root).as_posix()
                for p in _walk(self.root)
                if p.suffix in YAML_SUFFIXES
            }
            return every, {}
        files: set[str] = set()
        namespaces: dict[str, str] = {}
        for kustomization in kustomizations:
            self._follow(kustomization, files, namespaces, None, set())
        return files, namespaces

    def _follow(
        self, kfile: Path, files: set[str], namespaces: dict[str, str], ns: str | None, seen: set[Path]
    ) -> None:
        if kfile in seen:
            return
        seen.add(kfile)
        try:
            text = read_bounded(kfile)
            check_text(text)
            spec = YAML(typ="safe").load(text) or {}
        except (OSError, UnicodeDecodeError, YAMLError, RecursionError) as exc:
            self.problems.append(f"{kfile.relative_to(self.root).as_posix()}: {_problem(exc)}")
            return
        except UnsafeYaml as exc:
            self.problems.append(f"{kfile.relative_to(self.root).as_posix()}: {exc.message}")
            return
        if not isinstance(spec, Mapping):
            return
        ns = spec.get("namespace") if isinstance(spec.get("namespace"), str) else ns
        entries = [*(spec.get("resources") or []), *(spec.get("bases") or [])]
        for entry in entries:
            if not isinstance(entry, str) or "://" in entry:
                continue
            target = (kfile.parent / entry).resolve()
            if not target.is_relative_to(self.root.resolve()):
                continue
            if target.is_dir():
                for name in KUSTOMIZATION_NAMES:
                    if (target / name).is_file():
                        self._follow(target / name, files, namespaces, ns, seen)
                        break
            elif target.is_file():
                rel = target.relative_to(self.root.resolve()).as_posix()
                files.add(rel)
                if ns:
                    namespaces[rel] = ns

    def _add_file(self, rel: str, namespace_override: str | None) -> None:
        path = self.root / rel
        try:
            docs = load_documents(read_bounded(path))
        except (OSError, UnicodeDecodeError, YAMLError, RecursionError):
            return  # not YAML we can read: not deployed as far as the index knows (validate says why)
        except UnsafeYaml as exc:
            self.problems.append(f"{rel}: {exc.message}")
            return
        for position, doc in enumerate(docs):
            if not _is_k8s_object(doc):
                continue
            kind = doc["kind"]
            namespace = namespace_override or dig(doc, "metadata", "namespace") or "default"
            if kind == "Namespace":
                namespace = ""
            self.files.add(rel)
            self.resources.append(
                Resource(kind, doc["metadata"]["name"], namespace, rel, position, doc)
            )

    def of_kind(self, *kinds: str) -> list[Resource]:
        """Objects of the given kinds, in file order."""
        return [r for r in self.resources if r.kind in kinds]

    def find(self, ref: ResourceRef) -> Resource | None:
        """The object a reference names (namespace optional), or None."""
        for resource in self.resources:
            if resource.kind == ref.kind and resource.name == ref.name and (
                ref.namespace is None or ref.namespace == resource.namespace
            ):
                return resource
        return None

    def in_namespace(self, namespace: str, *kinds: str) -> Iterator[Resource]:
        """Objects of the given kinds in one namespace."""
        return (r for r in self.of_kind(*kinds) if r.namespace == namespace)

    def workloads_selected_by(self, selector: Mapping[str, Any], namespace: str) -> list[Resource]:
        """Workloads whose pod labels carry every key=value of a Service selector."""
        if not selector:
            return []
        return [
            w for w in self.in_namespace(namespace, *WORKLOAD_KINDS)
            if all(w.pod_labels.get(k) == v for k, v in selector.items())
        ]


def _walk(root: Path) -> Iterator[Path]:
    """Files under root, skipping VCS/CI/vendor folders and never following symlinks."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in SKIP_DIRS:
                    stack.append(entry)
            elif entry.is_file():
                yield entry
