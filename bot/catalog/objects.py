"""The deployed objects seen the way Kubernetes sees them: pods of workloads, Services that select
them, and the ConfigMap/Secret values containers read (manifests and kustomize generators alike).

Names: a host name in an env value is looked up by the *deployed* name (kustomize does not
rewrite free text, so `guestbook-ui` under `namePrefix: kustomize-` names nothing), while a
`configMapKeyRef`/`secretKeyRef`/`envFrom`/volume reference is looked up by the *written*
name (kustomize rewrites references along with the names they point at).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.catalog.deployed import DeployedSet
from bot.catalog.kustomize import GeneratedObject
from bot.catalog.locations import Encoding, Location, decode
from bot.catalog.manifests import ManifestIndex, Resource, dig
from bot.catalog.yamlpath import Step, format_path

# Where the pod spec sits in each kind that runs pods.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


@dataclass(frozen=True)
class ContainerView:
    """One container of a workload, with the YAML path that leads to it."""

    name: str
    path: str  # e.g. spec.template.spec.containers[name=backend]
    body: Mapping[str, Any]
    init: bool = False


@dataclass(frozen=True)
class ConfigValue:
    """One key of a ConfigMap or Secret: its decoded text and the scalar it is written in."""

    key: str
    text: str
    location: Location


def key_path(*keys: str) -> str:
    """A YAML path to nested mapping keys, quoting keys with dots (`data["nginx.conf"]`)."""
    return format_path(tuple(Step(key=k) for k in keys))


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    """The pod spec of a workload (None for kinds that run no pods)."""
    steps = POD_SPEC_PATHS.get(resource.kind)
    found = dig(resource.body, *steps) if steps else None
    return found if isinstance(found, Mapping) else None


def pod_labels(resource: Resource) -> Mapping[str, str]:
    """Labels of the pods a workload creates."""
    steps = POD_SPEC_PATHS.get(resource.kind)
    if not steps:
        return {}
    labels = dig(resource.body, *steps[:-1], "metadata", "labels") if len(steps) > 1 else dig(resource.body, "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


def containers(resource: Resource) -> list[ContainerView]:
    """Init containers, then containers, each with its YAML path."""
    steps = POD_SPEC_PATHS.get(resource.kind)
    spec = pod_spec(resource)
    if not steps or spec is None:
        return []
    base = ".".join(steps)
    views = []
    for field, init in (("initContainers", True), ("containers", False)):
        for item in spec.get(field) or []:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                views.append(ContainerView(item["name"], f"{base}.{field}[name={item['name']}]", item, init))
    return views


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Service-style selector (plain key: value) matches these labels; an empty one matches nothing."""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


@dataclass(frozen=True)
class ObjectSet:
    """Deployed objects plus kustomize-generated ConfigMaps/Secrets, with the lookups connections need."""

    resources: tuple[Resource, ...]
    generated: tuple[GeneratedObject, ...] = ()

    @classmethod
    def from_deployed(cls, deployed: DeployedSet) -> ObjectSet:
        """The objects of a deployed set."""
        return cls(deployed.resources, deployed.generated)

    @classmethod
    def from_index(cls, index: ManifestIndex) -> ObjectSet:
        """The objects of today's manifest index (no generators)."""
        return cls(tuple(index.resources))

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> ObjectSet:
        """Any resources."""
        return cls(tuple(resources))

    def workloads(self) -> list[Resource]:
        """Every object that runs pods."""
        return [r for r in self.resources if r.kind in POD_SPEC_PATHS]

    def services(self, namespace: str | None = None) -> list[Resource]:
        """Services, in one namespace or all."""
        return [r for r in self.resources if r.kind == "Service" and (namespace is None or r.namespace == namespace)]

    def namespaces(self) -> set[str]:
        """Namespaces the repository deploys into or creates."""
        return {r.namespace for r in self.resources if r.namespace} | {r.name for r in self.resources if r.kind == "Namespace"}

    def selected_by(self, service: Resource) -> list[Resource]:
        """Workloads whose pods a Service selects."""
        selector = dig(service.body, "spec", "selector")
        return [w for w in self.workloads() if w.namespace == service.namespace and selector_matches(selector, pod_labels(w))]

    def written(self, kind: str, name: str, namespace: str) -> Resource | None:
        """The object a reference names (by the name written in the files), preferring its namespace."""
        found = [r for r in self.resources if r.kind == kind and dig(r.body, "metadata", "name") == name]
        return next((r for r in found if r.namespace == namespace), found[0] if found else None)

    def config(self, kind: str, name: str, namespace: str) -> dict[str, ConfigValue] | None:
        """Keys of a ConfigMap/Secret as a reference names it; None if the repo defines no such object."""
        resource = self.written(kind, name, namespace)
        if resource is not None:
            return dict(_resource_values(resource))
        generated = [g for g in self.generated if g.kind == kind and g.name == name]
        if not generated:
            return None
        chosen = next((g for g in generated if g.scope.namespace in (None, namespace)), generated[0])
        return {e.key: ConfigValue(e.key, e.value, e.location) for e in chosen.entries}


def _resource_values(resource: Resource) -> Iterator[tuple[str, ConfigValue]]:
    # Secret stringData wins over data for the same key, as the API server merges them.
    sections: list[tuple[str, Encoding]] = [("binaryData", "base64"), ("data", "plain" if resource.kind == "ConfigMap" else "base64"), ("stringData", "plain")]
    for section, encoding in sections:
        values = resource.body.get(section)
        if not isinstance(values, Mapping) or (section == "binaryData" and resource.kind != "ConfigMap"):
            continue
        for key, raw in values.items():
            text = decode(str(raw), encoding) if raw is not None else ""
            if text is not None:
                location = Location(resource.path, resource.doc_index, key_path(section, str(key)), encoding=encoding)
                yield str(key), ConfigValue(str(key), text, location)
