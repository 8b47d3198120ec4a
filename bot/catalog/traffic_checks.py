"""Checks that follow the traffic: the backend's connection to its datastore, the site's front
door, who may talk to whom, how many pods run, and whether Kubernetes accepts the objects at all.

Registered in `checks.py`'s table (`TRAFFIC_CHECKS`); each raises `CheckFailed` with a reason
a person can act on, and returns what it found when the check holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.catalog.binding import CheckContext, CheckFailed, ref_key
from bot.catalog.connections import connection_at
from bot.catalog.exposure import still_exposed
from bot.catalog.faultspec import ConnectionResolves, Exposed, NetworkAllows
from bot.catalog.manifests import ManifestIndex, Resource, dig
from bot.catalog.objects import containers
from bot.catalog.roles import Role
from bot.catalog.validity import refusals

# Where outside traffic comes from, as NetworkPolicies see it: an ingress controller's pods
# (ingress-nginx's own namespace and labels), or an address outside the cluster (TEST-NET-3).
INGRESS_CONTROLLER = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
OUTSIDE_ADDRESS = "203.0.113.10"


def kubernetes_accepts(ctx: CheckContext) -> tuple[bool, str]:
    """Does Kubernetes accept every object the fault's roles name, as written in this tree?"""
    bound = [ref for refs in ctx.binding.refs.values() for ref in refs]
    objects = [found for ref in dict.fromkeys(bound) if (found := ctx.written.find(ref)) is not None]
    refused = [str(r) for r in refusals(objects, ctx.binding.baselines, lambda r: ref_key(r.ref), ctx.binding.kubernetes_version)]
    refused += [str(note) for note in ctx.written.notes if str(note.kind) in ("missing", "conflict")]
    if ctx.written.problem is not None:
        refused.append(ctx.written.problem)
    new = [r for r in refused if r not in ctx.binding.refused]
    if new:
        return False, "Kubernetes would refuse the sync: " + "; ".join(new)
    return True, f"Kubernetes accepts the {len(objects)} object(s) the fault's roles name"


def healthy_refusals(ctx: CheckContext) -> list[str]:
    """What Kubernetes already refuses on the healthy tree (recorded, never held against a team)."""
    bound = [ref for refs in ctx.binding.refs.values() for ref in refs]
    objects = [found for ref in dict.fromkeys(bound) if (found := ctx.written.find(ref)) is not None]
    refused = [str(r) for r in refusals(objects, {}, lambda r: None, ctx.binding.kubernetes_version)]
    return refused + [str(n) for n in ctx.written.notes if str(n.kind) in ("missing", "conflict")]


def _connection_resolves(check: ConnectionResolves, ctx: CheckContext) -> str:
    key = ctx.binding.connections.get(check.connection)
    bound_port = ctx.binding.ports.get(check.connection)
    if key is None:
        return _implicit_connection(check, ctx, bound_port)
    connection = connection_at(ctx.objects, key)
    if connection is None:
        raise CheckFailed(f"{key} is no longer set: the client has no address for its datastore")
    port = connection.port if connection.port is not None else bound_port
    host = connection.endpoint.host + (f":{port}" if port is not None else "")
    if connection.target is None:
        raise CheckFailed(f"{key} dials {host!r}: {connection.problem}")
    service = ctx.index.find(connection.target.service)
    if service is None:  # pragma: no cover - resolved above from the same objects
        raise CheckFailed(f"{key} dials {host!r}, which names no Service")
    return _reaches(ctx, check, service, port, f"{key} dials {host}")


def _implicit_connection(check: ConnectionResolves, ctx: CheckContext, port: int | None) -> str:
    """A dial the image makes (not written in the manifests): the bound Service must still take it."""
    service = ctx.resource(Role.db_service) if check.connection is Role.db_connection else None
    if service is None:
        raise CheckFailed(f"role {check.connection} is not bound to a connection")
    return _reaches(ctx, check, service, port, f"the image dials {service.name}" + (f":{port}" if port else ""))


def _reaches(ctx: CheckContext, check: ConnectionResolves, service: Resource, port: int | None, what: str) -> str:
    """The Service offers `port` (when known), selects the wanted pods, and reaches a port they declare."""
    entries = [p for p in dig(service.body, "spec", "ports") or [] if isinstance(p, Mapping)]
    entry = next((p for p in entries if p.get("port") == port), None) if port is not None else (entries[0] if len(entries) == 1 else None)
    selected = ctx.objects.selected_by(service)
    headless = dig(service.body, "spec", "clusterIP") == "None"
    if port is not None and entry is None and not (headless and any(_declares(w, port) for w in selected)):
        offered = ", ".join(str(p.get("port")) for p in entries) or "no port"
        raise CheckFailed(f"{what}, but Service/{service.name} offers {offered}")
    if not selected:
        raise CheckFailed(f"{what}, but Service/{service.name} selects no pods")
    if check.to_role is not None:
        wanted = ctx.resource(check.to_role)
        if wanted.ref not in {w.ref for w in selected}:
            raise CheckFailed(f"{what}, but Service/{service.name} does not select the pods of {wanted.kind}/{wanted.name}")
    if entry is not None:
        target = entry.get("targetPort", entry.get("port"))
        if not any(_declares(w, target) for w in selected):
            raise CheckFailed(f"{what}, but Service/{service.name} sends it to port {target!r}, which its pods do not declare")
    return f"{what} -> Service/{service.name} -> {', '.join(w.kind + '/' + w.name for w in selected)}"


def _declares(workload: Resource, port: Any) -> bool:
    ports = [p for c in containers(workload) if not c.init for p in c.body.get("ports") or [] if isinstance(p, Mapping)]
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return any(p.get("containerPort") == int(port) for p in ports)
    return any(p.get("name") == port for p in ports)


def _exposed(check: Exposed, ctx: CheckContext) -> str:
    service = ctx.resource(check.role)
    bound = ctx.binding.exposures.get(check.role)
    if bound is None:
        raise CheckFailed(f"role {check.role}: how it is exposed was not bound (bind it on a healthy tree)")
    ok, reason = still_exposed(ctx.objects, service, bound)
    if not ok:
        raise CheckFailed(reason)
    return reason


def network_source(check: NetworkAllows, ctx: CheckContext) -> tuple[Resource | None, str | None, str | None]:
    """(source pod, source namespace, source address) of a network_allows check."""
    if check.from_role is not None:
        return ctx.resource(check.from_role), None, None
    if not check.from_outside:
        return None, check.from_namespace, None
    exposure = ctx.binding.exposures.get(Role.frontend_service)
    if exposure is not None and exposure.kind in ("LoadBalancer", "NodePort"):
        return None, None, OUTSIDE_ADDRESS
    namespace, labels = INGRESS_CONTROLLER
    controller = Resource("Deployment", "ingress-nginx-controller", namespace, "", 0,
                          {"spec": {"template": {"metadata": {"labels": labels}}}})
    return controller, None, None


def replicas_of(workload: Resource, index: ManifestIndex) -> tuple[Any, str]:
    """(replicas that run, why) — an HPA owns the count when the workload does not set one;
    `replicas: 0` switches an HPA off (it does not scale a target up from zero)."""
    written = dig(workload.body, "spec", "replicas")
    if written is not None:
        return written, ""
    for hpa in index.of_kind("HorizontalPodAutoscaler"):
        target = dig(hpa.body, "spec", "scaleTargetRef") or {}
        if hpa.namespace == workload.namespace and target.get("kind") == workload.kind and target.get("name") in (
                workload.name, dig(workload.body, "metadata", "name")):
            minimum = dig(hpa.body, "spec", "minReplicas")
            return (1 if minimum is None else minimum), f" (HorizontalPodAutoscaler/{hpa.name} minReplicas)"
    return 1, " (the default)"


TRAFFIC_CHECKS: dict[type, Any] = {
    ConnectionResolves: _connection_resolves,
    Exposed: _exposed,
}
