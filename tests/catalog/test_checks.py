"""Each kind of check passes on the healthy chat-app and fails, with a useful reason, on a
tree broken the way a team might break it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.catalog.checks import CheckContext, RoleBinding, Status, evaluate_one
from bot.catalog.faultspec import Check
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from tests.conftest import CHAT_APP

CHECK = TypeAdapter(Check)


def binding() -> RoleBinding:
    roles = Roles(ManifestIndex.scan(CHAT_APP))
    return RoleBinding.from_targets(roles.resolve(r) for r in Role)


def edit(tree: Path, path: str, old: str, new: str) -> None:
    file = tree / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new, 1))


CASES: list[tuple[dict[str, object], Callable[[Path], None], str]] = [
    ({"check": "ingress_routes"}, lambda t: edit(t, "k8s/ingress.yaml", "name: http", "name: web"),
     "uses port 'web' of Service/frontend, which has no such port"),
    ({"check": "service_selects", "role": "db_service", "workload_role": "db_workload"},
     lambda t: edit(t, "k8s/postgres.yaml", "  selector:\n    app: postgres", "  selector:\n    app: backend"),
     "does not select the pods of StatefulSet/postgres"),
    ({"check": "service_target_port", "role": "backend_service"},
     lambda t: edit(t, "k8s/backend.yaml", "targetPort: http", "targetPort: 8080"),
     "targetPort 8080 matches no containerPort"),
    ({"check": "env_host_resolves", "role": "backend_workload", "env": "DB_HOST", "port_env": "DB_PORT"},
     lambda t: edit(t, "k8s/backend.yaml", "value: postgres\n", "value: postgres.other-ns.svc.cluster.local\n"),
     "names no Service in namespace other-ns"),
    ({"check": "env_host_resolves", "role": "backend_workload", "env": "DB_HOST", "port_env": "DB_PORT"},
     lambda t: edit(t, "k8s/backend.yaml", 'value: "5432"', 'value: "6432"'),
     "DB_PORT=6432 but Service/postgres listens on 5432"),
    ({"check": "refs_resolve", "role": "backend_workload"},
     lambda t: edit(t, "k8s/configmap.yaml", "db_user:", "database_user:"),
     "reads key 'db_user' of ConfigMap/backend-config, which has no such key"),
    ({"check": "network_allows", "from_role": "frontend_workload", "to_role": "backend_workload", "port": 8000},
     lambda t: edit(t, "k8s/networkpolicy.yaml", "port: 8000", "port: 8001"),
     "no rule allows this flow"),
    ({"check": "network_allows", "from_namespace": "ingress-nginx", "to_role": "frontend_workload", "port": 8080},
     lambda t: edit(t, "k8s/networkpolicy.yaml", "kubernetes.io/metadata.name: ingress-nginx", "kubernetes.io/metadata.name: ingress"),
     "no rule allows this flow"),
    ({"check": "replicas", "role": "frontend_workload"},
     lambda t: edit(t, "k8s/frontend.yaml", "replicas: 2", "replicas: 0"), "has replicas: 0"),
    ({"check": "probes_target_ports", "role": "backend_workload"},
     lambda t: edit(t, "k8s/backend.yaml", "path: /healthz\n              port: http", "path: /healthz\n              port: metrics"),
     "uses port 'metrics', which it does not declare"),
    ({"check": "yaml_value", "role": "ingress", "path": "spec.ingressClassName", "equals": "nginx"},
     lambda t: edit(t, "k8s/ingress.yaml", "ingressClassName: nginx", "ingressClassName: traefik"),
     "expected 'nginx'"),
    ({"check": "text", "role": "frontend_source", "glob": "*.js", "pattern": r"\.innerHTML\s*=", "present": False},
     lambda t: edit(t, "frontend/app.js", "text.textContent = message.text", "text.innerHTML = message.text"),
     "is still in frontend/app.js"),
    ({"check": "any", "checks": [{"check": "replicas", "role": "frontend_workload", "min": 5},
                                  {"check": "replicas", "role": "backend_workload", "min": 5}]},
     lambda t: None, "none holds"),
]


@pytest.mark.parametrize(("spec", "breakage", "reason"), CASES, ids=[f"{c[0]['check']}-{i}" for i, c in enumerate(CASES)])
def test_check_passes_healthy_and_fails_broken(tmp_path: Path, spec: dict[str, object], breakage: Callable[[Path], None], reason: str) -> None:
    check = CHECK.validate_python(spec)
    bound = binding()
    if spec["check"] != "any":
        assert evaluate_one(check, CheckContext(CHAT_APP, bound)).status is Status.passed
    tree = tmp_path / "tree"
    shutil.copytree(CHAT_APP, tree)
    breakage(tree)
    result = evaluate_one(check, CheckContext(tree, bound))
    assert result.status is Status.failed
    assert reason in result.reason, result.reason


@pytest.mark.parametrize("kind", ["probe", "argocd_healthy"])
def test_live_conditions_are_not_checks(kind: str) -> None:
    """They passed for lack of data; live state decides recovery (bot/deploy), never a fix."""
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        CHECK.validate_python({"check": kind})


@pytest.mark.parametrize("kind", ["tests", "browser"])
def test_a_behavioural_check_without_a_sandbox_fails(kind: str) -> None:
    result = evaluate_one(CHECK.validate_python({"check": kind}), CheckContext(CHAT_APP, binding()))
    assert result.status is Status.failed and "needs a sandbox" in result.reason


def test_a_renamed_object_fails_its_role(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(CHAT_APP, tree)
    edit(tree, "k8s/frontend-service.yaml", "name: frontend\n", "name: web\n")
    check = CHECK.validate_python({"check": "service_selects", "role": "frontend_service"})
    result = evaluate_one(check, CheckContext(tree, binding()))
    assert result.status is Status.failed and "Service/frontend (role frontend_service) no longer exists" in result.reason


def test_network_semantics_protocol_and_empty_pod_selector() -> None:
    from bot.catalog.netpol import flow_allowed

    def policy(rule: dict[str, object]) -> object:
        from bot.catalog.manifests import Resource

        body = {"kind": "NetworkPolicy", "metadata": {"name": "p"},
                "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"], "ingress": [rule]}}
        return Resource("NetworkPolicy", "p", "chat", "k8s/p.yaml", 0, body)

    db = ("chat", {"app": "db"}, [{"name": "pg", "containerPort": 5432}])
    api = ("chat", {"app": "api"}, [])
    udp_only = policy({"from": [{"podSelector": {}}], "ports": [{"port": 5432, "protocol": "UDP"}]})
    tcp = policy({"from": [{"podSelector": {}}], "ports": [{"port": 5432}]})
    assert not flow_allowed([udp_only], to_pod=db, from_pod=api, port=5432).allowed  # type: ignore[list-item]
    assert flow_allowed([tcp], to_pod=db, from_pod=api, port="pg").allowed  # type: ignore[list-item]
    from_ns = policy({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                                "podSelector": {}}]})
    assert flow_allowed([from_ns], to_pod=db, from_namespace="ingress-nginx", port=5432).allowed  # type: ignore[list-item]
    assert not flow_allowed([from_ns], to_pod=db, from_namespace="default", port=5432).allowed  # type: ignore[list-item]
