"""Connections: found in every form people write them, resolved as cluster DNS would, and located
precisely enough that changing the located text changes the connection (and nothing else)."""

from __future__ import annotations

import base64
import difflib
from pathlib import Path

import pytest

from bot.catalog.connections import Channel, Connection, ConnectionKey, Form, connection_at, find_connections
from bot.catalog.deployed import deployed_set
from bot.catalog.objects import ObjectSet
from bot.catalog.rewrite import rewrite, text_at
from tests.catalog.test_deployed import write_tree
from tests.realworld import copy_realworld


def scan(tree: Path, path: str | None = None) -> ObjectSet:
    return ObjectSet.from_deployed(deployed_set(tree, path))


def summary(connections: list[Connection]) -> set[tuple[str, str, str, str, int | None, str | None]]:
    return {
        (c.key.client.name, c.key.container, c.key.name, c.target.service.name if c.target else "-", c.port, c.problem)
        for c in connections
    }


def changed_lines(before: str, after: str) -> int:
    """How many lines were replaced (a one-line change is one removed plus one added line)."""
    diff = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if not line.startswith(("+++", "---"))]
    removed, added = sum(line[:1] == "-" for line in diff), sum(line[:1] == "+" for line in diff)
    return max(removed, added)


# --- the real repositories ---------------------------------------------------------------------

def test_podinfo_connections_live_in_flags_env_urls_and_mounted_scripts(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "podinfo")
    found = find_connections(scan(tree, "overlays/dev"), unresolved=True)
    assert summary(found) == {
        ("backend", "backend", "--cache-server", "cache", 6379, None),
        ("frontend", "frontend", "--backend-url", "backend", 9898, None),
        ("frontend", "frontend", "--cache-server", "cache", 6379, None),
        ("warm-cache", "warm-cache-init", "FRONTEND_URL", "frontend", 80, None),
        ("warm-cache", "warm-cache", "FRONTEND_URL", "frontend", 80, None),
        ("rollup-daily", "healthcheck", "rollup-script/rollup.sh", "database-replica", 3306, None),
        ("rollup-weekly", "healthcheck", "rollup-script/rollup.sh", "database-replica", 3306, None),
        ("backup-daily", "backup", "backup-script/backup.sh", "database-replica", 3306, None),
    }
    cache = next(c for c in found if c.key.client.name == "backend")
    assert cache.form is Form.flag and cache.key.channel is Channel.argument and cache.endpoint.scheme == "tcp"
    assert cache.target is not None and cache.target.port is not None and cache.target.port.target_port == "redis"
    assert [w.name for w in cache.target.workloads] == ["cache"]
    assert str(cache.host_at) == "bases/backend/deployment.yaml spec.template.spec.containers[name=backend].command[6]"
    assert cache.target.service.namespace == "dev"  # the overlay's namespace applies to the dialled Service too


def test_aks_store_demo_connections_in_plain_env_values_and_an_init_container(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "aks-store-demo")
    objects = scan(tree, "base")
    ai_problem = (
        "host 'ai-service' names no Service in namespace default (Services there: documentdb, makeline-service, "
        "order-service, product-service, rabbitmq, store-admin, store-front)"
    )
    resolved = {
        ("makeline-service", "makeline-service", "ORDER_QUEUE_URI", "rabbitmq", 5672, None),
        ("makeline-service", "makeline-service", "ORDER_DB_URI", "documentdb", 10260, None),
        ("order-service", "order-service", "ORDER_QUEUE_HOSTNAME", "rabbitmq", 5672, None),
        ("order-service", "wait-for-rabbitmq", "command[2]", "rabbitmq", 5672, None),
        ("virtual-customer", "virtual-customer", "ORDER_SERVICE_URL", "order-service", 3000, None),
        ("virtual-worker", "virtual-worker", "MAKELINE_SERVICE_URL", "makeline-service", 3001, None),
    }
    assert summary(find_connections(objects)) == resolved
    assert summary(find_connections(objects, unresolved=True)) == resolved | {("product-service", "product-service", "AI_SERVICE_URL", "-", 5001, ai_problem)}
    queue = next(c for c in find_connections(objects) if c.key.name == "ORDER_QUEUE_HOSTNAME")
    assert queue.port_at is not None and queue.port_at.yaml_path is not None
    assert queue.port_at.yaml_path.endswith("env[name=ORDER_QUEUE_PORT].value")  # the sibling variable holds the port
    wait = next(c for c in find_connections(objects) if c.form is Form.shell)
    assert wait.host_at.yaml_path == "spec.template.spec.initContainers[name=wait-for-rabbitmq].command[2]"


@pytest.mark.parametrize("name", ["k8s-guestbook", "argocd-guestbook", "argocd-kustomize-guestbook"])
def test_repos_whose_connections_are_not_in_the_manifests_have_none(tmp_path: Path, name: str) -> None:
    # The guestbook's PHP names redis-master in its source (built into the image): no manifest says so.
    assert find_connections(scan(copy_realworld(tmp_path, name)), unresolved=True) == []


@pytest.mark.parametrize(("name", "path"), [("podinfo", "overlays/dev"), ("aks-store-demo", "base")])
def test_changing_the_located_host_changes_that_connection_and_one_line(tmp_path: Path, name: str, path: str) -> None:
    tree = copy_realworld(tmp_path, name)
    for connection in find_connections(scan(tree, path)):
        file = tree / connection.host_at.path
        before = file.read_text(encoding="utf-8")
        assert connection.host_at.excerpt(text_at(before, connection.host_at)) == connection.endpoint.host
        wrong = connection.endpoint.host + "-primary"
        after = rewrite(before, connection.host_at, wrong)
        assert changed_lines(before, after) == 1, connection.describe()
        file.write_text(after, encoding="utf-8")
        again = connection_at(scan(tree, path), connection.key)
        assert again is not None and again.endpoint.host == wrong and again.target is None
        assert again.problem is not None and f"host {wrong!r} names no Service" in again.problem
        file.write_text(before, encoding="utf-8")


def test_changing_the_sibling_port_variable_breaks_the_port_not_the_host(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "aks-store-demo")
    key = next(c.key for c in find_connections(scan(tree, "base")) if c.key.name == "ORDER_QUEUE_HOSTNAME")
    connection = connection_at(scan(tree, "base"), key)
    assert connection is not None and connection.port_at is not None
    file = tree / connection.port_at.path
    file.write_text(rewrite(file.read_text(encoding="utf-8"), connection.port_at, "5673"), encoding="utf-8")
    broken = connection_at(scan(tree, "base"), key)
    assert broken is not None and broken.target is not None
    assert broken.problem == "port 5673 is not a port of Service/rabbitmq (5672, 15672)"


# --- every form, on a small repository -------------------------------------------------------------

def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


API = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: api:1
          args: ["--db-host", "postgres.data", "--db-port", "5432", "--log=info"]
          envFrom:
            - configMapRef: {name: api-env}
              prefix: X_
          env:
            - name: DB_URL
              value: jdbc:postgresql://postgres.data.svc.cluster.local:5432/shop
            - name: CACHE_HOST
              valueFrom: {configMapKeyRef: {name: api-config, key: cache_host}}
            - name: CACHE_PORT
              valueFrom: {configMapKeyRef: {name: api-config, key: cache_port}}
            - name: MONGO_URL
              valueFrom: {secretKeyRef: {name: api-secret, key: mongo-url}}
            - name: QUEUE_URL
              valueFrom: {secretKeyRef: {name: api-secret, key: queue-url}}
            - name: MONGO_SPARE
              value: mongo-5.mongo:27017
            - name: REPORTS_URL
              value: http://reports:8080
            - name: GET_HOSTS_FROM
              value: dns
            - name: SERVICE_NAME
              value: redis
            - name: LISTEN_ADDR
              value: 0.0.0.0:8080
            - name: SEARCH_HOST
              value: search
            - name: X_OVERRIDDEN_HOST
              value: web
          volumeMounts:
            - {name: conf, mountPath: /etc/nginx/conf.d}
      volumes:
        - name: conf
          configMap: {name: nginx-conf}
"""


def service_yaml(name: str, namespace: str, port: int, headless: bool = False) -> str:
    cluster_ip = "\n  clusterIP: None" if headless else ""
    return (f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:{cluster_ip}\n"
            f"  selector:\n    app: {name}\n  ports:\n    - port: {port}\n")


def workload_yaml(kind: str, name: str, namespace: str, port: int, extra: str = "") -> str:
    return (f"---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:{extra}\n"
            f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
            f"    spec:\n      containers:\n        - name: {name}\n          image: {name}:1\n          ports:\n"
            f"            - containerPort: {port}\n")


CONFIG = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: api-config, namespace: shop}}
data:
  cache_host: redis
  cache_port: "6379"
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: api-env, namespace: shop}}
data:
  SESSION_ADDR: redis:6379
  OVERRIDDEN_HOST: mq
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: nginx-conf, namespace: shop}}
data:
  default.conf: |
    location / {{ proxy_pass http://web:8080; }}
---
apiVersion: v1
kind: Secret
metadata: {{name: api-secret, namespace: shop}}
data:
  mongo-url: {b64("mongodb://mongo-0.mongo:27017/shop")}
stringData:
  queue-url: amqp://mq:5673
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    services = "".join([
        service_yaml("postgres", "data", 5432), service_yaml("redis", "shop", 6379), service_yaml("mongo", "shop", 27017, headless=True),
        service_yaml("mq", "shop", 5672), service_yaml("web", "shop", 8080),
    ])
    workloads = "".join([
        workload_yaml("Deployment", "postgres", "data", 5432), workload_yaml("Deployment", "redis", "shop", 6379),
        workload_yaml("StatefulSet", "mongo", "shop", 27017, "\n  serviceName: mongo\n  replicas: 2"),
        workload_yaml("StatefulSet", "mq", "shop", 5672, "\n  serviceName: mq"), workload_yaml("Deployment", "web", "shop", 8080),
    ])
    return write_tree(tmp_path / "shop", {"api.yaml": API, "config.yaml": CONFIG, "services.yaml": services, "workloads.yaml": workloads})


def test_every_connection_form_is_found_and_resolved(shop: Path) -> None:
    found = [c for c in find_connections(scan(shop), unresolved=True) if c.key.client.name == "api"]
    by_name = {c.key.name: c for c in found}
    assert {(n, c.form, c.target.service.name if c.target else None, c.target.service.namespace if c.target else None, c.port)
            for n, c in by_name.items()} == {
        ("--db-host", Form.flag, "postgres", "data", 5432),
        ("DB_URL", Form.env_value, "postgres", "data", 5432),
        ("CACHE_HOST", Form.config_map_key, "redis", "shop", 6379),
        ("MONGO_URL", Form.secret_key, "mongo", "shop", 27017),
        ("QUEUE_URL", Form.secret_key, "mq", "shop", 5673),
        ("MONGO_SPARE", Form.env_value, None, None, 27017),
        ("REPORTS_URL", Form.env_value, None, None, 8080),
        ("X_SESSION_ADDR", Form.env_from_config_map, "redis", "shop", 6379),
        ("X_OVERRIDDEN_HOST", Form.env_value, "web", "shop", None),  # env wins over envFrom's `mq`
        ("nginx-conf/default.conf", Form.mounted_file, "web", "shop", 8080),
    }
    mongo = by_name["MONGO_URL"]
    assert mongo.target is not None and mongo.target.pod == "mongo-0" and mongo.target.headless and mongo.problem is None
    assert mongo.host_at.encoding == "base64" and str(mongo.host_at) == "config.yaml (document 4) data.mongo-url (base64)"
    assert by_name["QUEUE_URL"].problem == "port 5673 is not a port of Service/mq (5672)"
    assert by_name["MONGO_SPARE"].problem == "host 'mongo-5.mongo': 'mongo-5' is not a pod of a StatefulSet whose serviceName is 'mongo'"
    assert by_name["CACHE_HOST"].port_at is not None and by_name["CACHE_HOST"].port_at.yaml_path == "data.cache_port"
    assert by_name["--db-host"].port_at is not None and by_name["--db-host"].port_at.yaml_path.endswith("args[3]")  # type: ignore[union-attr]
    assert by_name["CACHE_HOST"].host_at.path == "config.yaml" and by_name["CACHE_HOST"].host_at.yaml_path == "data.cache_host"


def test_pod_dns_needs_a_headless_service(shop: Path) -> None:
    services = (shop / "services.yaml").read_text(encoding="utf-8")
    (shop / "services.yaml").write_text(services.replace("  clusterIP: None\n", ""), encoding="utf-8")
    mongo = connection_at(scan(shop), ConnectionKey(scan(shop).written("Deployment", "api", "shop").ref, "api", Channel.env, "MONGO_URL"))  # type: ignore[union-attr]
    assert mongo is not None and mongo.target is None
    assert mongo.problem == "host 'mongo-0.mongo' is pod DNS, which needs Service/mongo to be headless (clusterIP: None)"


def test_a_base64_secret_value_is_changed_where_it_is_written(shop: Path) -> None:
    objects = scan(shop)
    mongo = next(c for c in find_connections(objects) if c.key.name == "MONGO_URL")
    before = (shop / "config.yaml").read_text(encoding="utf-8")
    after = rewrite(before, mongo.host_at, "mongo-0.mongo-headless")
    assert changed_lines(before, after) == 1 and b64("mongodb://mongo-0.mongo-headless:27017/shop") in after
    (shop / "config.yaml").write_text(after, encoding="utf-8")
    again = connection_at(scan(shop), mongo.key)
    assert again is not None and again.endpoint.host == "mongo-0.mongo-headless" and again.target is None


def test_a_prefixed_service_is_not_found_under_its_written_name(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "kustomization.yaml": "namePrefix: p-\nresources: [all.yaml]\n",
        "all.yaml": service_yaml("api", "default", 80) + workload_yaml("Deployment", "api", "default", 80)
        + workload_yaml("Deployment", "ui", "default", 80).replace("          ports:", "          env:\n            - {name: API_URL, value: 'http://api'}\n          ports:"),
    })
    (connection,) = find_connections(scan(tree), unresolved=True)
    assert connection.key.client.name == "p-ui" and connection.target is None
    assert connection.problem == "host 'api' names no Service: kustomize deploys Service 'api' as 'p-api'"


def test_generated_values_are_followed_to_the_kustomization_line(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "kustomization.yaml": "resources: [all.yaml]\nconfigMapGenerator:\n  - name: app\n    literals: [DB_HOST=postgres, DB_PORT=\"5432\"]\n",
        "all.yaml": service_yaml("postgres", "default", 5432) + workload_yaml("Deployment", "postgres", "default", 5432)
        + workload_yaml("Deployment", "api", "default", 80).replace("          ports:", "          envFrom:\n            - configMapRef: {name: app}\n          ports:"),
    })
    (connection,) = find_connections(scan(tree))
    assert (connection.form, connection.target.service.name if connection.target else None, connection.port) == (Form.env_from_config_map, "postgres", 5432)
    assert str(connection.host_at) == "kustomization.yaml configMapGenerator[0].literals[0]"
    before = (tree / "kustomization.yaml").read_text(encoding="utf-8")
    after = rewrite(before, connection.host_at, "postgres-primary")
    assert "DB_HOST=postgres-primary" in after and changed_lines(before, after) == 1
