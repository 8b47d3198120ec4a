"""`fixed_when` checks, evaluated on a tree: semantic, so *any* correct fix passes, not only a revert.

Each check answers pass or fail with a reason a person can act on. Roles are bound on the
healthy tree (before the fault) and looked up again by kind/name in the tree being judged,
so a check follows the same objects through the team's later commits. Every check is
decided from the tree (and, for behavioural kinds, by running it): none passes for lack of
data. Live state (ArgoCD health, the team's probe) decides when a fix *recovered*, in
bot/deploy, never whether a commit is a fix.

Kinds in other modules (tfchecks.py, behaviour.py) are registered in `_EVALUATE` below.
Behavioural kinds are slow: an implicit or explicit `all` runs them only once every cheap
check of it holds (the text and manifest checks are their pre-filter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.base.yamlguard import read_bounded
from bot.catalog import behaviour
from bot.catalog.behaviourspec import BEHAVIOURAL, Acceptance, Browser, TeamTests
from bot.catalog.binding import CheckContext, CheckFailed
from bot.catalog.binding import RoleBinding as RoleBinding  # re-exported: the injector and detector bind through here
from bot.catalog.faultspec import (
    AllOf,
    AnyOf,
    Check,
    EnvHostResolves,
    IngressRoutes,
    NetworkAllows,
    ProbesTargetPorts,
    RefsResolve,
    Replicas,
    ServiceSelects,
    ServiceTargetPort,
    Text,
    YamlValue,
)
from bot.catalog.globs import files_matching
from bot.catalog.manifests import Resource, dig
from bot.catalog.netpol import flow_allowed
from bot.catalog.roles import Role, service_address
from bot.catalog.terraformspec import DnsRecord, TerraformAllows
from bot.catalog.traffic_checks import TRAFFIC_CHECKS, kubernetes_accepts, network_source, replicas_of
from bot.catalog.yamlpath import get_values, parse_path
from bot.errors import UnsafeYaml


class Status(StrEnum):
    passed = "pass"
    failed = "fail"


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check on one tree."""

    name: str
    status: Status
    reason: str
    children: tuple[CheckResult, ...] = ()

    @property
    def passed(self) -> bool:
        """Did the check hold?"""
        return self.status is Status.passed


_Fail = CheckFailed  # the checks below raise it with their reason


def evaluate(checks: list[Check], context: CheckContext) -> list[CheckResult]:
    """Evaluate every check (an implicit `all`), after the implicit `kubernetes_accepts` when
    the fault binds Kubernetes objects (a tree Kubernetes refuses fixes nothing); behavioural
    checks run only once every cheap one holds."""
    implicit = [_accepts(context)] if context.binding.refs else []
    return [*implicit, *_all(checks, context, [r for r in implicit if not r.passed])]


def _accepts(context: CheckContext) -> CheckResult:
    accepted, reason = kubernetes_accepts(context)
    return CheckResult("kubernetes_accepts", Status.passed if accepted else Status.failed, reason)


def is_behavioural(check: Check) -> bool:
    """Does judging this check run code (directly or inside an all/any)?"""
    if isinstance(check, (AllOf, AnyOf)):
        return any(is_behavioural(c) for c in check.checks)
    return isinstance(check, BEHAVIOURAL)


def _all(checks: list[Check], context: CheckContext, failing: list[CheckResult] | None = None) -> list[CheckResult]:
    results: dict[int, CheckResult] = {}
    for number, check in enumerate(checks):
        if not is_behavioural(check):
            results[number] = evaluate_one(check, context)
    failing = [*(failing or []), *(r for r in results.values() if not r.passed)]
    for number, check in enumerate(checks):
        if number in results:
            continue
        if failing:
            results[number] = CheckResult(describe(check), Status.failed, f"not run: {failing[0].name} already fails")
        else:
            results[number] = evaluate_one(check, context)
            if not results[number].passed:
                failing.append(results[number])
    return [results[n] for n in range(len(checks))]


def all_pass(results: list[CheckResult]) -> bool:
    """True when no result failed."""
    return all(result.passed for result in results)


def evaluate_one(check: Check, context: CheckContext) -> CheckResult:
    """One check's verdict, never raising for a failing tree."""
    name = describe(check)
    if isinstance(check, AllOf):
        children = tuple(_all(check.checks, context))
        ok = all(c.passed for c in children)
        reason = "all hold" if ok else "; ".join(c.reason for c in children if not c.passed)
        return CheckResult(name, Status.passed if ok else Status.failed, reason, children)
    if isinstance(check, AnyOf):
        # Cheap alternatives first; a behavioural one runs only if none of them holds.
        order = sorted(range(len(check.checks)), key=lambda n: is_behavioural(check.checks[n]))
        found: dict[int, CheckResult] = {}
        for number in order:
            found[number] = evaluate_one(check.checks[number], context)
            if found[number].passed:
                break
        children = tuple(found[n] for n in sorted(found))
        held = next((c for c in children if c.passed), None)
        reason = held.reason if held else "none holds: " + "; ".join(c.reason for c in children)
        return CheckResult(name, Status.passed if held else Status.failed, reason, children)
    try:
        reason = _EVALUATE[type(check)](check, context)
    except _Fail as failure:
        return CheckResult(name, Status.failed, str(failure))
    return CheckResult(name, Status.passed, reason)


def describe(check: Check) -> str:
    """A short name for a check: `service_selects(frontend_service)`."""
    args = [str(getattr(check, a)) for a in ("role", "to_role", "env", "path", "pattern", "file", "to", "name", "frontend")
            if getattr(check, a, None) is not None]
    return f"{check.check}({', '.join(args)})" if args else check.check


def reads(checks: list[Check], context: CheckContext) -> set[str]:
    """Path globs the checks read: a commit touching none of them cannot change a verdict."""
    globs: set[str] = set()
    for check in checks:
        if isinstance(check, (AllOf, AnyOf)):
            globs |= reads(check.checks, context)
        elif isinstance(check, Text):
            base = check.path if check.path is not None else context.binding.directories.get(check.role, "")  # type: ignore[arg-type]
            globs.add(f"{base.rstrip('/')}/{check.glob}" if base else check.glob)
            if check.path is not None:
                globs.add(check.path)
        elif isinstance(check, (TerraformAllows, DnsRecord, TeamTests, Acceptance, Browser)):
            for role in _folder_roles(check):
                folder = context.binding.directories.get(role)
                globs.add(f"{folder.rstrip('/')}/*" if folder else "*")
            if isinstance(check, DnsRecord) and check.ingress is not None:
                globs |= _manifest_globs(context)
        else:
            globs |= _manifest_globs(context)
    return globs


def _manifest_globs(context: CheckContext) -> set[str]:
    # Any YAML anywhere (a fix may add a manifest the healthy tree did not have), and the
    # files kustomize generators read (env files, mounted scripts): connections live there too.
    generated = {e.location.path for g in context.index.generated for e in g.entries}
    return {"*.yaml", "*.yml", "*Kustomization", *context.index.kustomizations, *generated, *context.index.sources}


def _folder_roles(check: TerraformAllows | DnsRecord | TeamTests | Acceptance | Browser) -> list[Role]:
    if isinstance(check, Acceptance):
        return [*check.roles, check.serve.role]
    if isinstance(check, Browser):
        return [check.frontend, check.serve.role]
    return [check.role]


# --- Kubernetes semantics --------------------------------------------------------------

def _selector(service: Resource) -> Mapping[str, Any]:
    selector = dig(service.body, "spec", "selector")
    return selector if isinstance(selector, Mapping) else {}


def _container_ports(workload: Resource) -> list[Mapping[str, Any]]:
    return [p for c in workload.containers for p in (c.get("ports") or []) if isinstance(p, Mapping)]


def _port_matches(target: Any, ports: list[Mapping[str, Any]]) -> bool:
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return any(p.get("containerPort") == int(target) for p in ports)
    return any(p.get("name") == target for p in ports)


def _ingress_routes(check: IngressRoutes, ctx: CheckContext) -> str:
    ingress = ctx.resource(check.role)
    backends = []
    if (default := dig(ingress.body, "spec", "defaultBackend", "service")) is not None:
        backends.append(default)
    for rule in dig(ingress.body, "spec", "rules") or []:
        for item in dig(rule, "http", "paths") or []:
            backends.append(dig(item, "backend", "service"))
    if not backends:
        raise _Fail(f"Ingress/{ingress.name} routes to no Service")
    for backend in backends:
        name, port = dig(backend, "name"), dig(backend, "port") or {}
        services = [s for s in ctx.index.in_namespace(ingress.namespace, "Service") if s.name == name]
        if not services:
            raise _Fail(f"Ingress/{ingress.name} routes to Service {name!r}, which does not exist")
        ports = dig(services[0].body, "spec", "ports") or []
        wanted = port.get("number", port.get("name"))
        if not any(p.get("port") == wanted or p.get("name") == wanted for p in ports):
            raise _Fail(f"Ingress/{ingress.name} uses port {wanted!r} of Service/{name}, which has no such port")
    return f"Ingress/{ingress.name} routes to existing Services and ports"


def _service_selects(check: ServiceSelects, ctx: CheckContext) -> str:
    service = ctx.resource(check.role)
    selected = ctx.index.workloads_selected_by(_selector(service), service.namespace)
    if not selected:
        raise _Fail(f"Service/{service.name} selector {dict(_selector(service))} matches no workload's pods")
    if check.workload_role is not None:
        wanted = ctx.resource(check.workload_role)
        if wanted not in selected:
            raise _Fail(f"Service/{service.name} does not select the pods of {wanted.kind}/{wanted.name}")
    return f"Service/{service.name} selects {', '.join(w.kind + '/' + w.name for w in selected)}"


def _service_target_port(check: ServiceTargetPort, ctx: CheckContext) -> str:
    service = ctx.resource(check.role)
    selected = ctx.index.workloads_selected_by(_selector(service), service.namespace)
    if not selected:
        raise _Fail(f"Service/{service.name} selects no pods, so no targetPort can match")
    ports = [p for w in selected for p in _container_ports(w)]
    for port in dig(service.body, "spec", "ports") or []:
        target = port.get("targetPort", port.get("port"))
        if not _port_matches(target, ports):
            raise _Fail(f"Service/{service.name} targetPort {target!r} matches no containerPort of its pods")
    return f"every port of Service/{service.name} reaches a containerPort"


def _env_host_resolves(check: EnvHostResolves, ctx: CheckContext) -> str:
    workload = ctx.resource(check.role)
    values = [v for c in workload.containers if (v := _env(c, check.env)) is not None]
    if not values:
        raise _Fail(f"{workload.kind}/{workload.name} sets no {check.env}")
    host, namespace = service_address(values[0])
    namespace = namespace or workload.namespace
    services = [s for s in ctx.index.in_namespace(namespace, "Service") if s.name == host]
    if not services:
        raise _Fail(f"{check.env}={values[0]!r} of {workload.kind}/{workload.name} names no Service in namespace {namespace}")
    service = services[0]
    if check.workload_role is not None:
        wanted = ctx.resource(check.workload_role)
        if wanted not in ctx.index.workloads_selected_by(_selector(service), service.namespace):
            raise _Fail(f"{check.env} points at Service/{host}, which does not select {wanted.kind}/{wanted.name}")
    if check.port_env is not None:
        port = next((p for c in workload.containers if (p := _env(c, check.port_env)) is not None), None)
        service_ports = [str(p.get("port")) for p in dig(service.body, "spec", "ports") or []]
        if port is not None and str(port) not in service_ports:
            raise _Fail(f"{check.port_env}={port} but Service/{host} listens on {', '.join(service_ports)}")
    return f"{check.env} resolves to Service/{host}"


def _env(container: Mapping[str, Any], name: str) -> str | None:
    for item in container.get("env") or []:
        if isinstance(item, Mapping) and item.get("name") == name and "value" in item:
            return str(item["value"])
    return None


def _keys(resource: Resource) -> set[str]:
    return {str(k) for part in ("data", "stringData", "binaryData") for k in (resource.body.get(part) or {})}


def _refs_resolve(check: RefsResolve, ctx: CheckContext) -> str:
    workload = ctx.resource(check.role, written=True)  # what the next pod will be made from
    count = 0
    pod = dig(workload.body, "spec", "template", "spec") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for container in containers:
        for item in container.get("env") or []:
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                ref = dig(item, "valueFrom", key)
                if isinstance(ref, Mapping) and not ref.get("optional"):
                    count += 1
                    _require(ctx, workload, kind, ref.get("name"), ref.get("key"), item.get("name"))
        for source in container.get("envFrom") or []:
            for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                ref = source.get(key)
                if isinstance(ref, Mapping) and not ref.get("optional"):
                    count += 1
                    _require(ctx, workload, kind, ref.get("name"), None, "envFrom")
    return f"all {count} Secret/ConfigMap references of {workload.kind}/{workload.name} resolve"


def _require(ctx: CheckContext, workload: Resource, kind: str, name: Any, key: Any, env: Any) -> None:
    found = [r for r in ctx.index.in_namespace(workload.namespace, kind) if r.name == name]
    if not found:
        raise _Fail(f"{env} of {workload.kind}/{workload.name} reads {kind} {name!r}, which does not exist")
    if key is not None and str(key) not in _keys(found[0]):
        raise _Fail(f"{env} of {workload.kind}/{workload.name} reads key {key!r} of {kind}/{name}, which has no such key")


def _network_allows(check: NetworkAllows, ctx: CheckContext) -> str:
    target = ctx.resource(check.to_role)
    source, from_namespace, from_address = network_source(check, ctx)
    port = check.port
    if check.through is not None:
        port = _pod_port_through(ctx, check.through, target)
    verdict = flow_allowed(
        ctx.index.of_kind("NetworkPolicy"),
        to_pod=(target.namespace, target.pod_labels, _container_ports(target)),
        from_pod=(source.namespace, source.pod_labels, _container_ports(source)) if source else None,
        from_namespace=from_namespace,
        from_address=from_address,
        port=port,
    )
    if not verdict.allowed:
        raise _Fail(verdict.reason)
    return verdict.reason


def _pod_port_through(ctx: CheckContext, service_role: Any, target: Resource) -> Any:
    """The pod port traffic through a Service reaches: the targetPort of the port its clients dial."""
    service = ctx.resource(service_role)
    ports = [p for p in dig(service.body, "spec", "ports") or [] if isinstance(p, Mapping)]
    # The database's clients dial the port bound with their connection; the frontend's, its front door.
    dialled = ctx.binding.ports.get(Role.db_connection if service_role is Role.db_service else service_role)
    entry = next((p for p in ports if p.get("port") == dialled), ports[0] if ports else {})
    return entry.get("targetPort", entry.get("port"))


def _replicas(check: Replicas, ctx: CheckContext) -> str:
    workload = ctx.resource(check.role)
    replicas, why = replicas_of(workload, ctx.index)
    if not isinstance(replicas, int) or replicas < check.min:
        raise _Fail(f"{workload.kind}/{workload.name} has replicas: {replicas}{why} (needs at least {check.min})")
    return f"{workload.kind}/{workload.name} runs {replicas} replica(s){why}"


def _probes_target_ports(check: ProbesTargetPorts, ctx: CheckContext) -> str:
    workload = ctx.resource(check.role, written=True)  # a broken probe stalls the next rollout
    for container in workload.containers:
        ports = [p for p in container.get("ports") or [] if isinstance(p, Mapping)]
        for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(probe_name) or {}
            for handler in ("httpGet", "tcpSocket", "grpc"):
                port = dig(probe, handler, "port")
                if port is not None and not _port_matches(port, ports):
                    raise _Fail(f"{probe_name} of container {container.get('name')} uses port {port!r}, which it does not declare")
    return f"every probe of {workload.kind}/{workload.name} targets a declared port"


def _yaml_value(check: YamlValue, ctx: CheckContext) -> str:
    resource = ctx.resource(check.role)
    values = get_values(dict(resource.body), parse_path(check.path))
    value = values[0] if len(values) == 1 else (values or None)
    shown = f"{resource.kind}/{resource.name} {check.path} = {value!r}"
    if check.equals is not None and value != check.equals:
        raise _Fail(f"{shown}, expected {check.equals!r}")
    if check.not_equals is not None and value == check.not_equals:
        raise _Fail(f"{shown}, must not be {check.not_equals!r}")
    if check.one_of is not None and value not in check.one_of:
        raise _Fail(f"{shown}, expected one of {check.one_of!r}")
    if check.not_one_of is not None and value in check.not_one_of:
        raise _Fail(f"{shown}, must not be one of {check.not_one_of!r}")
    return shown


def _text(check: Text, ctx: CheckContext) -> str:
    base = check.path if check.path is not None else ctx.directory(check.role)  # type: ignore[arg-type]
    root = ctx.tree / base
    if not root.resolve().is_relative_to(ctx.tree.resolve()):
        raise _Fail(f"{base} is outside the repository; nothing there is read")
    files = files_matching(root, check.glob)
    pattern = re.compile(check.pattern, re.MULTILINE)
    hits = []
    for file in files:
        try:
            if pattern.search(read_bounded(file)):
                hits.append(file.relative_to(ctx.tree).as_posix())
        except (UnicodeDecodeError, UnsafeYaml):
            continue  # binary or huge: no text to match
    where = f"{base}/{check.glob}" if root.is_dir() else base
    if check.present and not hits:
        raise _Fail(f"/{check.pattern}/ is not found in {where}")
    if not check.present and hits:
        raise _Fail(f"/{check.pattern}/ is still in {', '.join(hits)}")
    return f"/{check.pattern}/ {'found in ' + ', '.join(hits) if hits else 'absent from ' + where}"


def _terraform_allows(check: TerraformAllows, context: CheckContext) -> str:
    # tfchecks (with its HCL reader) is imported by a Terraform check only: a Kubernetes
    # fault's `faultbot inject` need not pay a tenth of a second for it (issue 17, P1-cli).
    from bot.catalog import tfchecks

    return tfchecks.terraform_allows(check, context)


def _dns_record(check: DnsRecord, context: CheckContext) -> str:
    from bot.catalog import tfchecks

    return tfchecks.dns_record(check, context)


_EVALUATE: dict[type, Any] = {
    IngressRoutes: _ingress_routes,
    ServiceSelects: _service_selects,
    ServiceTargetPort: _service_target_port,
    EnvHostResolves: _env_host_resolves,
    RefsResolve: _refs_resolve,
    NetworkAllows: _network_allows,
    Replicas: _replicas,
    ProbesTargetPorts: _probes_target_ports,
    YamlValue: _yaml_value,
    Text: _text,
    **TRAFFIC_CHECKS,
    TerraformAllows: _terraform_allows,
    DnsRecord: _dns_record,
    TeamTests: behaviour.tests_pass,
    Acceptance: behaviour.acceptance,
    Browser: behaviour.browser,
}
