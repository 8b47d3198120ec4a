"""Fix search on a big repository passes over a commit that changes nothing the fault's checks
read (no checkout, no evaluation: issue 17, P4), and still judges one that does."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.game.events import Head
from bot.game.timeline import State
from tests.conftest import CHAT_APP
from tests.gitrepos import git
from tests.repo.test_detect import ALICE, SELECTOR, Game, start_game

FILLER = 400  # service configs and pages: YAML and Markdown no check reads


def big_chat_app(tmp_path: Path) -> Path:
    source = tmp_path / "big-chat-app"
    shutil.copytree(CHAT_APP, source)
    for i in range(FILLER):
        folder = source / "services" / f"svc-{i:04d}"
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(f"name: svc-{i:04d}\nreplicas: 2\nlog_level: info\n")
        (folder / "README.md").write_text(f"# svc-{i:04d}\n")
    return source


def judged_at(game: Game) -> str:
    """The commit the bot's cache has checked out: the last tree fix search judged."""
    return git(game.watcher.cache.path, "rev-parse", "HEAD")


def commit_file(game: Game, rel: str, text: str, message: str) -> str:
    path = game.remote.clone / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(game.remote.clone, "add", "-A")
    return game.team_commit(message)


def test_an_unrelated_commit_is_not_judged_and_a_related_one_is(tmp_path: Path) -> None:
    game = start_game(tmp_path, SELECTOR, source=big_chat_app(tmp_path))
    assert game.instance().state is State.injected
    first = judged_at(game)

    unrelated = commit_file(game, "services/svc-0007/config.yaml", "name: svc-0007\nreplicas: 3\nlog_level: debug\n",
                            "svc-0007: more replicas")
    page = commit_file(game, "services/svc-0008/README.md", "# svc-0008\n\nOwned by payments.\n", "Docs: owner")
    instance = game.instance()
    seen = game.store.latest("team-a", Head)
    assert seen is not None and seen.head == page  # the bot saw the branch move past both
    assert judged_at(game) == first, "a commit touching nothing the checks read was checked out and judged"
    assert instance.state is State.injected and instance.fix_sha is None
    assert instance.first_response is not None and instance.first_response.sha == unrelated

    # A manifest anywhere may change what is deployed (a new object, an ArgoCD Application): judged.
    configmap = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-0009\n  namespace: chat\n"
                 "data:\n  level: info\n")
    judged = commit_file(game, "services/svc-0009/configmap.yaml", configmap, "svc-0009: config as a ConfigMap")
    assert game.instance().state is State.injected
    assert judged_at(game) == judged

    # The fix touches the Service the checks read: judged, and found.
    git(game.remote.clone, *ALICE, "revert", "--no-edit", game.injected)
    git(game.remote.clone, "push", "-q", "origin", "HEAD:main")
    fix = git(game.remote.clone, "rev-parse", "HEAD")
    fixed = game.instance()
    assert (fixed.state, fixed.fix_kind, fixed.fix_sha) == (State.fixed, "revert", fix)
    assert judged_at(game) == fix


def generated_endpoint_app(tmp_path: Path) -> Path:
    """The chat app with the backend's DB_HOST read from a kustomize-generated ConfigMap (an env file)."""
    source = tmp_path / "generated-endpoint"
    shutil.copytree(CHAT_APP, source)
    backend = source / "k8s/backend.yaml"
    written = "            - name: DB_HOST\n              value: postgres\n"
    assert written in backend.read_text()
    backend.write_text(backend.read_text().replace(written, (
        "            - name: DB_HOST\n              valueFrom:\n                configMapKeyRef:\n"
        "                  name: db-endpoint\n                  key: db_host\n")))
    kustomization = source / "k8s/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "configMapGenerator:\n  - name: db-endpoint\n    envs: [db.env]\n")
    (source / "k8s/db.env").write_text("db_host=postgres\n")
    return source


def test_a_fix_that_only_adds_the_env_file_a_generator_names_is_judged(tmp_path: Path) -> None:
    """A generator's file is read though the judged tree lacks it (found by review: it was passed over)."""
    game = start_game(tmp_path, "db-unreachable/db-host-typo", source=generated_endpoint_app(tmp_path))
    assert game.instance().state is State.injected
    kustomization = game.remote.clone / "k8s/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("envs: [db.env]", "envs: [endpoint.env]"))
    game.team_commit("db: endpoint settings in their own file")
    assert game.instance().state is State.injected  # the generator names a file that is not there yet
    fix = commit_file(game, "k8s/endpoint.env", "db_host=postgres\n", "db: add endpoint.env")
    fixed = game.instance()
    assert (fixed.state, fixed.fix_sha) == (State.fixed, fix)
    assert judged_at(game) == fix
