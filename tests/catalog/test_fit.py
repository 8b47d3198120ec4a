"""How a fault fits a repository and how a tree is judged: a connection changed in whatever form
it is written, a fix Kubernetes would refuse is no fix, a pod-template change that cannot roll out
breaks nothing, the front door is judged the way visitors come in, and fault files with variants
are checked at load."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from bot.catalog.binding import CheckContext
from bot.catalog.checks import Status, evaluate
from bot.catalog.deployed import deployed_set
from bot.catalog.exposure import Exposure, still_exposed
from bot.catalog.faults import Catalog, load_fault
from bot.catalog.manifests import DeployRoot, ManifestIndex
from bot.catalog.objects import ObjectSet
from bot.catalog.rehearsal import bind_roles, rehearse
from bot.catalog.roles import Role, Roles
from bot.catalog.rollout import effective
from bot.errors import CatalogError
from bot.repo.workspace import apply_patch
from tests.catalog.test_catalog import GOOD, write_fault
from tests.catalog.test_connections import b64, service_yaml, workload_yaml
from tests.catalog.test_deployed import write_tree
from tests.conftest import CHAT_APP

CATALOG = Catalog.load()
DB_PORTS = "          ports:\n            - containerPort: 5432\n"


def api(how: str) -> str:
    """A backend Deployment `api` that reaches `postgres` the way `how` says."""
    container = {
        "env value": "          env:\n            - {name: DATABASE_URL, value: 'postgres://app@postgres:5432/shop'}\n",
        "configMapKeyRef": "          env:\n            - name: PGHOST\n              valueFrom: {configMapKeyRef: {name: api-config, key: db_host}}\n",
        "secretKeyRef (base64)": "          env:\n            - name: DB_DSN\n              valueFrom: {secretKeyRef: {name: api-secret, key: dsn}}\n",
        "flag": "          args: [--db-addr=postgres:5432]\n",
        "mounted file": "          volumeMounts:\n            - {name: conf, mountPath: /etc/app}\n",
    }[how]
    volumes = "      volumes:\n        - name: conf\n          configMap: {name: api-files}\n" if how == "mounted file" else ""
    return workload_yaml("Deployment", "api", "default", 8000).replace("          ports:", container + "          ports:") + volumes


CONFIG = f"""\
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: api-config}}
data:
  db_host: postgres
---
apiVersion: v1
kind: Secret
metadata: {{name: api-secret}}
data:
  dsn: {b64("postgresql://app:pw@postgres:5432/shop")}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: api-files}}
data:
  app.ini: |
    [db]
    url = postgres://app@postgres:5432/shop
"""
WHERE = {"env value": "api.yaml", "configMapKeyRef": "config.yaml", "secretKeyRef (base64)": "config.yaml",
         "flag": "api.yaml", "mounted file": "config.yaml"}


@pytest.mark.parametrize("how", sorted(WHERE))
def test_the_host_typo_is_written_wherever_the_connection_is(tmp_path: Path, how: str) -> None:
    tree = write_tree(tmp_path, {
        "api.yaml": api(how), "config.yaml": CONFIG,
        "db.yaml": service_yaml("postgres", "default", 5432) + workload_yaml("StatefulSet", "postgres", "default", 5432, "\n  serviceName: postgres"),
    })
    result = rehearse(CATALOG.get("db-unreachable/db-host-typo"), tree, apply_patch=apply_patch)
    assert result.ok, (result.reason, result.fixes)
    assert result.changed_paths == [WHERE[how]] and result.lines_changed == (1, 1), result.diff
    failing = [r.reason for r in result.after if not r.passed]
    assert any("postgres-primary" in reason and "names no Service" in reason for reason in failing), failing


# --- a fix Kubernetes would refuse is not a fix -------------------------------------------------------

def _selector_fault(tmp_path: Path) -> tuple[Path, CheckContext]:
    """The chat app after service-selector-typo, and the binding made on its healthy tree."""
    fault = CATALOG.get("web-unreachable/service-selector-typo")
    binding = bind_roles(fault, Roles(ManifestIndex.scan(CHAT_APP)))
    tree = tmp_path / "tree"
    shutil.copytree(CHAT_APP, tree)
    service = tree / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("    app: frontend\n  ports:", "    app: frontend-web\n  ports:"))
    return tree, CheckContext(tree, binding)


def _judge(tree: Path, context: CheckContext) -> list[tuple[str, Status, str]]:
    results = evaluate(CATALOG.get("web-unreachable/service-selector-typo").spec.fixed_when, CheckContext(tree, context.binding))
    return [(r.name, r.status, r.reason) for r in results]


def test_relabelling_the_pods_through_the_immutable_selector_is_refused(tmp_path: Path) -> None:
    tree, context = _selector_fault(tmp_path)
    frontend = tree / "k8s" / "frontend.yaml"
    # Pods, selector and Service all say frontend-web: consistent, but a Deployment's selector is immutable.
    frontend.write_text(frontend.read_text().replace("app: frontend\n", "app: frontend-web\n"))
    verdicts = _judge(tree, context)
    assert [name for name, status, _ in verdicts if status is Status.failed] == ["kubernetes_accepts"]
    assert "Deployment/frontend: spec.selector is immutable" in verdicts[0][2]


def test_a_selector_that_does_not_select_the_template_is_refused(tmp_path: Path) -> None:
    tree, context = _selector_fault(tmp_path)
    frontend = tree / "k8s" / "frontend.yaml"
    text = frontend.read_text()
    # Only the template's labels: the pods match the Service again, the Deployment no longer matches its pods.
    template = text.index("  template:")
    frontend.write_text(text[:template] + text[template:].replace("app: frontend\n", "app: frontend-web\n", 1))
    accepts = _judge(tree, context)[0]
    assert accepts[1] is Status.failed
    assert "spec.selector does not match spec.template.metadata.labels" in accepts[2]


def test_a_field_the_schema_does_not_know_is_refused(tmp_path: Path) -> None:
    tree, context = _selector_fault(tmp_path)
    service = tree / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("    app: frontend-web\n", "    app: frontend\n").replace("  type: ClusterIP\n", "  type: ClusterIP\n  sessionAfinity: None\n"))
    accepts = _judge(tree, context)[0]
    assert accepts[1] is Status.failed and "sessionAfinity" in accepts[2], accepts


def test_what_kubernetes_refused_already_on_the_healthy_tree_is_not_held_against_a_team(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(CHAT_APP, tree)
    service = tree / "k8s" / "frontend-service.yaml"
    service.write_text(service.read_text().replace("  type: ClusterIP\n", "  type: ClusterIP\n  sessionAfinity: None\n"))
    result = rehearse(CATALOG.get("web-unreachable/service-selector-typo"), tree, apply_patch=apply_patch)
    assert result.ok and result.binding is not None
    assert any("sessionAfinity" in r for r in result.binding.refused)


def test_a_fault_whose_own_change_kubernetes_refuses_does_not_apply(tmp_path: Path) -> None:
    """A NodePort Service with a fixed nodePort: making it ClusterIP is refused, so nothing breaks."""
    guestbook = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n  selector: {app: web}\n" \
                "  ports:\n    - {port: 80, nodePort: 30080}\n"
    tree = write_tree(tmp_path, {"web.yaml": guestbook + workload_yaml("Deployment", "web", "default", 80)})
    result = rehearse(CATALOG.get("web-unreachable/frontend-service-internal"), tree, apply_patch=apply_patch, with_fixes=False)
    assert not result.breaks and "the change itself is refused" in result.reason and "nodePort" in result.reason


# --- rollout semantics --------------------------------------------------------------------------------

def _frontend(tree: Path) -> tuple[ObjectSet, object]:
    objects = ObjectSet.from_deployed(deployed_set(tree))
    return objects, next(w for w in objects.workloads() if w.name == "frontend")


@pytest.mark.parametrize(("change", "serving"), [
    ("port rename a probe still names", "old"),  # new pods never Ready: the old ones keep serving
    ("image bump", "new"),  # assumed to become Ready
    ("rename plus Recreate", "new"),  # Recreate kills the old pods first
    ("rename plus replicas", "new"),  # not confined to the template: the change takes effect
])
def test_a_template_change_that_cannot_roll_out_leaves_the_old_pods_serving(tmp_path: Path, change: str, serving: str) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(CHAT_APP, tree)
    _, before = _frontend(tree)
    frontend = tree / "k8s" / "frontend.yaml"
    text = frontend.read_text()
    if change != "image bump":
        text = text.replace("            - name: http\n              containerPort: 8080", "            - name: web\n              containerPort: 8080")
    if change == "image bump":
        text = text.replace("chat-frontend:1.4.2", "chat-frontend:1.4.3")
    if change == "rename plus Recreate":
        text = text.replace("    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 0\n      maxSurge: 1\n", "    type: Recreate\n")
    if change == "rename plus replicas":
        text = text.replace("replicas: 2", "replicas: 3")
    frontend.write_text(text)
    objects, now = _frontend(tree)
    running = effective(now, before.body, objects)  # type: ignore[attr-defined]
    assert running.body == (before.body if serving == "old" else now.body)  # type: ignore[attr-defined]


# --- the front door ------------------------------------------------------------------------------------

LB = "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec:\n  type: LoadBalancer\n  selector: {app: shop}\n  ports:\n    - {port: 80, targetPort: 8080}\n"
INGRESS = ("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop}\nspec:\n  rules:\n    - http:\n        paths:\n"
           "          - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}\n")


@pytest.mark.parametrize(("service", "extra", "exposed", "why"), [
    (LB, "", True, "still reachable as LoadBalancer port 80"),
    (LB.replace("LoadBalancer", "ClusterIP"), "", False, "is type ClusterIP: outside clients reached it as LoadBalancer port 80"),
    (LB.replace("LoadBalancer", "ClusterIP"), INGRESS, True, "now routed by Ingress/shop"),
    (LB.replace("port: 80,", "port: 8080,"), "", False, "no longer offers port 80"),
])
def test_the_front_door_is_judged_the_way_visitors_come_in(tmp_path: Path, service: str, extra: str, exposed: bool, why: str) -> None:
    tree = write_tree(tmp_path, {"shop.yaml": service + extra})
    objects = ObjectSet.from_deployed(deployed_set(tree))
    verdict, reason = still_exposed(objects, objects.services()[0], Exposure("LoadBalancer", 80))
    assert (verdict, why in reason) == (exposed, True), reason


def test_a_load_balancers_visitors_come_from_outside_the_cluster(tmp_path: Path) -> None:
    """frontend-netpol-hardening on a LoadBalancer app: an ipBlock for everyone is a fix, `podSelector: {}` is not."""
    app = LB + workload_yaml("Deployment", "shop", "default", 8080)
    fault = CATALOG.get("web-unreachable/frontend-netpol-hardening")
    result = rehearse(fault, write_tree(tmp_path / "a", {"shop.yaml": app}), apply_patch=apply_patch)
    assert result.ok, result.reason
    assert any("no rule allows this flow" in r.reason for r in result.after if not r.passed)
    open_to_all = ("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: lb}\nspec:\n  podSelector: {matchLabels: {app: shop}}\n"
                   "  ingress:\n    - from: [{ipBlock: {cidr: 0.0.0.0/0}}]\n")
    healed = rehearse(fault, write_tree(tmp_path / "b", {"shop.yaml": app + open_to_all}), apply_patch=apply_patch, with_fixes=False)
    assert not healed.breaks and "still pass" in healed.reason  # an existing policy already admits the visitors


# --- a `path:` is read the way ArgoCD reads it ---------------------------------------------------------

def test_a_deploy_root_travels_with_the_binding(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "prod/kustomization.yaml": "namespace: prod\nresources: [../base]\n", "staging/kustomization.yaml": "namespace: staging\nresources: [../base]\n",
        "base/kustomization.yaml": "resources: [app.yaml]\n", "base/app.yaml": LB + workload_yaml("Deployment", "shop", "default", 8080),
    })
    assert "several kustomize roots" in str(ManifestIndex.scan(tree).problem)
    fault = CATALOG.get("web-unreachable/frontend-scaled-to-zero")
    result = rehearse(fault, tree, apply_patch=apply_patch, root=DeployRoot("prod"))
    assert result.ok and result.binding is not None and result.binding.root == DeployRoot("prod")
    assert {ref.namespace for refs in result.binding.refs.values() for ref in refs} == {"prod"}
    assert result.changed_paths == ["base/app.yaml"]


# --- fault files with variants --------------------------------------------------------------------------

VARIANTS = GOOD.replace("""edits:
  - op: yaml.set
    role: frontend_service
    path: spec.selector.app
    value: nope
""", """variants:
  - name: by app
    when: [{role: frontend_service, path: spec.selector.app, is: present}]
    edits:
      - {op: yaml.set, role: frontend_service, path: spec.selector.app, value: nope}
""")


@pytest.mark.parametrize(("what", "change", "expected"), [
    ("edits and variants", ("variants:\n", "edits: [{op: yaml.delete, role: frontend_service, path: spec.selector}]\nvariants:\n"),
     r"demo/fault.yaml:1: give edits: or variants:, not both"),
    ("a fix for an unknown variant", ("  - name: forward\n    kind: forward\n", "  - name: forward\n    kind: forward\n    variants: [by label]\n"),
     r"demo/fault.yaml:1: fix 'forward' names unknown variant\(s\) by label \(known: by app\)"),
    ("a condition on nothing", ("when: [{role: frontend_service, path: spec.selector.app, is: present}]", "when: [{is: present}]"),
     r"demo/fault.yaml:\d+: variants\[0\].when\[0\]: give role: and path:, or connection: and part:"),
    ("a connection is not an int", ("when: [{role: frontend_service, path: spec.selector.app, is: present}]",
                                     "when: [{connection: db_connection, part: port, is: int}]"),
     r"demo/fault.yaml:\d+: variants\[0\].when\[0\]: a connection part is written or implied"),
])
def test_malformed_variants_give_one_line(tmp_path: Path, what: str, change: tuple[str, str], expected: str) -> None:
    assert change[0] in VARIANTS, what
    with pytest.raises(CatalogError) as caught:
        load_fault(write_fault(tmp_path, VARIANTS.replace(change[0], change[1], 1)))
    assert re.match(expected, caught.value.message), caught.value.message


def test_the_reason_a_fault_does_not_fit_names_each_variant(tmp_path: Path) -> None:
    fault = CATALOG.get("web-unreachable/service-targetport-wrong")
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n    - {port: 80, targetPort: 8081}\n"
    # Port 80 and 8080 are both declared: neither the numeric variant's 80 nor its 8080 breaks anything.
    pods = workload_yaml("Deployment", "web", "default", 8081).replace("            - containerPort: 8081\n",
                                                                     "            - containerPort: 8081\n            - containerPort: 80\n")
    result = rehearse(fault, write_tree(tmp_path, {"web.yaml": service + pods}), apply_patch=apply_patch, with_fixes=False)
    assert not result.breaks
    assert result.reason.startswith("named targetPort: Service/web spec.ports[0].targetPort is 8081 (int), not str; "
                                    "numeric targetPort: the fault's own checks still pass"), result.reason
    assert textwrap.shorten(result.reason, 400) == result.reason.strip() and "\n" not in result.reason


def test_a_role_without_a_datastore_never_says_no_ingress(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {"web.yaml": LB + workload_yaml("Deployment", "shop", "default", 8080)})
    roles = Roles(ManifestIndex.scan(tree))
    for role in (Role.db_service, Role.db_workload, Role.db_connection):
        assert "Ingress" not in roles.error(role) and "no database, cache or queue" in roles.error(role)


def test_fix_search_reads_the_files_generators_read(tmp_path: Path) -> None:
    """A team that fixes the host in a generator's env file changes no YAML: that commit is still judged."""
    from bot.catalog.checks import reads

    backend = workload_yaml("Deployment", "api", "default", 8000).replace(
        "          ports:", "          envFrom:\n            - configMapRef: {name: app}\n          ports:")
    tree = write_tree(tmp_path, {
        "kustomization.yaml": "resources: [all.yaml]\nconfigMapGenerator:\n  - name: app\n    envs: [app.env]\n",
        "app.env": "DB_HOST=postgres\nDB_PORT=5432\n",
        "all.yaml": backend + service_yaml("postgres", "default", 5432) + workload_yaml("StatefulSet", "postgres", "default", 5432, "\n  serviceName: postgres"),
    })
    fault = CATALOG.get("db-unreachable/db-host-typo")
    result = rehearse(fault, tree, apply_patch=apply_patch)
    assert result.ok and result.changed_paths == ["app.env"], (result.reason, result.diff)
    assert result.binding is not None and "app.env" in reads(fault.spec.fixed_when, CheckContext(tree, result.binding))
