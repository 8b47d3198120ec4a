"""Would Kubernetes (and so ArgoCD's sync) accept these objects? A "fix" it refuses is not a fix.

- the schema of every built-in kind, from the OpenAPI schemas `kubernetes-validate` ships
  (strict: an unknown field is refused, as `kubectl apply --validate=strict` does); a kind it
  has no schema for (a CRD) is not judged;
- the API server's own rules the schema cannot say: an apps/v1 workload's `spec.selector`
  must select its template's labels; a Service with several ports names each, uniquely;
- immutable fields against the healthy tree: `spec.selector` of apps/v1 workloads (and Jobs),
  a StatefulSet's `serviceName`, `volumeClaimTemplates` and `podManagementPolicy`, a
  Service's `clusterIP` (unless it was unset).
Validation costs 10-25 ms per object, so only the objects a fault's roles name are judged,
and verdicts are cached by content: a commit that leaves an object alone costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.catalog.manifests import Resource, dig
from bot.catalog.netpol import selects

APPS_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
_IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "StatefulSet": (("spec", "selector"), ("spec", "serviceName"), ("spec", "volumeClaimTemplates"), ("spec", "podManagementPolicy")),
    "Job": (("spec", "selector"),),
}


@dataclass(frozen=True)
class Refusal:
    """One reason Kubernetes refuses an object."""

    kind: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}: {self.reason}"


def refusals(objects: Iterable[Resource], baselines: Mapping[str, Mapping[str, Any]], baseline_key: Any,
             kubernetes_version: str) -> list[Refusal]:
    """Every refusal of these objects (`baseline_key(resource)` finds its healthy body)."""
    found: list[Refusal] = []
    for resource in objects:
        schema = schema_problem(_canonical(resource.body), kubernetes_version)
        if schema is not None:
            found.append(Refusal(resource.kind, resource.name, schema))
        found += [Refusal(resource.kind, resource.name, r) for r in _server_rules(resource)]
        before = baselines.get(baseline_key(resource))
        if before is not None:
            found += [Refusal(resource.kind, resource.name, r) for r in _immutable(resource, before)]
    return found


def _canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, default=str)


@lru_cache(maxsize=4096)
def schema_problem(body_json: str, kubernetes_version: str) -> str | None:
    """The schema's complaint about one object (JSON text, the cache key), or None."""
    import kubernetes_validate  # 0.3 s to import: only when a fault is judged

    body = json.loads(body_json)
    try:
        kubernetes_validate.validate(body, kubernetes_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None  # a custom resource: its CRD is not in the shipped schemas
    except kubernetes_validate.InvalidSchemaError:
        return None
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(top level)"
        return f"{where}: {exc.message}"
    return None


def _server_rules(resource: Resource) -> list[str]:
    problems = []
    if resource.kind in APPS_WORKLOADS:
        selector = dig(resource.body, "spec", "selector")
        labels = dig(resource.body, "spec", "template", "metadata", "labels") or {}
        if isinstance(selector, Mapping) and not selects(selector, labels if isinstance(labels, Mapping) else {}):
            problems.append("spec.selector does not match spec.template.metadata.labels (the API server refuses it)")
    if resource.kind == "Service":
        ports = [p for p in dig(resource.body, "spec", "ports") or [] if isinstance(p, Mapping)]
        names = [p.get("name") for p in ports]
        if len(ports) > 1 and (None in names or "" in names):
            problems.append("spec.ports: a Service with several ports must name each of them")
        elif len(set(names)) != len(names):
            problems.append("spec.ports: two ports have the same name")
        kind = dig(resource.body, "spec", "type") or "ClusterIP"
        if kind not in ("NodePort", "LoadBalancer") and any(p.get("nodePort") for p in ports):
            problems.append(f"spec.ports: a nodePort needs type NodePort or LoadBalancer, not {kind}")
    return problems


def _immutable(resource: Resource, before: Mapping[str, Any]) -> list[str]:
    problems = []
    for path in _IMMUTABLE.get(resource.kind, ()):
        if dig(resource.body, *path) != dig(before, *path):
            problems.append(f"{'.'.join(path)} is immutable: ArgoCD's sync fails (delete and recreate the object to change it)")
    if resource.kind == "Service":
        old, new = dig(before, "spec", "clusterIP"), dig(resource.body, "spec", "clusterIP")
        if old not in (None, "") and new not in (None, "") and old != new:
            problems.append("spec.clusterIP is immutable: ArgoCD's sync fails")
    return problems
