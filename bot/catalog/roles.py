"""The role vocabulary: faults address roles, never paths, so one fault fits many repos."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.catalog.manifests import WORKLOAD_KINDS, ManifestIndex, Resource, dig
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

    @property
    def is_directory(self) -> bool:
        """Directory roles map to a folder of the tree, not to one Kubernetes object."""
        return self in DIRECTORY_ROLES


DIRECTORY_ROLES = frozenset({Role.frontend_source, Role.backend_source, Role.terraform})


# --- discovery: follow the traffic from the Ingress inwards ---------------------------

DB_HOST_VARS = ("DB_HOST", "DATABASE_HOST", "POSTGRES_HOST", "PGHOST", "DB_HOSTNAME", "MYSQL_HOST")
DB_URL_VARS = ("DATABASE_URL", "DB_URL", "POSTGRES_URL")
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

    @property
    def resource(self) -> Resource:
        """The single object of a single-object role."""
        return self.resources[0]

    def describe(self) -> str:
        """For people: `Service/frontend (k8s/frontend-service.yaml)` or `frontend/`."""
        if self.directory is not None:
            return f"{self.directory}/"
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


def env_value(container: Mapping[str, Any], name: str) -> str | None:
    """A container's literal env value (None if absent or from a reference)."""
    for item in container.get("env") or []:
        if isinstance(item, Mapping) and item.get("name") == name and "value" in item:
            return str(item["value"])
    return None


class Roles:
    """Resolves roles for one tree: `targets:` from repos.yaml first, discovery otherwise."""

    def __init__(self, index: ManifestIndex, targets: Mapping[Role, str] | None = None) -> None:
        self.index = index
        self.targets = dict(targets or {})
        self._cache: dict[Role, RoleTarget | RoleError] = {}

    def resolve(self, role: Role | str) -> RoleTarget:
        """The role's target, or RoleError naming what was looked for and the candidates."""
        role = Role(role)
        if role not in self._cache:
            try:
                self._cache[role] = self._explicit(role) if role in self.targets else self._discover(role)
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

    # -- targets: from repos.yaml ------------------------------------------------------

    def _explicit(self, role: Role) -> RoleTarget:
        spec = self.targets[role]
        if role.is_directory:
            folder = self.index.root / spec
            if not folder.resolve().is_relative_to(self.index.root.resolve()):  # `..`, or a symlink out
                raise RoleError(f"role {role}: targets says {spec!r}, which is outside the repository")
            if not folder.is_dir():
                raise RoleError(f"role {role}: targets says {spec!r}, which is not a directory of the repo")
            return RoleTarget(role, directory=spec.strip("/"))
        path, _, object_spec = spec.rpartition("#") if "#" in spec else ("", "", spec)
        if role is Role.network_policies and "/" not in object_spec:
            path = spec
            found = [r for r in self.index.of_kind("NetworkPolicy") if r.path == path.strip("/")]
        else:
            kind, _, name = object_spec.partition("/")
            if not kind or not name:
                raise RoleError(f"role {role}: targets {spec!r} must look like path#Kind/name or Kind/name")
            found = [
                r for r in self.index.resources
                if r.kind == kind and r.name == name and (not path or r.path == path)
            ]
        if not found:
            raise RoleError(f"role {role}: targets {spec!r} names nothing the repo deploys")
        if len(found) > 1 and role is not Role.network_policies:
            raise RoleError(f"role {role}: targets {spec!r} is ambiguous: {_names(found)}; add the path")
        return RoleTarget(role, tuple(found))

    # -- discovery: follow the traffic ---------------------------------------------------

    def _discover(self, role: Role) -> RoleTarget:
        method = getattr(self, f"_discover_{role.value}", None)
        if method is not None:
            return method()
        return self._discover_directory(role)

    def _one(self, role: Role, found: list[Resource], what: str, *, dangling: bool = False) -> RoleTarget:
        if not found:
            raise RoleError(f"role {role}: {what}; map it in the team's targets:", dangling=dangling)
        if len(found) > 1:
            raise RoleError(
                f"role {role}: {what} is ambiguous between {_names(found)}; "
                f"pick one in the team's targets: (e.g. {role}: {found[0].path}#{found[0].kind}/{found[0].name})"
            )
        return RoleTarget(role, (found[0],))

    def _discover_ingress(self) -> RoleTarget:
        return self._one(Role.ingress, self.index.of_kind("Ingress"), "no Ingress found")

    def _ingress_services(self) -> list[tuple[str, str]]:
        """(path, service name) of every backend of the ingress."""
        ingress = self.resolve(Role.ingress).resource
        routes = []
        default = dig(ingress.body, "spec", "defaultBackend", "service", "name")
        if default:
            routes.append(("", default))
        for rule in dig(ingress.body, "spec", "rules") or []:
            for item in dig(rule, "http", "paths") or []:
                name = dig(item, "backend", "service", "name")
                if name:
                    routes.append((str(item.get("path") or "/"), name))
        return routes

    def _service(self, name: str, namespace: str) -> list[Resource]:
        return [r for r in self.index.in_namespace(namespace, "Service") if r.name == name]

    def _discover_frontend_service(self) -> RoleTarget:
        ingress = self.resolve(Role.ingress).resource
        routes = self._ingress_services()
        root = [name for path, name in routes if path in ("/", "")] or [name for _, name in routes]
        names = sorted(set(root))
        if len(names) > 1:
            raise RoleError(f"role frontend_service: the Ingress routes / to several Services ({', '.join(names)}); pick one in targets:")
        found = self._service(names[0], ingress.namespace) if names else []
        return self._one(Role.frontend_service, found, f"the Ingress {ingress.name} names no existing Service", dangling=True)

    def _selected(self, role: Role, service_role: Role) -> RoleTarget:
        service = self.resolve(service_role).resource
        selector = dig(service.body, "spec", "selector") or {}
        found = self.index.workloads_selected_by(selector, service.namespace)
        return self._one(role, found, f"no workload matches the selector of Service/{service.name}", dangling=True)

    def _discover_frontend_workload(self) -> RoleTarget:
        return self._selected(Role.frontend_workload, Role.frontend_service)

    def _discover_backend_workload(self) -> RoleTarget:
        found = [
            w for w in self.index.of_kind(*WORKLOAD_KINDS)
            if any(_db_host(c) for c in w.containers) and w.kind != "StatefulSet"
        ]
        if not found:
            # Fall back to the Service the Ingress routes /api (or any non-root path) to.
            frontend = self.try_resolve(Role.frontend_service)
            names = {n for p, n in self._ingress_services() if p not in ("/", "")} - (
                {frontend.resource.name} if frontend else set()
            )
            for name in sorted(names):
                for service in self.index.of_kind("Service"):
                    if service.name == name:
                        found += self.index.workloads_selected_by(dig(service.body, "spec", "selector") or {}, service.namespace)
        return self._one(Role.backend_workload, found, "no workload has a database host env var (DB_HOST, DATABASE_URL, ...)")

    def _selecting(self, role: Role, workload_role: Role) -> RoleTarget:
        workload = self.resolve(workload_role).resource
        found = [
            s for s in self.index.in_namespace(workload.namespace, "Service")
            if (sel := dig(s.body, "spec", "selector"))
            and all(workload.pod_labels.get(k) == v for k, v in sel.items())
        ]
        return self._one(role, found, f"no Service selects the pods of {workload.kind}/{workload.name}", dangling=True)

    def _discover_backend_service(self) -> RoleTarget:
        return self._selecting(Role.backend_service, Role.backend_workload)

    def _discover_db_service(self) -> RoleTarget:
        workload = self.resolve(Role.backend_workload).resource
        hosts = {h for c in workload.containers if (h := _db_host(c))}
        found = [s for h in sorted(hosts) for s in self._service(h, workload.namespace)]
        what = f"the database host of {workload.kind}/{workload.name} ({', '.join(sorted(hosts)) or 'none'}) names no Service"
        return self._one(Role.db_service, found, what, dangling=bool(hosts))

    def _discover_db_workload(self) -> RoleTarget:
        return self._selected(Role.db_workload, Role.db_service)

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
            for s in self.index.in_namespace(workload.namespace, "Secret") if s.name == n
        ]
        return self._one(Role.db_secret, found, f"{workload.kind}/{workload.name} reads its database password from no Secret in the repo")

    def _discover_network_policies(self) -> RoleTarget:
        found = self.index.of_kind("NetworkPolicy")
        if not found:
            raise RoleError("role network_policies: the repo deploys no NetworkPolicy")
        return RoleTarget(Role.network_policies, tuple(found))

    def _discover_directory(self, role: Role) -> RoleTarget:
        root = self.index.root
        if role is Role.terraform:
            candidates = sorted({
                p.parent.relative_to(root).as_posix() for p in root.rglob("*.tf")
                if ".terraform" not in p.parts and not p.is_symlink()
            })
            candidates = [c for c in candidates if not any(c.startswith(o + "/") for o in candidates)]
        else:
            candidates = [name for name in SOURCE_DIRS[role] if (root / name).is_dir()]
        if not candidates:
            raise RoleError(f"role {role}: no such directory in the repo; map it in the team's targets:")
        if len(candidates) > 1:
            raise RoleError(f"role {role}: ambiguous between {', '.join(c + '/' for c in candidates)}; pick one in targets:")
        return RoleTarget(role, directory=candidates[0])


def _db_host(container: Mapping[str, Any]) -> str | None:
    for name in DB_HOST_VARS:
        if (value := env_value(container, name)) is not None:
            return host_of(value)
    for name in DB_URL_VARS:
        if (value := env_value(container, name)) is not None:
            return host_of(value)
    return None


def _names(found: list[Resource]) -> str:
    return ", ".join(f"{r.path}#{r.kind}/{r.name}" for r in found)
