"""Roles follow the traffic on the real repositories, and an ambiguity says what to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog.deployed import deployed_set
from bot.catalog.objects import ObjectSet
from bot.catalog.traffic import backend_workload, database, datastore_kind, frontend_service, selected_workload
from tests.catalog.test_connections import service_yaml, workload_yaml
from tests.catalog.test_deployed import write_tree
from tests.realworld import copy_realworld


def roles(tree: Path, path: str | None = None) -> list[str]:
    """Each role found (`frontend_service=Service/x`) down to the first that is not, then its problem."""
    objects = ObjectSet.from_deployed(deployed_set(tree, path))
    found: list[str] = []
    front = frontend_service(objects)
    steps = [front]
    if front.chosen is not None:
        workload = selected_workload(objects, "frontend_workload", front.chosen)
        steps.append(workload)
        if workload.chosen is not None:
            backend = backend_workload(objects, workload.chosen)
            steps.append(backend)
            if backend.chosen is not None:
                steps.append(database(objects, backend.chosen)[0])
    for step in steps:
        found.append(f"{step.role}={step.chosen.kind}/{step.chosen.name}" if step.chosen else str(step.problem))
    return found


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("podinfo", "overlays/dev", ["frontend_service=Service/frontend", "frontend_workload=Deployment/frontend",
                                     "backend_workload=Deployment/backend", "db_service=Service/cache"]),
        ("podinfo/bases", None, ["frontend_service=Service/frontend", "frontend_workload=Deployment/frontend",
                                 "backend_workload=Deployment/backend", "db_service=Service/cache"]),
        ("aks-store-demo", "base", [
            "frontend_service=Service/store-front", "frontend_workload=Deployment/store-front",
            "role backend_workload: several workloads dial a datastore: Deployment/makeline-service, Deployment/order-service; "
            "pick one in the team's targets: (backend_workload: Deployment/order-service)",
        ]),
        ("k8s-guestbook", None, [
            "frontend_service=Service/frontend", "frontend_workload=Deployment/frontend", "backend_workload=Deployment/frontend",
            "role db_service: no manifest says which datastore the backend dials: Service/redis-master, Service/redis-replica; "
            "pick one in the team's targets: (db_service: Service/redis-master)",
        ]),
        ("argocd-guestbook", None, [
            "frontend_service=Service/guestbook-ui", "frontend_workload=Deployment/guestbook-ui",
            "role backend_workload: the app has no database, cache or queue for a backend to reach (no StatefulSet, no datastore image or port)",
        ]),
        ("argocd-kustomize-guestbook", None, [
            "frontend_service=Service/kustomize-guestbook-ui", "frontend_workload=Deployment/kustomize-guestbook-ui",
            "role backend_workload: the app has no database, cache or queue for a backend to reach (no StatefulSet, no datastore image or port)",
        ]),
    ],
)
def test_roles_follow_the_traffic_of_the_real_repositories(tmp_path: Path, name: str, path: str | None, expected: list[str]) -> None:
    assert roles(copy_realworld(tmp_path, name), path) == expected


def test_the_suggested_backend_settles_the_database_of_aks_store_demo(tmp_path: Path) -> None:
    objects = ObjectSet.from_deployed(deployed_set(copy_realworld(tmp_path, "aks-store-demo"), "base"))
    order = next(w for w in objects.workloads() if w.name == "order-service")
    choice, connection = database(objects, order)
    assert choice.chosen is not None and choice.chosen.name == "rabbitmq"
    assert connection is not None and connection.key.name == "ORDER_QUEUE_HOSTNAME"
    makeline = next(w for w in objects.workloads() if w.name == "makeline-service")
    assert database(objects, makeline)[0].problem == (
        "role db_service: Deployment/makeline-service dials several datastores: Service/rabbitmq, Service/documentdb; "
        "pick one in the team's targets: (db_service: Service/rabbitmq)"
    )


def test_an_ingress_route_to_root_beats_every_other_exposure(tmp_path: Path) -> None:
    ingress = ("---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: site\nspec:\n  rules:\n    - http:\n"
               "        paths:\n          - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}\n"
               "          - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}\n")
    tree = write_tree(tmp_path, {"all.yaml": ingress + service_yaml("shop", "default", 80) + service_yaml("api", "default", 80)
                                 + service_yaml("admin", "default", 80).replace("spec:\n", "spec:\n  type: LoadBalancer\n")})
    choice = frontend_service(ObjectSet.from_deployed(deployed_set(tree)))
    assert choice.chosen is not None and choice.chosen.name == "shop" and choice.reason == "routed to / by an Ingress"


@pytest.mark.parametrize(
    ("kind", "image", "port", "expected"),
    [
        ("Deployment", "registry.k8s.io/redis:e2e", 6379, "image redis"),
        ("Deployment", "gcr.io/google_samples/gb-redisslave:v1", 6379, "image redis"),
        ("StatefulSet", "ghcr.io/documentdb/documentdb/documentdb-local:pg17-0.112.0", 10260, "image documentdb"),
        ("StatefulSet", "ghcr.io/stefanprodan/podinfo:6.14.1", 3306, "StatefulSet"),
        ("Deployment", "ghcr.io/stefanprodan/podinfo:6.14.1", 3306, "port 3306"),
        ("Deployment", "mycorp/postgres-tools/api:1", 8080, None),
        ("Deployment", "gcr.io/google-samples/gb-frontend:v5", 80, None),
    ],
)
def test_datastores_are_known_by_image_kind_or_port(kind: str, image: str, port: int, expected: str | None, tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {"w.yaml": workload_yaml(kind, "x", "default", port).replace("image: x:1", f"image: {image}")})
    (workload,) = ObjectSet.from_deployed(deployed_set(tree)).workloads()
    assert datastore_kind(workload) == expected
