"""Which Service a host name reaches, the way cluster DNS answers it.

`svc` and `svc.ns` (with the search path of the caller's namespace), `svc.ns.svc.<cluster
domain>`, and the pod DNS of a StatefulSet behind a headless Service (`postgres-0.postgres`,
`postgres-0.postgres.ns.svc.cluster.local`). The search path tries `<pod>.<svc>.<own
namespace>` before `<svc>.<namespace>`, and so does this module. Services are matched by the
name they are deployed under (kustomize's namePrefix included), since DNS knows no other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.catalog.manifests import Resource, dig
from bot.catalog.objects import ObjectSet

Resolution = tuple[Resource | None, str | None, str | None]  # Service, StatefulSet pod, problem


def resolve_host(objects: ObjectSet, host: str, namespace: str) -> Resolution:
    """(Service, StatefulSet pod or None, problem) for a host dialled from `namespace`, as cluster DNS answers."""
    labels = host.lower().rstrip(".").split(".")
    if "svc" in labels[1:]:
        before = labels[:labels.index("svc", 1)]
        if len(before) == 2:
            return _service(objects, before[0], before[1], host)
        if len(before) == 3:
            return _pod(objects, before[0], before[1], before[2], host)
        return None, None, f"host {host!r} is not a cluster Service name"
    if len(labels) == 1:
        return _service(objects, labels[0], namespace, host)
    if len(labels) == 2:
        # The search path tries `<pod>.<svc>.<own namespace>` before `<svc>.<namespace>`.
        as_pod = _pod(objects, labels[0], labels[1], namespace, host)
        if as_pod[0] is not None:
            return as_pod
        if labels[1] in objects.namespaces():
            return _service(objects, labels[0], labels[1], host)
        if any(s.name == labels[1] for s in objects.services(namespace)):
            return as_pod
    if len(labels) == 3 and labels[2] in objects.namespaces():
        return _pod(objects, labels[0], labels[1], labels[2], host)
    return None, None, f"host {host!r} is outside the cluster or names a namespace the repository does not deploy"


def _service(objects: ObjectSet, name: str, namespace: str, host: str) -> Resolution:
    found = next((s for s in objects.services(namespace) if s.name == name), None)
    if found is not None:
        return found, None, None
    renamed = next((s for s in objects.services(namespace) if dig(s.body, "metadata", "name") == name), None)
    if renamed is not None:
        return None, None, f"host {host!r} names no Service: kustomize deploys Service {name!r} as {renamed.name!r}"
    known = ", ".join(sorted(s.name for s in objects.services(namespace))) or "none"
    return None, None, f"host {host!r} names no Service in namespace {namespace} (Services there: {known})"


def _pod(objects: ObjectSet, pod: str, service_name: str, namespace: str, host: str) -> Resolution:
    service, _, problem = _service(objects, service_name, namespace, host)
    if service is None:
        return None, None, problem
    for workload in objects.workloads():
        if workload.kind != "StatefulSet" or workload.namespace != namespace or dig(workload.body, "spec", "serviceName") != service_name:
            continue
        ordinal = pod.removeprefix(f"{workload.name}-")
        replicas = dig(workload.body, "spec", "replicas")
        count = replicas if isinstance(replicas, int) else 1
        if ordinal != pod and ordinal.isdigit() and int(ordinal) < count:
            if not is_headless(service.body):
                return None, None, f"host {host!r} is pod DNS, which needs Service/{service_name} to be headless (clusterIP: None)"
            if workload not in objects.selected_by(service):
                return None, None, f"host {host!r}: Service/{service_name} does not select the pods of StatefulSet/{workload.name}, so their DNS names do not resolve"
            return service, pod, None
    return None, None, f"host {host!r}: {pod!r} is not a pod of a StatefulSet whose serviceName is {service_name!r}"


def is_headless(body: Mapping[str, Any]) -> bool:
    """`clusterIP: None` (the string Kubernetes uses; a missing field is a normal Service)."""
    return dig(body, "spec", "clusterIP") == "None"
