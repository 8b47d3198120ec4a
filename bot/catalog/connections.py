"""How one workload reaches another, modelled once for the faults that break it and the checks
that judge a fix.

A connection is a host (and port) a container dials, found wherever people write it:
- an env `value` (`DB_HOST=db`, `REDIS_ADDR=cache:6379`, `DATABASE_URL=postgres://u@db:5432/x`,
  `SPRING_DATASOURCE_URL=jdbc:postgresql://db/x`), under any variable name;
- an env `valueFrom.configMapKeyRef` / `secretKeyRef` (Secret `data:` base64, `stringData:`
  plain; kustomize generator literals, env files and files too), or `envFrom`;
- a command-line flag in `args`/`command` (`--cache-server=tcp://cache:6379`, `--db-host db`),
  or a host inside a shell command (`until nc -zv rabbitmq 5672; ...`);
- a ConfigMap/Secret key mounted as a file (`proxy_pass http://backend:8000;`).
A host resolves as cluster DNS does: `svc`, `svc.ns`, `svc.ns.svc.cluster.local`, and the pod
DNS of a StatefulSet behind a headless Service (`postgres-0.postgres`). A port is the one
written, the one in a sibling variable (`DB_HOST` + `DB_PORT`, `--db-host` + `--db-port`), or
the scheme's usual port; a headless Service is dialled at the pods' ports directly.
Every connection says where its host and port are written (`Location`), so a fault can change
exactly that text and a check can find the same connection again (`ConnectionKey`) in a later
tree of the same repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.catalog.clusterdns import is_headless, resolve_host
from bot.catalog.endpoints import Endpoint, find_endpoints, parse_endpoint
from bot.catalog.locations import Location
from bot.catalog.manifests import Resource, ResourceRef, dig
from bot.catalog.objects import ConfigValue, ContainerView, ObjectSet, containers, pod_spec

# Variable, key and flag names under which a bare word (`db`) is meant as a host name.
HOST_HINT = re.compile(r"HOST|ADDR|SERVER|SERVICE|ENDPOINT|BROKER|URL|URI|DSN|MASTER|PRIMARY|UPSTREAM|BACKEND|REMOTE|PEER|SLAVEOF|REPLICAOF", re.I)
# ...but `SERVICE_NAME`, `QUEUE_NAME`, `--grpc-service-name` name things other than hosts.
NOT_HOST = re.compile(r"(?<!HOST)[_-]?NAME$", re.I)
_STEM = re.compile(r"^(?P<stem>.*?)(?P<sep>[_-]?)(?:HOSTNAME|HOST|ADDRESS|ADDR|SERVER|SERVICE_HOST)$", re.I)
_FLAG = re.compile(r"^(?P<flag>--?[A-Za-z][\w.-]*)(?:=(?P<value>.*))?$", re.S)


class Channel(StrEnum):
    """How the container receives the text: part of a connection's identity across trees."""

    env = "env"  # an environment variable, whatever its source (value, configMapKeyRef, envFrom...)
    argument = "argument"  # a flag or item of args/command
    file = "file"  # a ConfigMap/Secret key mounted as a file


class Form(StrEnum):
    """Where the env text comes from, or how an argument is written."""

    env_value = "env value"
    config_map_key = "configMapKeyRef"
    secret_key = "secretKeyRef"
    env_from_config_map = "envFrom configMapRef"
    env_from_secret = "envFrom secretRef"
    flag = "flag"
    shell = "shell command"
    mounted_file = "mounted file"


@dataclass(frozen=True)
class ConnectionKey:
    """The same connection in any tree of one repository: who dials, and through which name."""

    client: ResourceRef
    container: str
    channel: Channel
    name: str  # env var name, flag name (`--cache-server`), `command[3]`, or `<configmap>/<key>`
    occurrence: int = 0  # the n-th endpoint in that text (shell commands and files may name several)

    def __str__(self) -> str:
        where = f"{self.client.kind}/{self.client.name} container {self.container}"
        return f"{where} {self.channel} {self.name}" + (f" #{self.occurrence + 1}" if self.occurrence else "")


@dataclass(frozen=True)
class ServicePort:
    """One port entry of a Service."""

    port: int
    name: str | None = None
    target_port: int | str | None = None


@dataclass(frozen=True)
class Target:
    """The Service a connection's host names (and the StatefulSet pod, for pod DNS)."""

    service: ResourceRef
    headless: bool = False
    pod: str | None = None
    port: ServicePort | None = None  # the Service port dialled; None if it has none such (or unknown)
    workloads: tuple[ResourceRef, ...] = ()  # what the Service selects


@dataclass(frozen=True)
class Connection:
    """A host (and port) one container dials, where it is written, and what it resolves to."""

    key: ConnectionKey
    form: Form
    text: str  # the whole decoded text the host is written in
    endpoint: Endpoint  # spans relative to `text`
    host_at: Location
    port: int | None  # dialled: written, in a sibling variable, or the scheme's; None if unknown
    port_at: Location | None = None  # where that port is written (None: implicit)
    target: Target | None = None
    problem: str | None = None  # why the host names no Service, or the port is not offered

    @property
    def resolved(self) -> bool:
        """True when the host names a deployed Service that offers the dialled port."""
        return self.target is not None and self.problem is None

    def describe(self) -> str:
        """For people: `Deployment/backend env DB_HOST=postgres:5432 -> Service/postgres`."""
        address = self.endpoint.host + (f":{self.port}" if self.port is not None else "")
        goes = f"Service/{self.target.service.name}" if self.target else "nothing"
        return f"{self.key} = {address} -> {goes}" + (f" ({self.problem})" if self.problem else "")


def find_connections(objects: ObjectSet, client: Resource | None = None, *, unresolved: bool = False) -> list[Connection]:
    """Connections of every workload (or of `client`): resolved ones, plus clearly written
    addresses that resolve to nothing when `unresolved` (a URL or host:port; a bare word
    that names no Service is not taken for a host)."""
    clients = [client] if client is not None else objects.workloads()
    found = []
    for workload in clients:
        for connection in _scan(objects, workload):
            if connection.target is not None or (unresolved and _clearly_address(connection)):
                found.append(connection)
    return found


def connection_at(objects: ObjectSet, key: ConnectionKey) -> Connection | None:
    """The connection a key names, in this tree, resolved or not (None if nothing is written there)."""
    workload = next((r for r in objects.workloads() if r.kind == key.client.kind and r.name == key.client.name
                     and (key.client.namespace is None or r.namespace == key.client.namespace)), None)
    if workload is None:
        return None
    return next((c for c in _scan(objects, workload) if c.key == key), None)


def _hints_host(name: str) -> bool:
    """May a bare word under this variable/key/flag name be a host?"""
    return bool(HOST_HINT.search(name)) and not NOT_HOST.search(name)


def _clearly_address(connection: Connection) -> bool:
    return connection.endpoint.scheme is not None or connection.endpoint.port is not None


# --- scanning one workload -----------------------------------------------------------------

@dataclass(frozen=True)
class _Text:
    """A text a container receives, where it is written, and under which name."""

    channel: Channel
    name: str
    form: Form
    text: str
    location: Location
    bare: bool  # may a bare word be a host here?
    free: bool = False  # free text (shell, file): look for endpoints inside it


def _scan(objects: ObjectSet, workload: Resource) -> Iterator[Connection]:
    services = {s.name for s in objects.services(workload.namespace)}
    for container in containers(workload):
        env = _env_texts(objects, workload, container)
        arguments = _argument_texts(workload, container)
        for item in [*env.values(), *arguments, *_file_texts(objects, workload, container)]:
            endpoints = find_endpoints(item.text, services) if item.free else [e for e in [parse_endpoint(item.text, bare=item.bare)] if e]
            for occurrence, endpoint in enumerate(endpoints):
                key = ConnectionKey(workload.ref, container.name, item.channel, item.name, occurrence)
                port, port_at = _port(endpoint, item, env, arguments)
                connection = Connection(key, item.form, item.text, endpoint, item.location.narrowed(*endpoint.host_span), port, port_at)
                yield _resolve(objects, workload, connection)


def _env_texts(objects: ObjectSet, workload: Resource, container: ContainerView) -> dict[str, _Text]:
    texts: dict[str, _Text] = {}
    for source in container.body.get("envFrom") or []:
        for kind, field, form in (("ConfigMap", "configMapRef", Form.env_from_config_map), ("Secret", "secretRef", Form.env_from_secret)):
            name = dig(source, field, "name")
            values = objects.config(kind, str(name), workload.namespace) if name else None
            for key, value in (values or {}).items():
                env_name = f"{source.get('prefix') or ''}{key}"
                texts[env_name] = _Text(Channel.env, env_name, form, value.text, value.location, _hints_host(env_name))
    for item in container.body.get("env") or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        env_name = item["name"]
        read = _env_value(objects, workload, container, item)
        if read is None:
            texts.pop(env_name, None)  # explicit env wins over envFrom, even when we cannot read it
            continue
        form, config = read
        texts[env_name] = _Text(Channel.env, env_name, form, config.text, config.location,
                                _hints_host(env_name) or _hints_host(config.key))
    return texts


def _env_value(objects: ObjectSet, workload: Resource, container: ContainerView, item: Mapping[str, Any]) -> tuple[Form, ConfigValue] | None:
    name = item["name"]
    if "value" in item and item["value"] is not None:
        location = Location(workload.path, workload.doc_index, f"{container.path}.env[name={name}].value")
        return Form.env_value, ConfigValue(name, str(item["value"]), location)
    for kind, field, form in (("ConfigMap", "configMapKeyRef", Form.config_map_key), ("Secret", "secretKeyRef", Form.secret_key)):
        ref = dig(item, "valueFrom", field)
        if isinstance(ref, Mapping) and ref.get("name") and ref.get("key"):
            values = objects.config(kind, str(ref["name"]), workload.namespace) or {}
            found = values.get(str(ref["key"]))
            return (form, found) if found is not None else None
    return None


def _argument_texts(workload: Resource, container: ContainerView) -> list[_Text]:
    texts = []
    for field in ("command", "args"):
        items = container.body.get(field) or []
        for number, raw in enumerate(items):
            text = str(raw)
            location = Location(workload.path, workload.doc_index, f"{container.path}.{field}[{number}]")
            flag = _FLAG.match(text)
            if flag and flag.group("value") is not None:
                start = flag.start("value")
                texts.append(_Text(Channel.argument, flag.group("flag"), Form.flag, flag.group("value"),
                                   location.narrowed(start, len(text)), _hints_host(flag.group("flag"))))
            elif flag and number + 1 < len(items) and not str(items[number + 1]).startswith("-"):
                following = Location(workload.path, workload.doc_index, f"{container.path}.{field}[{number + 1}]")
                texts.append(_Text(Channel.argument, flag.group("flag"), Form.flag, str(items[number + 1]), following,
                                   _hints_host(flag.group("flag"))))
            elif any(c.isspace() for c in text):
                texts.append(_Text(Channel.argument, f"{field}[{number}]", Form.shell, text, location, False, free=True))
    return texts


def _file_texts(objects: ObjectSet, workload: Resource, container: ContainerView) -> list[_Text]:
    spec = pod_spec(workload) or {}
    mounted = {m.get("name") for m in container.body.get("volumeMounts") or [] if isinstance(m, Mapping)}
    texts = []
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, Mapping) or volume.get("name") not in mounted:
            continue
        sources = [volume] + list(dig(volume, "projected", "sources") or [])
        for source in sources:
            for kind, field, name_key in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
                name = dig(source, field, name_key) or (dig(source, field, "name") if field == "secret" else None)
                values = objects.config(kind, str(name), workload.namespace) if name else None
                wanted = {i.get("key") for i in dig(source, field, "items") or [] if isinstance(i, Mapping)}
                for key, value in (values or {}).items():
                    if not wanted or key in wanted:
                        texts.append(_Text(Channel.file, f"{name}/{key}", Form.mounted_file, value.text, value.location, False, free=True))
    return texts


def _port(endpoint: Endpoint, item: _Text, env: Mapping[str, _Text], arguments: list[_Text]) -> tuple[int | None, Location | None]:
    """The port dialled and where it is written: in the text, in a sibling, or implied by the scheme."""
    if endpoint.port is not None and endpoint.port_span is not None:
        return endpoint.port, item.location.narrowed(*endpoint.port_span)
    stem = _STEM.match(item.name.lstrip("-"))
    if stem is not None and not item.free:
        siblings = env if item.channel is Channel.env else {a.name.lstrip("-"): a for a in arguments}
        for suffix in ("PORT", "port"):
            sibling = siblings.get(f"{stem['stem']}{stem['sep']}{suffix}")
            if sibling is not None and sibling.text.strip().isdigit():
                return int(sibling.text.strip()), sibling.location
    return endpoint.dialled_port, None


# --- resolving a host ------------------------------------------------------------------------

def _resolve(objects: ObjectSet, client: Resource, connection: Connection) -> Connection:
    service, pod, problem = resolve_host(objects, connection.endpoint.host, client.namespace)
    if service is None:
        return replace(connection, problem=problem)
    headless = is_headless(service.body)
    ports = [ServicePort(int(p["port"]), p.get("name"), p.get("targetPort")) for p in dig(service.body, "spec", "ports") or []
             if isinstance(p, Mapping) and isinstance(p.get("port"), int)]
    selected = objects.selected_by(service)
    dialled = connection.port
    chosen = next((p for p in ports if p.port == dialled), None) if dialled is not None else (ports[0] if len(ports) == 1 else None)
    target = Target(service.ref, headless, pod, chosen, tuple(w.ref for w in selected))
    if dialled is not None and chosen is None:
        pod_ports = {int(p["containerPort"]) for w in selected for c in containers(w) for p in c.body.get("ports") or []
                     if isinstance(p, Mapping) and isinstance(p.get("containerPort"), int)}
        if not (headless and dialled in pod_ports):
            offered = ", ".join(str(p.port) for p in ports) or "no port"
            return replace(connection, target=target, problem=f"port {dialled} is not a port of Service/{service.name} ({offered})")
    return replace(connection, target=target)
