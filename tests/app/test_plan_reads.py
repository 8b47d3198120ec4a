"""Planning reads a tree's deployed root once per content, even when every team of an event
plans at once on its own copy of one template (a daemon's first round; issue 17, P1-daemon)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from bot.app.faults import RootReads
from bot.catalog.manifests import DeployRoot
from tests.conftest import CHAT_APP


def copies(tmp_path: Path, count: int) -> list[Path]:
    trees = []
    for i in range(count):
        tree = tmp_path / f"team-{i}"
        shutil.copytree(CHAT_APP, tree, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        trees.append(tree)
    return trees


def test_teams_planning_at_once_on_one_template_parse_it_once(tmp_path: Path) -> None:
    reads = RootReads()
    trees = copies(tmp_path, 4)
    found: list[object] = []
    start = threading.Barrier(len(trees))

    def team(tree: Path) -> None:
        start.wait()
        found.append(reads.read(tree, DeployRoot()))

    threads = [threading.Thread(target=team, args=(t,)) for t in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads.scans == 1 and len(found) == 4 and len({id(f) for f in found}) == 1


def test_a_tree_with_other_content_or_another_root_is_read_again(tmp_path: Path) -> None:
    reads = RootReads()
    first, second = copies(tmp_path, 2)
    reads.read(first, DeployRoot())
    reads.read(second, DeployRoot())
    assert reads.scans == 1
    (second / "k8s" / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    changed = reads.read(second, DeployRoot())
    assert reads.scans == 2
    reads.read(first, DeployRoot("k8s"))
    assert reads.scans == 3 and changed.deployed_root
