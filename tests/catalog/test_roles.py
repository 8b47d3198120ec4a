"""Roles: discovered by following the traffic, or mapped with `targets:`; clear errors otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.errors import RoleError
from tests.conftest import CHAT_APP, ROOT

ALT = ROOT / "tests" / "fixtures" / "alt-layout"


def names(roles: Roles) -> dict[str, str]:
    return {role.value: roles.resolve(role).describe() for role in Role if roles.try_resolve(role)}


def test_chat_app_roles_are_discovered() -> None:
    found = names(Roles(ManifestIndex.scan(CHAT_APP)))
    assert found == {
        "ingress": "Ingress/chat (k8s/ingress.yaml)",
        "frontend_service": "Service/frontend (k8s/frontend-service.yaml)",
        "frontend_workload": "Deployment/frontend (k8s/frontend.yaml)",
        "backend_service": "Service/backend (k8s/backend.yaml)",
        "backend_workload": "Deployment/backend (k8s/backend.yaml)",
        "db_service": "Service/postgres (k8s/postgres.yaml)",
        "db_workload": "StatefulSet/postgres (k8s/postgres.yaml)",
        "db_secret": "Secret/postgres-credentials (k8s/secret.yaml)",
        "network_policies": ", ".join(
            f"NetworkPolicy/{n} (k8s/networkpolicy.yaml)"
            for n in ("default-deny", "allow-ingress-to-frontend", "allow-frontend-to-backend", "allow-backend-to-db")
        ),
        "frontend_source": "frontend/",
        "backend_source": "backend/",
        "terraform": "terraform/",
        "db_connection": "Deployment/backend: Deployment/backend container backend env DB_HOST = postgres:5432 -> Service/postgres",
    }


def test_alt_layout_roles_are_discovered() -> None:
    roles = Roles(ManifestIndex.scan(ALT))
    found = names(roles)
    assert found["frontend_service"] == "Service/web-svc (deploy/app.yaml)"
    assert found["db_workload"] == "Deployment/database (deploy/app.yaml)"
    assert found["backend_source"] == "api/"
    with pytest.raises(RoleError, match="deploys no NetworkPolicy"):
        roles.resolve(Role.network_policies)
    with pytest.raises(RoleError, match="role terraform: no such directory"):
        roles.resolve(Role.terraform)


def test_targets_override_discovery() -> None:
    roles = Roles(ManifestIndex.scan(CHAT_APP), {Role.frontend_service: "k8s/backend.yaml#Service/backend"})
    assert roles.resolve(Role.frontend_service).resource.name == "backend"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("k8s/ingress.yaml#Service/nope", "names nothing the repo deploys"),
        ("Service", "must look like path#Kind/name"),
    ],
)
def test_bad_targets_are_clear(target: str, message: str) -> None:
    roles = Roles(ManifestIndex.scan(CHAT_APP), {Role.frontend_service: target})
    with pytest.raises(RoleError, match=message):
        roles.resolve(Role.frontend_service)


def test_ambiguous_role_names_the_candidates(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CHAT_APP, repo)
    ingress = (repo / "k8s" / "ingress.yaml").read_text()
    (repo / "k8s" / "ingress-2.yaml").write_text(ingress.replace("name: chat\n", "name: chat-canary\n", 1))
    kustomization = repo / "k8s" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - ingress.yaml\n", "  - ingress.yaml\n  - ingress-2.yaml\n"))
    with pytest.raises(RoleError) as caught:
        Roles(ManifestIndex.scan(repo)).resolve(Role.ingress)
    assert "Ingress/chat" in caught.value.message and "Ingress/chat-canary" in caught.value.message
    assert "targets:" in caught.value.message


def test_index_follows_kustomization_only(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CHAT_APP, repo)
    (repo / "k8s" / "unlisted.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: ghost}\n")
    index = ManifestIndex.scan(repo)
    assert all(r.name != "ghost" for r in index.resources)
    assert all(r.kind != "Application" for r in index.resources)  # argocd/ is not deployed by k8s/
    assert {r.namespace for r in index.resources if r.kind != "Namespace"} == {"chat"}
