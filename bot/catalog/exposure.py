"""How people outside the cluster reach a Service: through an Ingress, a LoadBalancer, a
NodePort, or (a ClusterIP Service on port 80/443) through something outside the repository
that dials that port. A web fault breaks this front door; a fix must open it again the same
way, or by a way that serves the same clients (an Ingress in front of a former LoadBalancer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.catalog.manifests import Resource, dig
from bot.catalog.objects import ObjectSet

INGRESS = "ingress"


@dataclass(frozen=True)
class Exposure:
    """The front door of a Service: its kind and the port outside clients dial (None: not fixed)."""

    kind: str  # ingress | LoadBalancer | NodePort | ClusterIP
    port: int | None = None
    via: str | None = None  # the Ingress's name, for `ingress`

    def describe(self) -> str:
        """For people: `LoadBalancer port 80`, `Ingress/chat`."""
        if self.kind == INGRESS:
            return f"Ingress/{self.via}" + (f" (Service port {self.port})" if self.port is not None else "")
        return f"{self.kind}" + (f" port {self.port}" if self.port is not None else "")

    def to_json(self) -> dict[str, Any]:
        """Plain data for the event log."""
        return {"kind": self.kind, "port": self.port, "via": self.via}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Exposure:
        """The inverse of to_json."""
        return cls(str(data["kind"]), data.get("port"), data.get("via"))


def service_ports(service: Resource) -> list[Mapping[str, Any]]:
    """The port entries of a Service."""
    return [p for p in dig(service.body, "spec", "ports") or [] if isinstance(p, Mapping)]


def _ingress_routes(objects: ObjectSet, service: Resource) -> list[tuple[Resource, Any]]:
    """(Ingress, port entry it names) for every route of an Ingress to this Service."""
    found = []
    for ingress in (r for r in objects.resources if r.kind == "Ingress" and r.namespace == service.namespace):
        backends = [dig(ingress.body, "spec", "defaultBackend", "service")]
        backends += [dig(p, "backend", "service") for rule in dig(ingress.body, "spec", "rules") or []
                     for p in dig(rule, "http", "paths") or []]
        for backend in backends:
            if isinstance(backend, Mapping) and backend.get("name") == service.name:
                found.append((ingress, backend.get("port") or {}))
    return found


def routed_port(service: Resource, port: Mapping[str, Any]) -> int | None:
    """The Service port number an Ingress backend `port: {number|name}` reaches (None: no such port)."""
    for entry in service_ports(service):
        if "number" in port and entry.get("port") == port.get("number"):
            return int(entry["port"])
        if "name" in port and entry.get("name") == port.get("name"):
            return int(entry["port"])
    return None


def exposure_of(objects: ObjectSet, service: Resource) -> Exposure:
    """How outside clients reach `service` in this tree."""
    routes = _ingress_routes(objects, service)
    if routes:
        ingress, port = routes[0]
        return Exposure(INGRESS, routed_port(service, port), ingress.name)
    kind = str(dig(service.body, "spec", "type") or "ClusterIP")
    ports = service_ports(service)
    web = [p for p in ports if p.get("port") in (80, 443)]
    chosen = (web or ports or [{}])[0]
    if kind == "NodePort":
        # Clients dial the node port; one the API server allocates is not known from the repo.
        node_port = chosen.get("nodePort")
        return Exposure(kind, int(node_port) if isinstance(node_port, int) else None)
    number = chosen.get("port")
    return Exposure(kind, int(number) if isinstance(number, int) else None)


def still_exposed(objects: ObjectSet, service: Resource, bound: Exposure) -> tuple[bool, str]:
    """Do the clients of the healthy front door still get through? (verdict, reason)"""
    now = exposure_of(objects, service)
    if bound.kind == INGRESS:
        if now.kind != INGRESS:
            return False, f"no Ingress routes to Service/{service.name} any more (it was {bound.describe()})"
        if now.port is None:
            return False, f"{now.describe()} names a port Service/{service.name} does not have"
        return True, f"Service/{service.name} is routed by {now.describe()}"
    if now.kind == INGRESS and now.port is not None:
        return True, f"Service/{service.name} is now routed by {now.describe()} (it was {bound.describe()})"
    if bound.kind in ("LoadBalancer", "NodePort") and now.kind not in (bound.kind, "LoadBalancer"):
        return False, f"Service/{service.name} is type {now.kind}: outside clients reached it as {bound.describe()}"
    if bound.port is not None:
        offered = {p.get("nodePort" if bound.kind == "NodePort" else "port") for p in service_ports(service)}
        if bound.port not in offered:
            shown = ", ".join(str(p.get("port")) for p in service_ports(service)) or "no port"
            return False, f"Service/{service.name} no longer offers port {bound.port}, which outside clients dial ({shown})"
    return True, f"Service/{service.name} is still reachable as {bound.describe()}"
