"""The manifest index: every Kubernetes object a repository deploys, and where it lives.

What is deployed is decided by `bot.catalog.deployed` (ArgoCD's source path, kustomize reach,
namePrefix/namespace, Helm refused, duplicate folders reported); the index keeps each
object's deployed kind / namespace / name with the file and document it is written in, so
edits change the written text and checks see what the cluster would run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SKIP_DIRS = {".git", ".github", "node_modules", ".terraform", "__pycache__", ".venv"}
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


@dataclass(frozen=True)
class DeployRoot:
    """Where a team's deployed manifests start: ArgoCD's source path, or None to discover it.

    Travels with a fault's role binding, so every later tree is read from the same root.
    """

    path: str | None = None
    recurse: bool = False
    namespace: str = "default"  # where objects without a namespace land (ArgoCD's destination)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the event log."""
        return {"path": self.path, "recurse": self.recurse, "namespace": self.namespace}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> DeployRoot:
        """The inverse of to_json (an old log without a root: discovery, as before)."""
        data = data or {}
        return cls(data.get("path"), bool(data.get("recurse", False)), str(data.get("namespace") or "default"))


@dataclass
class ManifestIndex:
    """All deployed objects of one tree, named and namespaced as the cluster sees them."""

    root: Path
    resources: list[Resource] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    kustomizations: list[str] = field(default_factory=list)
    sources: tuple[str, ...] = ()  # files kustomize generators name, present or not (bot.catalog.kustomize)
    generated: tuple[Any, ...] = ()  # kustomize-generated ConfigMaps/Secrets (bot.catalog.kustomize.GeneratedObject)
    notes: tuple[Any, ...] = ()  # what validate should tell the organizer (bot.catalog.kustomize.Note)
    problem: str | None = None  # one line: why nothing is deployed from here (Helm, ambiguous roots)
    reason: str = ""  # how the deployed root was chosen
    deployed_root: str = ""
    deploy: DeployRoot = field(default_factory=DeployRoot)  # what it was asked to read

    @property
    def problems(self) -> list[str]:
        """Files refused on purpose, `path: why` (too large, an alias bomb): validate fails on them."""
        return [f"{n.path}: {n.message}" for n in self.notes if n.kind == "refused"]

    @classmethod
    def scan(cls, root: Path, deploy: DeployRoot | None = None) -> ManifestIndex:
        """Index what a checked-out tree deploys from `deploy.path` (discovered when None)."""
        # deployed.py builds on this module's Resource, so it is imported here, not at the top.
        from bot.catalog.deployed import deployed_set

        deploy = deploy or DeployRoot()
        found = deployed_set(root, deploy.path, recurse=deploy.recurse, default_namespace=deploy.namespace)
        return cls(
            root=root,
            resources=list(found.resources),
            files={r.path for r in found.resources},
            kustomizations=list(found.kustomizations),
            sources=found.sources,
            generated=found.generated,
            notes=found.notes,
            problem=found.problem,
            reason=found.reason,
            deployed_root=found.root,
            deploy=deploy,
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

