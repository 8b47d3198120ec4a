"""The role vocabulary: faults address roles, never paths, so one fault fits many repos.

Roles come from the team's `targets:` first, else by following the traffic (traffic.py):
what is exposed is the frontend, what it dials the backend, the datastore the backend dials
the database, and that dial itself the `db_connection` (connections.py). Each role that
cannot be found says why in its own words; a role that depends on another says which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.catalog.connections import Channel, Connection, ConnectionKey, Form, connection_at, find_connections
from bot.catalog.exposure import exposure_of
from bot.catalog.manifests import ManifestIndex, Resource, dig
from bot.catalog.objects import ObjectSet, containers
from bot.catalog.traffic import (
    DATASTORE_PORTS,
    Choice,
    backend_workload,
    database,
    datastore_kind,
    frontend_service,
    selected_workload,
)
from bot.errors import RoleError


class Role(StrEnum):
    """A part of a team's service that a fault or a check can address."""

    ingress = "ingress"
    frontend_service = "frontend_service"
    frontend_workload = "frontend_workload"
    backend_service = "backend_service"
    backend_workload = "backend_workload"
    db_service = "db_service"
    db_workload = "db_workload"
    db_secret = "db_secret"
    network_policies = "network_policies"
    frontend_source = "frontend_source"
    backend_source = "backend_source"
    terraform = "terraform"
    db_connection = "db_connection"  # derived: how backend_workload dials db_service

    @property
    def is_directory(self) -> bool:
        """Directory roles map to a folder of the tree, not to one Kubernetes object."""
        return self in DIRECTORY_ROLES


DIRECTORY_ROLES = frozenset({Role.frontend_source, Role.backend_source, Role.terraform})
# Roles derived from others: never written in `targets:` (the roles they follow are).
DERIVED_ROLES = frozenset({Role.db_connection})


SOURCE_DIRS = {
    Role.frontend_source: ("frontend", "web", "ui", "client"),
    Role.backend_source: ("backend", "api", "server"),
}
_URL_HOST = re.compile(r"^[a-z+]+://(?:[^@/]*@)?(?P<host>[^:/?]+)")


@dataclass(frozen=True)
class RoleTarget:
    """What a role resolved to: Kubernetes objects, or a directory of the tree."""

    role: Role
    resources: tuple[Resource, ...] = ()
    directory: str | None = None
    connection: Connection | None = None  # db_connection: the dial as written (None: not in the manifests)
    port: int | None = None  # db_connection: the port dialled (written, implied, or the Service's only one)
    how: str = ""  # how discovery chose it, for people

    @property
    def resource(self) -> Resource:
        """The single object of a single-object role."""
        return self.resources[0]

    def describe(self) -> str:
        """For people: `Service/frontend (k8s/frontend-service.yaml)` or `frontend/`."""
        if self.directory is not None:
            return f"{self.directory}/"
        if self.role is Role.db_connection:
            dial = self.connection.describe() if self.connection else "not written in the manifests (the image dials it)"
            return f"{self.resources[0].kind}/{self.resources[0].name}: {dial}"
        return ", ".join(str(r) for r in self.resources)


def host_of(value: str) -> str:
    """The Service name a host value points at: `postgres.chat.svc.cluster.local` -> `postgres`."""
    return service_address(value)[0]


def service_address(value: str) -> tuple[str, str | None]:
    """(Service name, namespace or None) of a host or URL: `postgres.chat.svc` -> (postgres, chat)."""
    match = _URL_HOST.match(value)
    host = match.group("host") if match else value
    labels = host.split(".")
    return labels[0], labels[1] if len(labels) > 1 else None


class Roles:
    """Resolves roles for one tree: `targets:` from repos.yaml first, discovery otherwise.

    `connections` pins derived connection roles to the key bound on the healthy tree, so a
    fix rehearsed on a broken tree edits the same dial even though it resolves to nothing.
    """

    def __init__(self, index: ManifestIndex, targets: Mapping[Role, str] | None = None,
                 connections: Mapping[Role, ConnectionKey] | None = None, ports: Mapping[Role, int] | None = None) -> None:
        self.index = index
        self.targets = dict(targets or {})
        self.connections = dict(connections or {})
        self.ports = dict(ports or {})  # bound on the healthy tree: the port each role's clients dial
        self.objects = ObjectSet(tuple(index.resources), tuple(index.generated))
        self._cache: dict[Role, RoleTarget | RoleError] = {}

    def resolve(self, role: Role | str) -> RoleTarget:
        """The role's target, or RoleError naming what was looked for and the candidates."""
        role = Role(role)
        if role not in self._cache:
            try:
                self._cache[role] = self._resolve(role)
            except RoleError as exc:
                self._cache[role] = exc
        found = self._cache[role]
        if isinstance(found, RoleError):
            raise found
        return found

    def try_resolve(self, role: Role | str) -> RoleTarget | None:
        """The role's target, or None where it cannot be resolved."""
        try:
            return self.resolve(role)
        except RoleError:
            return None

    def error(self, role: Role) -> str:
        """Why a role does not resolve ('' when it does)."""
        try:
            self.resolve(role)
        except RoleError as exc:
            return exc.message
        return ""

    def _resolve(self, role: Role) -> RoleTarget:
        if self.index.problem is not None and not role.is_directory:
            raise RoleError(self.index.problem)
        target = self._explicit(role) if role in self.targets and role not in DERIVED_ROLES else self._discover(role)
        if target.directory is None:
            # The port its clients dial: as bound on the healthy tree (a later tree may have
            # moved it: that is what a fault does), else as found here (the front door's).
            port = self.ports.get(role, target.port)
            if port is None and role is Role.frontend_service:
                port = exposure_of(self.objects, target.resource).port
            if port != target.port:
                target = replace(target, port=port)
        return target

    # -- targets: from repos.yaml ------------------------------------------------------

    def _explicit(self, role: Role) -> RoleTarget:
        spec = self.targets[role]
        if role.is_directory:
            folder = self.index.root / spec
            if not folder.resolve().is_relative_to(self.index.root.resolve()):  # `..`, or a symlink out
                raise RoleError(f"role {role}: targets says {spec!r}, which is outside the repository")
            if not folder.is_dir():
                raise RoleError(f"role {role}: targets says {spec!r}, which is not a directory of the repo")
            return RoleTarget(role, directory=spec.strip("/"), how="targets:")
        path, _, object_spec = spec.rpartition("#") if "#" in spec else ("", "", spec)
        if role is Role.network_policies and "/" not in object_spec:
            path = spec
            found = [r for r in self.index.of_kind("NetworkPolicy") if r.path == path.strip("/")]
        else:
            kind, _, name = object_spec.partition("/")
            if not kind or not name:
                raise RoleError(f"role {role}: targets {spec!r} must look like path#Kind/name or Kind/name")
            # The deployed name (kustomize's namePrefix applied) or the name written in the file.
            found = [
                r for r in self.index.resources
                if r.kind == kind and name in (r.name, dig(r.body, "metadata", "name")) and (not path or r.path == path)
            ]
        if not found:
            raise RoleError(f"role {role}: targets {spec!r} names nothing the repo deploys")
        if len(found) > 1 and role is not Role.network_policies:
            raise RoleError(f"role {role}: targets {spec!r} is ambiguous: {_names(found)}; add the path")
        return RoleTarget(role, tuple(found), how="targets:")

    # -- discovery: follow the traffic ---------------------------------------------------

    def _discover(self, role: Role) -> RoleTarget:
        method = getattr(self, f"_discover_{role.value}", None)
        if method is not None:
            return method()  # type: ignore[no-any-return]
        return self._discover_directory(role)

    def _chosen(self, role: Role, choice: Choice, *, dangling: bool = False) -> RoleTarget:
        if choice.chosen is None:
            raise RoleError(choice.problem or f"role {role}: not found; map it in the team's targets:", dangling=dangling)
        return RoleTarget(role, (choice.chosen,), how=choice.reason)

    def _discover_ingress(self) -> RoleTarget:
        found = self.index.of_kind("Ingress")
        if not found:
            raise RoleError("role ingress: no Ingress found; map it in the team's targets:")
        if len(found) > 1:
            raise RoleError(
                f"role ingress: several Ingresses ({_names(found)}); "
                f"pick one in the team's targets: (e.g. ingress: {found[0].path}#{found[0].kind}/{found[0].name})"
            )
        return RoleTarget(Role.ingress, (found[0],), how="the only Ingress")

    def _discover_frontend_service(self) -> RoleTarget:
        choice = frontend_service(self.objects)
        if choice.chosen is None:
            missing = self._ingress_names_missing_service()
            if missing:  # the Ingress routes to nothing: the repo is broken, not unsuited
                raise RoleError(f"role frontend_service: {missing}", dangling=True)
        return self._chosen(Role.frontend_service, choice)

    def _ingress_names_missing_service(self) -> str:
        services = {(s.namespace, s.name) for s in self.objects.services()}
        for ingress in self.index.of_kind("Ingress"):
            names = [dig(ingress.body, "spec", "defaultBackend", "service", "name")]
            names += [dig(p, "backend", "service", "name") for rule in dig(ingress.body, "spec", "rules") or []
                      for p in dig(rule, "http", "paths") or []]
            for name in names:
                if name and (ingress.namespace, name) not in services:
                    return f"Ingress/{ingress.name} routes to Service {name!r}, which the repo does not deploy"
        return ""

    def _selected(self, role: Role, service_role: Role) -> RoleTarget:
        service = self.resolve(service_role).resource
        choice = selected_workload(self.objects, role.value, service)
        return self._chosen(role, choice, dangling=not self.objects.selected_by(service))

    def _discover_frontend_workload(self) -> RoleTarget:
        return self._selected(Role.frontend_workload, Role.frontend_service)

    def _discover_backend_workload(self) -> RoleTarget:
        frontend = self.try_resolve(Role.frontend_workload)
        return self._chosen(Role.backend_workload, backend_workload(self.objects, frontend.resource if frontend else None))

    def _selecting(self, role: Role, workload_role: Role) -> RoleTarget:
        workload = self.resolve(workload_role).resource
        found = [
            s for s in self.index.in_namespace(workload.namespace, "Service")
            if (sel := dig(s.body, "spec", "selector"))
            and all(workload.pod_labels.get(k) == v for k, v in sel.items())
        ]
        if not found:
            raise RoleError(f"role {role}: no Service selects the pods of {workload.kind}/{workload.name}; map it in the team's targets:")
        if len(found) > 1:
            raise RoleError(f"role {role}: several Services select the pods of {workload.kind}/{workload.name}: {_names(found)}; "
                            f"pick one in the team's targets: ({role}: {found[0].kind}/{found[0].name})")
        return RoleTarget(role, (found[0],), how=f"selects the pods of {workload.kind}/{workload.name}")

    def _discover_backend_service(self) -> RoleTarget:
        return self._selecting(Role.backend_service, Role.backend_workload)

    def _discover_db_service(self) -> RoleTarget:
        backend = self.try_resolve(Role.backend_workload)
        if backend is None:
            if not any(datastore_kind(w) for w in self.objects.workloads()):
                raise RoleError("role db_service: the app has no database, cache or queue (no StatefulSet, no datastore image or port)")
            raise RoleError(f"role db_service: cannot be followed from backend_workload ({self.error(Role.backend_workload)})")
        choice, _ = database(self.objects, backend.resource)
        return self._chosen(Role.db_service, choice)

    def _discover_db_workload(self) -> RoleTarget:
        return self._selected(Role.db_workload, Role.db_service)

    def _discover_db_connection(self) -> RoleTarget:
        if Role.db_connection in self.connections:
            key = self.connections[Role.db_connection]
            connection = connection_at(self.objects, key)
            if connection is None:
                raise RoleError(f"role db_connection: nothing is written at {key} any more")
            client = next(w for w in self.objects.workloads() if w.ref.kind == key.client.kind and w.name == key.client.name)
            return RoleTarget(Role.db_connection, (client,), connection=connection, port=connection.port, how="bound")
        backend = self.resolve(Role.backend_workload).resource
        service = self.resolve(Role.db_service).resource
        dials = [c for c in find_connections(self.objects, backend) if c.target is not None and c.target.service == service.ref]
        if not dials:
            # The image or its source dials it (the guestbook's PHP): a connection nobody can edit,
            # whose port is the Service's only one (or the datastore's well-known one).
            return RoleTarget(Role.db_connection, (backend,), port=_implied_port(service),
                              how=f"{backend.kind}/{backend.name} dials Service/{service.name} from its image (not in the manifests)")
        inits = {c.name for c in containers(backend) if c.init}
        dial = min(dials, key=lambda c: _preference(c, inits))
        port = dial.port if dial.port is not None else (dial.target.port.port if dial.target and dial.target.port else None)
        return RoleTarget(Role.db_connection, (backend,), connection=dial, port=port, how=dial.describe())

    def _discover_db_secret(self) -> RoleTarget:
        workload = self.resolve(Role.backend_workload).resource
        names = []
        for container in workload.containers:
            for item in container.get("env") or []:
                ref = dig(item, "valueFrom", "secretKeyRef")
                if isinstance(ref, Mapping) and "PASS" in str(item.get("name", "")).upper():
                    names.append(str(ref.get("name")))
        found = [
            s for n in dict.fromkeys(names)
            for s in self.index.in_namespace(workload.namespace, "Secret") if dig(s.body, "metadata", "name") == n
        ]
        if len(found) != 1:
            raise RoleError(f"role db_secret: {workload.kind}/{workload.name} reads its database password from no Secret in the repo; map it in the team's targets:")
        return RoleTarget(Role.db_secret, (found[0],), how=f"read by {workload.kind}/{workload.name}")

    def _discover_network_policies(self) -> RoleTarget:
        found = self.index.of_kind("NetworkPolicy")
        if not found:
            raise RoleError("role network_policies: the repo deploys no NetworkPolicy")
        return RoleTarget(Role.network_policies, tuple(found), how="every NetworkPolicy")

    def _discover_directory(self, role: Role) -> RoleTarget:
        root = self.index.root
        if role is Role.terraform:
            candidates = sorted({
                p.parent.relative_to(root).as_posix() for p in root.rglob("*.tf")
                if ".terraform" not in p.parts and not p.is_symlink()
            })
            candidates = [c for c in candidates if not any(c.startswith(o + "/") for o in candidates)]
        else:
            # A folder of manifests (podinfo's bases/frontend) is not application source.
            manifest_dirs = {f.partition("/")[0] for f in self.index.files} | {k.partition("/")[0] for k in self.index.kustomizations}
            candidates = [name for name in SOURCE_DIRS[role] if (root / name).is_dir() and name not in manifest_dirs]
        if not candidates:
            raise RoleError(f"role {role}: no such directory in the repo; map it in the team's targets:")
        if len(candidates) > 1:
            raise RoleError(f"role {role}: ambiguous between {', '.join(c + '/' for c in candidates)}; pick one in targets:")
        return RoleTarget(role, directory=candidates[0], how="by its name")


def _preference(connection: Connection, inits: set[str]) -> tuple[int, int]:
    """Which of several dials of the same Service is *the* connection: the main container's env
    first, then its flags, mounted files, shell commands; init containers last (aks-store-demo's
    order-service waits for rabbitmq in an init container, then dials it from its env)."""
    order = {Form.flag: 1, Form.mounted_file: 2, Form.shell: 3}
    rank = 0 if connection.key.channel is Channel.env else order.get(connection.form, 2)
    return (1 if connection.key.container in inits else 0), rank


def _implied_port(service: Resource) -> int | None:
    ports: list[int] = [p["port"] for p in dig(service.body, "spec", "ports") or [] if isinstance(p, Mapping) and isinstance(p.get("port"), int)]
    if len(ports) == 1:
        return ports[0]
    known = [p for p in ports if p in DATASTORE_PORTS]
    return known[0] if len(known) == 1 else None


def _names(found: list[Resource]) -> str:
    return ", ".join(f"{r.path}#{r.kind}/{r.name}" for r in found)
