"""A fault's roles as bound on the healthy tree, and the context a check judges a later tree in.

The binding travels with the fault instance in the event log (`to_json`): fix search on any
later commit reads that tree from the same deployed root, follows the same objects by
kind/name and the same connections by key, holds the team to the ports its clients dialled
and the way the site was exposed, and knows how each workload ran before the fault, so a
pod-template change that cannot roll out is judged by the pods that keep serving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.catalog.behaviour import Runner
from bot.catalog.checkbase import CheckFailed as CheckFailed  # re-exported: one failure type for every check kind
from bot.catalog.connections import Channel, ConnectionKey
from bot.catalog.exposure import Exposure, exposure_of
from bot.catalog.manifests import DeployRoot, ManifestIndex, Resource, ResourceRef
from bot.catalog.objects import POD_SPEC_PATHS, ObjectSet
from bot.catalog.roles import Role, Roles, RoleTarget
from bot.catalog.rollout import effective

DEFAULT_KUBERNETES_VERSION = "1.33"
# Kinds whose healthy body the binding keeps: workloads (how their pods ran) and Services
# (immutable fields). Never Secrets: the event log is no place for credentials.
BASELINE_KINDS = frozenset({*POD_SPEC_PATHS, "Service"})


def ref_key(ref: ResourceRef) -> str:
    """`Kind/namespace/name`: how a baseline is keyed in JSON."""
    return f"{ref.kind}/{ref.namespace or ''}/{ref.name}"


@dataclass(frozen=True)
class RoleBinding:
    """Roles as resolved on the healthy tree: object references, directories, connections, ports."""

    refs: Mapping[Role, tuple[ResourceRef, ...]]
    directories: Mapping[Role, str]
    root: DeployRoot = field(default_factory=DeployRoot)
    connections: Mapping[Role, ConnectionKey] = field(default_factory=dict)
    ports: Mapping[Role, int] = field(default_factory=dict)  # the port its clients dial, per role
    exposures: Mapping[Role, Exposure] = field(default_factory=dict)
    baselines: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    refused: tuple[str, ...] = ()  # what Kubernetes already refused on the healthy tree: not the team's doing
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION

    @classmethod
    def from_targets(cls, targets: Iterable[RoleTarget], *, root: DeployRoot | None = None,
                     objects: ObjectSet | None = None, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> RoleBinding:
        """Bind resolved role targets (with `objects`, also how the frontend is exposed)."""
        refs: dict[Role, tuple[ResourceRef, ...]] = {}
        directories: dict[Role, str] = {}
        connections: dict[Role, ConnectionKey] = {}
        ports: dict[Role, int] = {}
        exposures: dict[Role, Exposure] = {}
        baselines: dict[str, Mapping[str, Any]] = {}
        for target in targets:
            if target.directory is not None:
                directories[target.role] = target.directory
                continue
            refs[target.role] = tuple(r.ref for r in target.resources)
            if target.connection is not None:
                connections[target.role] = target.connection.key
            if target.port is not None:
                ports[target.role] = target.port
            if target.role is Role.frontend_service and objects is not None:
                exposure = exposure_of(objects, target.resource)
                exposures[target.role] = exposure
                if exposure.port is not None:
                    ports[target.role] = exposure.port
            for resource in target.resources:
                if resource.kind in BASELINE_KINDS:
                    baselines[ref_key(resource.ref)] = resource.body
        return cls(refs, directories, root or DeployRoot(), connections, ports, exposures, baselines,
                   kubernetes_version=kubernetes_version)

    def with_refused(self, refused: Iterable[str]) -> RoleBinding:
        """The same binding, knowing what Kubernetes already refuses on the healthy tree."""
        return replace(self, refused=tuple(sorted(set(refused))))

    def baseline(self, resource: Resource) -> Mapping[str, Any] | None:
        """How this object was on the healthy tree, if the binding kept it."""
        return self.baselines.get(ref_key(resource.ref))

    def to_json(self) -> dict[str, Any]:
        """Plain data for the event log (the binding travels with the fault instance)."""
        return {
            "refs": {str(r): [[x.kind, x.name, x.namespace] for x in refs] for r, refs in self.refs.items()},
            "directories": {str(r): d for r, d in self.directories.items()},
            "root": self.root.to_json(),
            "connections": {str(r): _key_json(k) for r, k in self.connections.items()},
            "ports": {str(r): p for r, p in self.ports.items()},
            "exposures": {str(r): e.to_json() for r, e in self.exposures.items()},
            "baselines": {k: _plain(v) for k, v in self.baselines.items()},
            "refused": list(self.refused),
            "kubernetes_version": self.kubernetes_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoleBinding:
        """The inverse of to_json (a binding from an older log gets the defaults)."""
        refs = {Role(r): tuple(ResourceRef(k, n, ns) for k, n, ns in items) for r, items in data.get("refs", {}).items()}
        return cls(
            refs,
            {Role(r): d for r, d in data.get("directories", {}).items()},
            DeployRoot.from_json(data.get("root")),
            {Role(r): _key_from_json(k) for r, k in data.get("connections", {}).items()},
            {Role(r): int(p) for r, p in data.get("ports", {}).items()},
            {Role(r): Exposure.from_json(e) for r, e in data.get("exposures", {}).items()},
            dict(data.get("baselines", {})),
            tuple(data.get("refused", ())),
            str(data.get("kubernetes_version") or DEFAULT_KUBERNETES_VERSION),
        )


def _key_json(key: ConnectionKey) -> dict[str, Any]:
    return {"client": [key.client.kind, key.client.name, key.client.namespace], "container": key.container,
            "channel": str(key.channel), "name": key.name, "occurrence": key.occurrence}


def _key_from_json(data: Mapping[str, Any]) -> ConnectionKey:
    kind, name, namespace = data["client"]
    return ConnectionKey(ResourceRef(kind, name, namespace), data["container"], Channel(data["channel"]), data["name"],
                         int(data.get("occurrence", 0)))


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


class CheckContext:
    """A tree to judge plus the role binding to judge it by; behavioural checks also need the
    fault's folder (its acceptance test) and a runner (bot.sandbox) to run code with.

    `index` holds the objects as they *run* once the tree is synced (rollout.py: a workload
    whose new pods cannot become Ready keeps its old pods); `written` holds them as written,
    which is what Kubernetes validates.
    """

    def __init__(self, tree: Path, binding: RoleBinding, index: ManifestIndex | None = None, *,
                 fault_dir: Path | None = None, runner: Runner | None = None) -> None:
        self.tree = tree
        self.binding = binding
        self.fault_dir = fault_dir
        self.runner = runner
        self.written = index or ManifestIndex.scan(tree, binding.root)
        self.index = _effective_index(self.written, binding)

    @cached_property
    def objects(self) -> ObjectSet:
        """The running objects, with kustomize-generated config, for connections and DNS."""
        return ObjectSet(tuple(self.index.resources), tuple(self.index.generated))

    def resource(self, role: Role, *, written: bool = False) -> Resource:
        """The (single) object bound to a role, as it runs in this tree (or as it is written);
        CheckFailed if gone."""
        refs = self.binding.refs.get(role)
        if not refs:
            raise CheckFailed(f"role {role} is not bound to a Kubernetes object")
        found = (self.written if written else self.index).find(refs[0])
        if found is None:
            raise CheckFailed(f"{refs[0]} (role {role}) no longer exists in the repo")
        return found

    def directory(self, role: Role) -> str:
        """The directory bound to a role."""
        if role not in self.binding.directories:
            raise CheckFailed(f"role {role} is not bound to a directory")
        return self.binding.directories[role]

    def roles(self) -> Roles:
        """Roles of this tree, pinned to the binding's objects and connections."""
        return roles_for(self.written, self.binding)


def binding_as_targets(binding: RoleBinding) -> dict[Role, str]:
    """Turn a binding back into `targets:` so later trees resolve the same objects."""
    targets = {role: f"{refs[0].kind}/{refs[0].name}" for role, refs in binding.refs.items() if len(refs) == 1}
    targets.update(binding.directories)
    return targets


def roles_for(index: ManifestIndex, binding: RoleBinding) -> Roles:
    """Roles on a later tree that resolve to what the binding bound (fixes are written against them)."""
    return Roles(index, binding_as_targets(binding), binding.connections, binding.ports)


def _effective_index(index: ManifestIndex, binding: RoleBinding) -> ManifestIndex:
    if not binding.baselines:
        return index
    objects = ObjectSet(tuple(index.resources), tuple(index.generated))
    resources = []
    changed = False
    for resource in index.resources:
        before = binding.baseline(resource)
        running = effective(resource, before, objects) if before is not None else resource
        changed = changed or running is not resource
        resources.append(running)
    return replace(index, resources=resources) if changed else index
