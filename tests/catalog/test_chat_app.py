"""The example team repository (examples/chat-app) is valid and internally consistent.

faultbot breaks copies of this repository on purpose, so it must start healthy:
every manifest parses, every reference between objects resolves, and the pieces
outside Kubernetes (nginx, Dockerfiles, CI, ArgoCD, Terraform) agree with it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

CHAT_APP = Path(__file__).resolve().parents[2] / "examples" / "chat-app"
K8S_DIR = CHAT_APP / "k8s"
NAMESPACE = "chat"
CLUSTER_SCOPED_KINDS = frozenset({"Namespace"})
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})

Manifest = dict[str, Any]


def load_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document in `path`."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in YAML(typ="safe").load_all(stream) if doc is not None]


def manifest_files() -> list[Path]:
    """The Kubernetes manifests in k8s/ (everything but the kustomization)."""
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def load_objects() -> list[Manifest]:
    """Every Kubernetes object in k8s/."""
    return [doc for path in manifest_files() for doc in load_documents(path)]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest | None:
    """The object of `kind` called `name`, if there is one."""
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


def selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """True when a non-empty equality selector matches `labels`."""
    if not selector:
        return False
    return all(labels.get(key) == value for key, value in selector.items())


def workloads(objects: list[Manifest]) -> list[Manifest]:
    """The Deployments and StatefulSets."""
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_labels(workload: Manifest) -> dict[str, str]:
    """Labels on the pods a workload creates."""
    return dict(workload["spec"]["template"]["metadata"].get("labels") or {})


def containers(workload: Manifest) -> list[Manifest]:
    """The containers of a workload's pod template."""
    return list(workload["spec"]["template"]["spec"]["containers"])


def selected_workloads(
    selector: Mapping[str, str] | None, objects: list[Manifest]
) -> list[Manifest]:
    """Workloads whose pods `selector` matches."""
    return [w for w in workloads(objects) if selector_matches(selector, pod_labels(w))]


def target_port_resolves(target_port: str | int, workload: Manifest) -> bool:
    """True when a Service targetPort names or numbers a containerPort of `workload`."""
    for container in containers(workload):
        for port in container.get("ports") or []:
            if target_port in (port.get("name"), port["containerPort"]):
                return True
    return False


def env_vars(objects: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """(workload name, env entry) for every env entry of every container."""
    for workload in workloads(objects):
        for container in containers(workload):
            for entry in container.get("env") or []:
                yield workload["metadata"]["name"], entry


def env_value(workload: Manifest, name: str) -> str | None:
    """The literal value of env var `name` in `workload`'s first container."""
    for entry in containers(workload)[0].get("env") or []:
        if entry["name"] == name:
            return entry.get("value")
    return None


def key_ref_resolves(objects: list[Manifest], kind: str, name: str, key: str) -> bool:
    """True when ConfigMap/Secret `name` exists and has `key`."""
    obj = find(objects, kind, name)
    if obj is None:
        return False
    return key in (obj.get("data") or {}) or key in (obj.get("stringData") or {})


@pytest.fixture(scope="module")
def objects() -> list[Manifest]:
    """All objects in k8s/, loaded once."""
    return load_objects()


YAML_FILES = sorted(
    path
    for folder in ("k8s", "argocd", ".github")
    for path in (CHAT_APP / folder).rglob("*")
    if path.suffix in {".yaml", ".yml"}
)


def test_the_example_has_the_expected_layout() -> None:
    expected = [
        "README.md",
        "frontend/index.html",
        "frontend/app.js",
        "frontend/style.css",
        "frontend/nginx.conf",
        "frontend/Dockerfile",
        "backend/chat/app.py",
        "backend/chat/store.py",
        "backend/chat/config.py",
        "backend/chat/__main__.py",
        "backend/requirements.txt",
        "backend/Dockerfile",
        "backend/tests/conftest.py",
        "backend/tests/test_app.py",
        "terraform/main.tf",
        "terraform/variables.tf",
        "terraform/outputs.tf",
        "terraform/versions.tf",
        ".github/workflows/build.yaml",
        "argocd/application.yaml",
    ]
    assert [name for name in expected if not (CHAT_APP / name).is_file()] == []
    # No __init__.py: it would clash with the project's own tests package.
    assert not (CHAT_APP / "backend" / "tests" / "__init__.py").exists()
    assert len(YAML_FILES) >= 12


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CHAT_APP)))
def test_yaml_file_parses_into_mappings(path: Path) -> None:
    documents = load_documents(path)
    assert documents, f"{path.name} holds no YAML document"
    assert all(isinstance(doc, dict) for doc in documents)


def test_every_object_has_identity_and_namespace(objects: list[Manifest]) -> None:
    assert len(objects) == 14
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind"), obj
        name = obj["metadata"]["name"]
        assert isinstance(name, str) and name
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in obj["metadata"], name
        else:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']}/{name}"
    names = [(obj["kind"], obj["metadata"]["name"]) for obj in objects]
    assert len(names) == len(set(names)), "duplicate objects"


def test_workloads_select_their_own_pods(objects: list[Manifest]) -> None:
    assert {w["metadata"]["name"] for w in workloads(objects)} == {
        "frontend",
        "backend",
        "postgres",
    }
    for workload in workloads(objects):
        match_labels = workload["spec"]["selector"]["matchLabels"]
        assert selector_matches(match_labels, pod_labels(workload)), workload["metadata"]["name"]
        assert containers(workload)
        for container in containers(workload):
            assert container["name"] and container["image"]


def test_statefulset_governing_service_exists(objects: list[Manifest]) -> None:
    for statefulset in (obj for obj in objects if obj["kind"] == "StatefulSet"):
        service_name = statefulset["spec"]["serviceName"]
        assert find(objects, "Service", service_name) is not None
        claims = statefulset["spec"]["volumeClaimTemplates"]
        mounts = {m["name"] for c in containers(statefulset) for m in c.get("volumeMounts") or []}
        assert {claim["metadata"]["name"] for claim in claims} <= mounts


def test_services_have_ports_and_select_a_workload(objects: list[Manifest]) -> None:
    services = [obj for obj in objects if obj["kind"] == "Service"]
    assert {s["metadata"]["name"] for s in services} == {"frontend", "backend", "postgres"}
    for service in services:
        ports = service["spec"]["ports"]
        assert ports and all(isinstance(port["port"], int) for port in ports)
        selected = selected_workloads(service["spec"]["selector"], objects)
        assert selected, f"Service {service['metadata']['name']} selects no pods"
        for port in ports:
            target = port.get("targetPort", port["port"])
            assert all(target_port_resolves(target, w) for w in selected), port


def test_ingress_routes_to_the_frontend_service_http_port(objects: list[Manifest]) -> None:
    ingress = find(objects, "Ingress", "chat")
    assert ingress is not None
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backends = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] in {"Prefix", "Exact", "ImplementationSpecific"}
            service_ref = path["backend"]["service"]
            assert service_ref["name"] and (
                "name" in service_ref["port"] or "number" in service_ref["port"]
            )
            backends.append((rule["host"], service_ref["name"], service_ref["port"]))
    assert backends == [("chat.example.com", "frontend", {"name": "http"})]
    service = find(objects, "Service", "frontend")
    assert service is not None
    assert "http" in {port.get("name") for port in service["spec"]["ports"]}


def test_network_policies_select_existing_pods(objects: list[Manifest]) -> None:
    policies = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "NetworkPolicy"}
    assert set(policies) == {
        "default-deny",
        "allow-ingress-to-frontend",
        "allow-frontend-to-backend",
        "allow-backend-to-db",
    }
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    for name, policy in policies.items():
        assert "podSelector" in policy["spec"], name
        assert policy["spec"]["policyTypes"] == ["Ingress"], name
        if name == "default-deny":
            continue
        target = policy["spec"]["podSelector"]["matchLabels"]
        assert selected_workloads(target, objects), f"{name} selects no pods"
        for rule in policy["spec"]["ingress"]:
            for peer in rule["from"]:
                if "podSelector" in peer:
                    assert selected_workloads(peer["podSelector"]["matchLabels"], objects), name


def test_the_allowed_chain_uses_the_real_container_ports(objects: list[Manifest]) -> None:
    expected = {
        "allow-ingress-to-frontend": ("frontend", 8080),
        "allow-frontend-to-backend": ("backend", 8000),
        "allow-backend-to-db": ("postgres", 5432),
    }
    for policy_name, (workload_name, port_number) in expected.items():
        policy = find(objects, "NetworkPolicy", policy_name)
        workload = next(w for w in workloads(objects) if w["metadata"]["name"] == workload_name)
        assert policy is not None
        assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [port_number]
        assert target_port_resolves(port_number, workload)


def test_configmap_and_secret_values_are_strings(objects: list[Manifest]) -> None:
    stores = [obj for obj in objects if obj["kind"] in {"ConfigMap", "Secret"}]
    assert {obj["metadata"]["name"] for obj in stores} == {"backend-config", "postgres-credentials"}
    for obj in stores:
        entries = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
        assert entries, obj["metadata"]["name"]
        for key, value in entries.items():
            assert isinstance(key, str) and isinstance(value, str), (key, value)


def test_every_key_ref_resolves(objects: list[Manifest]) -> None:
    refs = []
    for workload_name, entry in env_vars(objects):
        source = entry.get("valueFrom") or {}
        for ref_field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if ref_field in source:
                ref = source[ref_field]
                refs.append((workload_name, entry["name"]))
                assert key_ref_resolves(objects, kind, ref["name"], ref["key"]), (
                    workload_name,
                    ref,
                )
    assert ("backend", "DB_PASSWORD") in refs and ("postgres", "POSTGRES_PASSWORD") in refs


def test_backend_database_env_points_at_the_postgres_service(objects: list[Manifest]) -> None:
    backend = find(objects, "Deployment", "backend")
    assert backend is not None
    env_names = [entry["name"] for entry in containers(backend)[0]["env"]]
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"} <= set(env_names)
    db_host = env_value(backend, "DB_HOST")
    assert db_host == "postgres"
    service = find(objects, "Service", db_host)
    assert service is not None
    assert env_value(backend, "DB_PORT") == str(service["spec"]["ports"][0]["port"])


def test_the_checks_fail_on_broken_references(objects: list[Manifest]) -> None:
    """The helpers above can say no, so the tests that use them can fail."""
    frontend = find(objects, "Deployment", "frontend")
    assert frontend is not None
    assert not selector_matches({"app": "frontend-v2"}, pod_labels(frontend))
    assert not selector_matches({}, pod_labels(frontend))
    assert selected_workloads({"app": "frontend-v2"}, objects) == []
    assert not target_port_resolves("web", frontend)
    assert not target_port_resolves(80, frontend)
    assert not key_ref_resolves(objects, "Secret", "postgres-credentials", "postgres-password")
    assert not key_ref_resolves(objects, "ConfigMap", "missing-config", "db_name")
    assert find(objects, "Service", "postgress") is None


def test_kustomization_lists_exactly_the_manifest_files() -> None:
    kustomization = load_documents(K8S_DIR / "kustomization.yaml")[0]
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    assert "images" not in kustomization  # CI edits the tags in the Deployments
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert [name for name in listed if not (K8S_DIR / name).is_file()] == []
    assert sorted(listed) == sorted(p.name for p in manifest_files())


def test_kustomize_renders_every_object(objects: list[Manifest]) -> None:
    """The kustomization reaches every object in k8s/ — read as faultbot reads a team's deploy root
    (bot.catalog.kustomize, proven on the real repositories too), since CI has no kubectl."""
    from bot.catalog.kustomize import build

    reached = build(CHAT_APP, "k8s")
    assert reached.notes == () and not reached.helm, reached.notes
    rendered = [doc for rel, _ in reached.files for doc in YAML(typ="safe").load_all((CHAT_APP / rel).read_text())
                if doc is not None]
    rendered_ids = sorted((doc["kind"], doc["metadata"]["name"]) for doc in rendered)
    assert rendered_ids == sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)


def test_argocd_application_syncs_the_manifests() -> None:
    [application] = load_documents(CHAT_APP / "argocd" / "application.yaml")
    assert application["kind"] == "Application"
    assert application["metadata"] == {
        "name": "chat",
        "namespace": "argocd",
        "finalizers": ["resources-finalizer.argocd.argoproj.io"],
    }
    spec = application["spec"]
    assert spec["project"] == "default"
    assert spec["source"]["repoURL"] == "https://github.com/example-org/chat-app.git"
    assert spec["source"]["targetRevision"] == "main"
    assert (CHAT_APP / spec["source"]["path"] / "kustomization.yaml").is_file()
    assert spec["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": NAMESPACE,
    }
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]


def test_workflow_builds_the_images_the_deployments_run(objects: list[Manifest]) -> None:
    [workflow] = load_documents(CHAT_APP / ".github" / "workflows" / "build.yaml")
    # YAML 1.2 keeps `on` a string key (YAML 1.1 loaders would turn it into True).
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["on"]["push"]["paths"] == ["frontend/**", "backend/**"]
    assert set(workflow["jobs"]) == {"test", "build", "bump-tags"}
    assert workflow["jobs"]["build"]["strategy"]["matrix"]["component"] == ["frontend", "backend"]
    prefix = workflow["env"]["IMAGE_PREFIX"]
    for name in ("frontend", "backend"):
        deployment = find(objects, "Deployment", name)
        assert deployment is not None
        assert containers(deployment)[0]["image"].rsplit(":", 1)[0] == f"{prefix}-{name}"
        assert (CHAT_APP / name / "Dockerfile").is_file()


def test_workflow_tag_bump_changes_only_the_image_lines(tmp_path: Path) -> None:
    """Run the bump step's own shell script on a copy of k8s/."""
    bash = shutil.which("bash")
    assert bash is not None
    [workflow] = load_documents(CHAT_APP / ".github" / "workflows" / "build.yaml")
    job = workflow["jobs"]["bump-tags"]
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    [bump_step] = [step for step in job["steps"] if "sed -i" in step.get("run", "")]
    commit_script = next(
        step["run"] for step in job["steps"] if "git commit" in step.get("run", "")
    )
    assert "41898282+github-actions[bot]@users.noreply.github.com" in commit_script
    assert "chore(deploy): bump images to ${GITHUB_SHA::7}" in commit_script

    shutil.copytree(K8S_DIR, tmp_path / "k8s")
    script = bump_step["run"].replace("git diff --stat", "")
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_SHA": "abcdef1234567890",
        "IMAGE_PREFIX": workflow["env"]["IMAGE_PREFIX"],
    }
    subprocess.run(
        [bash, "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, check=True, timeout=30
    )

    for name in ("frontend", "backend"):
        before = (K8S_DIR / f"{name}.yaml").read_text().splitlines()
        after = (tmp_path / "k8s" / f"{name}.yaml").read_text().splitlines()
        assert len(before) == len(after)
        changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
        assert changed == [
            (
                f"          image: ghcr.io/example-org/chat-{name}:1.4.2",
                f"          image: ghcr.io/example-org/chat-{name}:abcdef1",
            )
        ]


def test_frontend_nginx_and_images_agree_with_the_manifests(objects: list[Manifest]) -> None:
    nginx_conf = (CHAT_APP / "frontend" / "nginx.conf").read_text()
    listen = re.findall(r"^\s*listen\s+(\d+);", nginx_conf, re.MULTILINE)
    proxy = re.findall(r"^\s*proxy_pass\s+http://([\w.-]+):(\d+);", nginx_conf, re.MULTILINE)
    assert listen == ["8080"]
    assert proxy == [("backend", "8000")]
    backend_service = find(objects, "Service", "backend")
    assert backend_service is not None
    assert backend_service["spec"]["ports"][0]["port"] == 8000

    for name, port in (("frontend", 8080), ("backend", 8000)):
        deployment = find(objects, "Deployment", name)
        assert deployment is not None
        assert containers(deployment)[0]["ports"] == [{"name": "http", "containerPort": port}]
        dockerfile = (CHAT_APP / name / "Dockerfile").read_text()
        if name == "backend":
            assert re.search(rf"^EXPOSE {port}$", dockerfile, re.MULTILINE)
        assert re.search(r"^USER \d+$", dockerfile, re.MULTILINE), (
            "runAsNonRoot needs a numeric USER"
        )


def test_frontend_ui_escapes_messages_and_shows_the_list() -> None:
    html = (CHAT_APP / "frontend" / "index.html").read_text()
    script = (CHAT_APP / "frontend" / "app.js").read_text()
    css = (CHAT_APP / "frontend" / "style.css").read_text()
    assert '<ul id="message-list"' in html
    assert 'const API_URL = "/api/messages";' in script and "const PAGE_SIZE = 50;" in script
    assert "`${API_URL}?limit=${PAGE_SIZE}&offset=${offset}`" in script
    assert not re.search(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML", script)
    # The API's field names are read in one place, the fromApi() mapping.
    mapping = re.search(r"function fromApi\(message\) \{(.*?)\n\}", script, re.DOTALL)
    assert mapping is not None
    for field in ("author", "text", "created_at"):
        assert len(re.findall(rf"message\.{field}\b", mapping.group(1))) == 1, field
    assert script.count("created_at") == 1
    rule = re.search(r"#message-list\s*\{([^}]*)\}", css)
    assert rule is not None
    assert "display: flex" in rule.group(1) and "display: none" not in rule.group(1)


def test_terraform_variables_and_resources_are_consistent() -> None:
    terraform = CHAT_APP / "terraform"
    source = "\n".join(path.read_text() for path in sorted(terraform.glob("*.tf")))
    declared = set(re.findall(r'^variable "(\w+)"', source, re.MULTILINE))
    used = set(re.findall(r"\bvar\.(\w+)", source))
    assert used == declared
    resources = set(re.findall(r'^resource "(\w+)" "(\w+)"', source, re.MULTILINE))
    assert resources == {
        ("aws_route53_record", "chat"),
        ("aws_security_group_rule", "cluster_to_db"),
    }
    data_sources = set(re.findall(r'^data "(\w+)" "(\w+)"', source, re.MULTILINE))
    assert set(re.findall(r"\bdata\.(aws_\w+)\.(\w+)\.\w+", source)) == data_sources
    referenced = set(re.findall(r"(?<!data\.)\b(aws_\w+)\.(\w+)\.\w+", source))
    assert referenced == resources  # outputs.tf exposes both
    assert re.search(r"^\s*from_port\s*=\s*5432$", source, re.MULTILINE)
    assert re.search(r"^\s*to_port\s*=\s*5432$", source, re.MULTILINE)
    assert source.count("{") == source.count("}")
    assert 'version = "~> 5.0"' in source and 'required_version = ">= 1.5"' in source
