"""Roles found by following the traffic: what is exposed, what it dials, and which datastore the
backend cannot work without.

- frontend: the Service an Ingress routes `/` to; else a LoadBalancer Service; else a NodePort
  Service; else the only Service on port 80/443. Several at one level: the one whose name says
  front/web/ui, if exactly one does;
- backend: the non-datastore workload the frontend dials; with no such connection in the
  manifests (the frontend's proxy config is baked into its image), the one workload that dials a
  datastore; with no connection at all, the only non-datastore workload (a two-tier app);
- database: the datastore the backend dials (a StatefulSet, a well-known image, or a well-known
  port); with no connection in the manifests, the only datastore.
An ambiguity is one line naming the candidates and the `targets:` entry that settles it; a
role that cannot be found says why in its own words (never another role's error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.catalog.connections import Connection, find_connections
from bot.catalog.manifests import Resource, dig
from bot.catalog.objects import ObjectSet, containers

DATASTORE_IMAGES = re.compile(
    r"postgres|postgis|timescale|pgvector|mysql|mariadb|percona|mongo|documentdb|redis|valkey|keydb|dragonfly|memcached|"
    r"rabbitmq|kafka|nats|zookeeper|cassandra|scylla|elasticsearch|opensearch|couchdb|cockroach|clickhouse|etcd|minio|"
    r"influxdb|neo4j|mssql|oracle|db2",
    re.I,
)
DATASTORE_PORTS = frozenset({5432, 3306, 27017, 6379, 5672, 9042, 9200, 11211, 9092, 4222, 26257, 8123, 1433, 10260})
FRONT_NAMES = re.compile(r"front|web|ui\b|www|site|portal", re.I)
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")


@dataclass(frozen=True)
class Choice:
    """A role's object, or why there is none (`problem`, one line)."""

    role: str
    chosen: Resource | None
    reason: str = ""  # how it was chosen
    problem: str | None = None
    candidates: tuple[Resource, ...] = ()


def datastore_kind(workload: Resource) -> str | None:
    """Why a workload is a datastore (`image redis`, `StatefulSet`, `port 3306`), or None."""
    for container in containers(workload):
        # The image's own name, not its registry path (`mycorp/postgres-tools/api` is no database).
        match = DATASTORE_IMAGES.search(str(container.body.get("image") or "").rpartition("/")[2].partition(":")[0])
        if match is not None:
            return f"image {match.group(0).lower()}"
    if workload.kind == "StatefulSet":
        return "StatefulSet"
    ports = {p.get("containerPort") for c in containers(workload) for p in c.body.get("ports") or [] if isinstance(p, dict)}
    known = sorted(p for p in ports if p in DATASTORE_PORTS)
    return f"port {known[0]}" if known else None


def _ambiguous(role: str, candidates: list[Resource], what: str, suggestion: Resource) -> Choice:
    names = ", ".join(f"{c.kind}/{c.name}" for c in candidates)
    return Choice(role, None, problem=(
        f"role {role}: {what}: {names}; pick one in the team's targets: ({role}: {suggestion.kind}/{suggestion.name})"
    ), candidates=tuple(candidates))


def frontend_service(objects: ObjectSet) -> Choice:
    """The Service people reach from outside."""
    levels: list[tuple[str, list[Resource]]] = [("routed to / by an Ingress", _ingress_root_services(objects))]
    for kind in ("LoadBalancer", "NodePort"):
        levels.append((f"type {kind}", [s for s in objects.services() if dig(s.body, "spec", "type") == kind]))
    levels.append(("the only Service on port 80/443", [s for s in objects.services() if _ports(s) & {80, 443}]))
    for how, found in levels:
        if len(found) == 1:
            return Choice("frontend_service", found[0], how)
        named = [s for s in found if FRONT_NAMES.search(s.name)]
        if len(named) == 1:
            others = ", ".join(s.name for s in found if s is not named[0])
            return Choice("frontend_service", named[0], f"{how}, named like a frontend (also {how}: {others})", candidates=tuple(found))
        if found:
            return _ambiguous("frontend_service", found, f"several Services are {how}", found[0])
    return Choice("frontend_service", None, problem=(
        "role frontend_service: nothing is exposed (no Ingress, no LoadBalancer or NodePort Service, no Service on port 80/443); "
        "map it in the team's targets:"
    ))


def selected_workload(objects: ObjectSet, role: str, service: Resource) -> Choice:
    """The one workload a Service selects."""
    found = objects.selected_by(service)
    if len(found) == 1:
        return Choice(role, found[0], f"selected by Service/{service.name}")
    if not found:
        return Choice(role, None, problem=f"role {role}: Service/{service.name} selects no workload's pods")
    return _ambiguous(role, found, f"Service/{service.name} selects several workloads", found[0])


def backend_workload(objects: ObjectSet, frontend: Resource | None) -> Choice:
    """What the frontend dials, else the one workload that dials a datastore, else a two-tier frontend.

    Without a frontend (nothing is exposed), the datastore clients still say who the backend is:
    a db fault's reason is then the backend's own, never the frontend's.
    """
    dialled = [w for w in _dialled(objects, frontend, datastores=False) if w != frontend] if frontend is not None else []
    if len(dialled) == 1 and frontend is not None:
        return Choice("backend_workload", dialled[0], f"dialled by {frontend.kind}/{frontend.name}")
    if dialled and frontend is not None:
        return _ambiguous("backend_workload", dialled, f"{frontend.kind}/{frontend.name} dials several workloads", dialled[0])
    clients = [w for w in objects.workloads() if w.kind in LONG_RUNNING and datastore_kind(w) is None and _dialled(objects, w, datastores=True)]
    if len(clients) == 1:
        return Choice("backend_workload", clients[0], "the only workload that dials a datastore (the frontend's connections are not in the manifests)")
    if clients:
        settled = [c for c in clients if len(_dialled(objects, c, datastores=True)) == 1]
        return _ambiguous("backend_workload", clients, "several workloads dial a datastore", (settled or clients)[0])
    plain = [w for w in objects.workloads() if w.kind in LONG_RUNNING and datastore_kind(w) is None]
    has_datastore = any(datastore_kind(w) for w in objects.workloads())
    if frontend is not None and plain == [frontend] and has_datastore:
        return Choice("backend_workload", frontend, "two tiers: the frontend is the only workload besides datastores")
    if not has_datastore:
        return Choice("backend_workload", None, problem="role backend_workload: the app has no database, cache or queue for a backend to reach (no StatefulSet, no datastore image or port)")
    return Choice("backend_workload", None, problem="role backend_workload: no workload dials another one in the manifests; map it in the team's targets:")


def database(objects: ObjectSet, backend: Resource) -> tuple[Choice, Connection | None]:
    """The datastore Service the backend dials (and that connection), or the only datastore."""
    connections = [c for c in find_connections(objects, backend) if c.target is not None and _is_datastore_service(objects, c)]
    services = {c.target.service: c for c in connections if c.target is not None}
    if len(services) == 1:
        connection = next(iter(services.values()))
        service = _service(objects, connection)
        return Choice("db_service", service, f"dialled by {backend.kind}/{backend.name} ({connection.key.channel} {connection.key.name})"), connection
    if services:
        found = [s for c in services.values() if (s := _service(objects, c)) is not None]
        return _ambiguous("db_service", found, f"{backend.kind}/{backend.name} dials several datastores", found[0]), None
    if find_connections(objects, backend):
        return Choice("db_service", None, problem=f"role db_service: {backend.kind}/{backend.name} dials no datastore"), None
    stores = [s for s in objects.services() if any(datastore_kind(w) for w in objects.selected_by(s))]
    if len(stores) == 1:
        return Choice("db_service", stores[0], "the only datastore (no manifest says who dials it)"), None
    if stores:
        return _ambiguous("db_service", stores, "no manifest says which datastore the backend dials", stores[0]), None
    return Choice("db_service", None, problem="role db_service: the app has no database, cache or queue (no StatefulSet, no datastore image or port)"), None


def _dialled(objects: ObjectSet, client: Resource, *, datastores: bool) -> list[Resource]:
    found: list[Resource] = []
    for connection in find_connections(objects, client):
        if connection.target is None or _is_datastore_service(objects, connection) != datastores:
            continue
        for ref in connection.target.workloads:
            workload = next((w for w in objects.workloads() if w.ref == ref), None)
            if workload is not None and workload.kind in LONG_RUNNING and workload not in found:
                found.append(workload)
    return found


def _is_datastore_service(objects: ObjectSet, connection: Connection) -> bool:
    service = _service(objects, connection)
    return service is not None and any(datastore_kind(w) for w in objects.selected_by(service))


def _service(objects: ObjectSet, connection: Connection) -> Resource | None:
    target = connection.target
    return next((s for s in objects.services() if target is not None and s.ref == target.service), None)


def _ports(service: Resource) -> set[int]:
    return {int(p["port"]) for p in dig(service.body, "spec", "ports") or [] if isinstance(p, dict) and isinstance(p.get("port"), int)}


def _ingress_root_services(objects: ObjectSet) -> list[Resource]:
    found: list[Resource] = []
    for ingress in (r for r in objects.resources if r.kind == "Ingress"):
        names = [dig(ingress.body, "spec", "defaultBackend", "service", "name")]
        for rule in dig(ingress.body, "spec", "rules") or []:
            for path in dig(rule, "http", "paths") or []:
                if str(path.get("path") or "/") == "/":
                    names.append(dig(path, "backend", "service", "name"))
        found += [s for s in objects.services(ingress.namespace) if s.name in names and s not in found]
    return found
