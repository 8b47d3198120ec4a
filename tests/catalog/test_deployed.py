"""Which files and objects a repository deploys: kustomize reach, names, namespaces, roots, Helm."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog.deployed import HELM_MESSAGE, Mode, deployed_set
from bot.catalog.kustomize import NoteKind, build
from tests.realworld import copy_realworld


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def service(name: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}{ns}\nspec:\n  selector:\n    app: {name}\n  ports:\n    - port: 80\n"


def names(deployed: object) -> list[tuple[str, str, str, str]]:
    return sorted((r.kind, r.name, r.namespace, r.path) for r in deployed.resources)  # type: ignore[attr-defined]


# --- the real repositories ---------------------------------------------------------------------

def test_podinfo_overlays_are_several_roots_over_the_same_files(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "podinfo")
    found = deployed_set(tree)
    assert found.mode is Mode.refused and found.resources == ()
    assert found.problem == (
        "several kustomize roots deploy the same files (overlays/dev, overlays/production, overlays/staging); "
        "set the team's `path:` to the one ArgoCD deploys (e.g. path: overlays/dev)"
    )


def test_podinfo_dev_overlay_puts_every_base_object_in_its_namespace(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "podinfo")
    found = deployed_set(tree, "overlays/dev")
    assert found.mode is Mode.kustomize and found.problem is None
    assert {r.namespace for r in found.resources} == {"dev", ""}  # "" is the Namespace object itself
    kinds = sorted(f"{r.kind}/{r.name}" for r in found.resources)
    assert "StatefulSet/database-primary" in kinds and "Namespace/dev" in kinds and len(kinds) == 21
    assert not any(r.path.startswith(("overlays/staging", "overlays/production", "webapp", "secure")) for r in found.resources)
    assert "overlays/dev/labels.yaml" not in {r.path for r in found.resources}  # a transformer config, not a resource
    (note,) = [n for n in found.notes if n.kind is NoteKind.not_modelled]
    assert note.path == "overlays/dev/kustomization.yaml" and "`transformers:`" in note.message
    generated = {g.name: g for g in found.generated}
    assert generated["redis-config"].hashed and generated["redis-config"].deployed_name == "redis-config-<hash>"
    assert not generated["rollup-script"].hashed
    entry = generated["rollup-script"].value("rollup.sh")
    assert entry is not None and entry.location.path == "bases/database/scripts/rollup.sh"
    assert "database-replica:3306" in entry.value


def test_podinfo_bases_alone_are_four_apps_that_share_no_file(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "podinfo/bases")
    found = deployed_set(tree)
    assert found.mode is Mode.kustomize and found.root == "backend, cache, database, frontend"
    assert {r.namespace for r in found.resources} == {"default"}
    assert len(found.resources) == 20


def test_aks_store_demo_needs_a_path_and_its_base_deploys_sixteen_objects(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "aks-store-demo")
    whole = deployed_set(tree)
    assert whole.mode is Mode.refused and whole.problem is not None
    assert "overlays/dev, overlays/kaito" in whole.problem and "(e.g. path: overlays/dev)" in whole.problem
    base = deployed_set(tree, "base")
    assert len(base.resources) == 16 and base.notes == ()
    assert [r.doc_index for r in base.resources if r.path == "base/rabbitmq.yaml"] == [1, 2]  # the file starts with ---
    azd = deployed_set(tree, "overlays/azd/order-service")
    assert [str(n) for n in azd.notes] == [
        "overlays/azd/order-service/kustomization.yaml: env file '.env' does not exist (kustomize would refuse to build)"
    ]


def test_guestbook_copies_below_the_top_folder_are_reported_not_deployed(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "k8s-guestbook")
    found = deployed_set(tree)
    assert found.mode is Mode.directory and found.root == "."
    assert names(found) == sorted([
        ("Deployment", "frontend", "default", "frontend-deployment.yaml"),
        ("Service", "frontend", "default", "frontend-service.yaml"),
        ("Deployment", "redis-master", "default", "redis-master-deployment.yaml"),
        ("Service", "redis-master", "default", "redis-master-service.yaml"),
        ("Deployment", "redis-replica", "default", "redis-replica-deployment.yaml"),
        ("Service", "redis-replica", "default", "redis-replica-service.yaml"),
    ])
    assert {(n.kind, n.path) for n in found.notes} == {(NoteKind.ignored, "all-in-one"), (NoteKind.ignored, "legacy")}
    # ArgoCD's own default for a directory source: that folder only, unless recurse is set.
    assert names(deployed_set(tree, "all-in-one")) == names(deployed_set(tree, "all-in-one", recurse=True))
    assert len(deployed_set(tree, ".", recurse=True).resources) == 19


def test_argocd_guestbooks_plain_and_behind_a_name_prefix_with_trailing_tabs(tmp_path: Path) -> None:
    plain = deployed_set(copy_realworld(tmp_path, "argocd-guestbook"))
    assert names(plain) == [("Deployment", "guestbook-ui", "default", "guestbook-ui-deployment.yaml"),
                            ("Service", "guestbook-ui", "default", "guestbook-ui-svc.yaml")]
    prefixed = deployed_set(copy_realworld(tmp_path, "argocd-kustomize-guestbook"))
    assert names(prefixed) == [("Deployment", "kustomize-guestbook-ui", "default", "guestbook-ui-deployment.yaml"),
                               ("Service", "kustomize-guestbook-ui", "default", "guestbook-ui-svc.yaml")]
    assert [str(n) for n in prefixed.notes] == [
        "guestbook-ui-svc.yaml: read with trailing TABs ignored on line(s) 1-9 (kubectl accepts them)"
    ]


def test_a_helm_chart_is_refused_in_one_line(tmp_path: Path) -> None:
    tree = copy_realworld(tmp_path, "argocd-helm-guestbook")
    for found in (deployed_set(tree), deployed_set(tree, ".")):
        assert found.mode is Mode.refused and found.problem == HELM_MESSAGE and "\n" not in HELM_MESSAGE
    nested = write_tree(tmp_path / "nested", {"charts/app/Chart.yaml": "name: app\n", "charts/app/templates/svc.yaml": "{{ .Values.x }}\n"})
    assert deployed_set(nested).problem == HELM_MESSAGE
    inflated = write_tree(tmp_path / "inflated", {"kustomization.yaml": "helmCharts:\n  - name: redis\n"})
    assert deployed_set(inflated).problem == HELM_MESSAGE


# --- kustomize semantics on small trees ----------------------------------------------------------

def test_prefixes_suffixes_and_namespaces_compose_like_kustomize(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "base/kustomization.yaml": "namespace: inner\nnamePrefix: in-\nnameSuffix: -s1\nresources: [svc.yaml]\n",
        "base/svc.yaml": service("web"),
        "overlay/kustomization.yaml": "namespace: outer\nnamePrefix: out-\nnameSuffix: -s2\nresources: [../base, ns.yaml]\n",
        "overlay/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: outer\n",
    })
    found = deployed_set(tree)
    assert names(found) == [("Namespace", "outer", "", "overlay/ns.yaml"), ("Service", "out-in-web-s1-s2", "outer", "base/svc.yaml")]
    assert found.scope_of("base/svc.yaml") is not None and found.scope_of("base/svc.yaml").kustomization == "base/kustomization.yaml"  # type: ignore[union-attr]


def test_components_count_only_when_listed(tmp_path: Path) -> None:
    files = {
        "app/svc.yaml": service("web"),
        "components/cache/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [cache.yaml]\n",
        "components/cache/cache.yaml": service("cache"),
    }
    without = write_tree(tmp_path / "without", {**files, "app/kustomization.yaml": "resources: [svc.yaml]\n"})
    assert [r.name for r in deployed_set(without, "app").resources] == ["web"]
    listed = write_tree(tmp_path / "listed", {**files, "app/kustomization.yaml": "resources: [svc.yaml]\ncomponents: [../components/cache]\n"})
    assert sorted(r.name for r in deployed_set(listed, "app").resources) == ["cache", "web"]


def test_what_kustomize_would_refuse_or_not_fetch_is_reported(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "kustomization.yaml": (
            "resources:\n  - svc.yaml\n  - gone.yaml\n  - plain\n  - https://github.com/org/repo//deploy?ref=v1\n  - svc.yaml\n"
            "patches:\n  - path: patch.yaml\n"
        ),
        "svc.yaml": service("web"),
        "plain/deployment.yaml": "kind: Deployment\n",
    })
    notes = {(n.kind, n.message.split(" (")[0].split(";")[0]) for n in build(tree, "").notes}
    assert notes == {
        (NoteKind.missing, "resource 'gone.yaml' does not exist"),
        (NoteKind.missing, "resource 'plain' is a folder without a kustomization.yaml"),
        (NoteKind.remote, "remote resource 'https://github.com/org/repo//deploy?ref=v1' is not fetched"),
        (NoteKind.conflict, "reached twice"),
        (NoteKind.not_modelled, "`patches:` is not applied by faultbot"),
    }


def test_generators_say_where_each_value_is_written(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "base/kustomization.yaml": (
            "configMapGenerator:\n  - name: app\n    literals:\n      - DB_HOST=postgres\n      - LOG=info\n"
            "    envs: [app.env]\n    files: [conf/nginx.conf, custom=conf/other.txt]\n"
        ),
        "base/app.env": "# comment\nCACHE_ADDR=cache:6379\n\nQUEUE=amqp://mq\n",
        "base/conf/nginx.conf": "proxy_pass http://backend:8000;\n",
        "base/conf/other.txt": "x\n",
        "overlay/kustomization.yaml": (
            "resources: [../base]\nconfigMapGenerator:\n  - name: app\n    behavior: merge\n    literals: [LOG=debug]\n"
            "generatorOptions:\n  disableNameSuffixHash: true\n"
        ),
    })
    (generated,) = deployed_set(tree, "overlay").generated
    values = {e.key: (e.value, str(e.location), e.location.span) for e in generated.entries}
    assert values == {
        "DB_HOST": ("postgres", "base/kustomization.yaml configMapGenerator[0].literals[0]", (8, 16)),
        "CACHE_ADDR": ("cache:6379", "base/app.env:2", (11, 21)),
        "QUEUE": ("amqp://mq", "base/app.env:4", (6, 15)),
        "nginx.conf": ("proxy_pass http://backend:8000;\n", "base/conf/nginx.conf", None),
        "custom": ("x\n", "base/conf/other.txt", None),
        "LOG": ("debug", "overlay/kustomization.yaml configMapGenerator[0].literals[0]", (4, 9)),
    }
    assert not generated.hashed


def test_an_argocd_application_in_the_repo_names_the_root(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {
        "argocd/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    path: deploy/prod\n",
        "deploy/prod/svc.yaml": service("web"),
        "deploy/dev/svc.yaml": service("web"),
    })
    found = deployed_set(tree)
    assert [r.path for r in found.resources] == ["deploy/prod/svc.yaml"]
    assert found.reason == "path: deploy/prod of the ArgoCD Application in argocd/app.yaml"


def test_unreadable_manifests_are_reported_never_dropped_silently(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {"svc.yaml": service("web"), "broken.yaml": "kind: Service\nmetadata:\tx\n"})
    found = deployed_set(tree)
    assert [r.name for r in found.resources] == ["web"]
    assert [str(n) for n in found.notes] == [
        "broken.yaml: line 2: found character '\\t' that cannot start any token; kubectl may accept it, faultbot cannot read it"
    ]


@pytest.mark.parametrize("path", ["missing", "../outside"])
def test_a_path_that_is_not_a_folder_of_the_repo_is_refused(tmp_path: Path, path: str) -> None:
    (tmp_path / "repo").mkdir()
    found = deployed_set(tmp_path / "repo", path)
    assert found.mode is Mode.refused and found.problem == f"path: {path!r} is not a directory of the repository"
