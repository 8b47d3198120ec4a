"""Which pods actually serve once ArgoCD syncs a tree: the rollout semantics checks judge by.

A change confined to a workload's pod template rolls out new pods while the old ones keep
serving (RollingUpdate), and an old pod is only replaced once a new one is Ready. So when
the new pods cannot become Ready, the old template keeps serving and nothing is down:
- a readiness/startup probe names a port the container no longer declares (kubelet cannot
  resolve the name: the probe fails);
- an env `secretKeyRef`/`configMapKeyRef` to a key or object the tree does not have, or an
  `envFrom` without `optional: true` to an object it does not have (CreateContainerConfigError).
An image, a probe path or resources are assumed to become Ready (a static reading cannot
know better). `Recreate` kills the old pods first, and replicas, Services, Ingresses and
NetworkPolicies take effect at once. With `OnDelete` (StatefulSet, DaemonSet) a template
change waits for someone to delete pods: the old template keeps serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.catalog.manifests import Resource, dig
from bot.catalog.objects import POD_SPEC_PATHS, ObjectSet, pod_spec

_STRATEGY = {"Deployment": ("strategy", "type"), "StatefulSet": ("updateStrategy", "type"), "DaemonSet": ("updateStrategy", "type")}
_PROBES = ("readinessProbe", "startupProbe")


def effective(now: Resource, before: Mapping[str, Any] | None, objects: ObjectSet) -> Resource:
    """The workload whose pods serve after a sync: `now`, or `now` with the `before` body when
    a template-only change cannot roll out (see the module docstring)."""
    if before is None or now.kind not in _STRATEGY or now.body == before:
        return now
    template = POD_SPEC_PATHS[now.kind][:-1]  # ("spec", "template")
    if _without(now.body, template) != _without(before, template):
        return now  # replicas, selector, strategy...: the change is not confined to the template
    strategy = dig(now.body, "spec", *_STRATEGY[now.kind])
    if strategy == "Recreate":
        return now
    if strategy == "OnDelete" or blocked(now, objects) is not None:
        return replace(now, body=before)
    return now


def blocked(workload: Resource, objects: ObjectSet) -> str | None:
    """Why new pods of this workload cannot become Ready, or None."""
    spec = pod_spec(workload) or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not isinstance(container, Mapping):
            continue
        names = {p.get("name") for p in container.get("ports") or [] if isinstance(p, Mapping)}
        for probe in _PROBES:
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = dig(container, probe, handler, "port")
                if isinstance(port, str) and not port.isdigit() and port not in names:
                    return f"the {probe} of container {container.get('name')} uses port {port!r}, which it does not declare"
        for item in container.get("env") or []:
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = dig(item, "valueFrom", field)
                if isinstance(ref, Mapping) and not ref.get("optional"):
                    values = objects.config(kind, str(ref.get("name")), workload.namespace)
                    if values is None or str(ref.get("key")) not in values:
                        return f"env {item.get('name')} reads key {ref.get('key')!r} of {kind} {ref.get('name')!r}, which does not exist"
        for source in container.get("envFrom") or []:
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                ref = source.get(field) if isinstance(source, Mapping) else None
                if isinstance(ref, Mapping) and not ref.get("optional") and objects.config(kind, str(ref.get("name")), workload.namespace) is None:
                    return f"envFrom reads {kind} {ref.get('name')!r}, which does not exist"
    return None


def _without(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """`body` as plain data with the mapping at `path` removed (for comparing the rest)."""
    if not path:
        return None
    head, rest = path[0], path[1:]
    return {k: (_without(v, rest) if k == head and rest and isinstance(v, Mapping) else v)
            for k, v in body.items() if not (k == head and not rest)}
