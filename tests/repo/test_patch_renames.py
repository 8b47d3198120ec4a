"""A fault's patch that renames a file: the old path is a change too. `git apply --numstat`
names only the new path, and the injector writes the rehearsal's changed paths, so without
the old one the pushed commit kept both copies (found by review)."""

from __future__ import annotations

from pathlib import Path

from bot.catalog.scratch import ScratchTree
from bot.repo.workspace import LocalRepo, apply_patch
from tests.gitrepos import git

RENAME = """\
diff --git a/k8s/web.yaml b/k8s/frontend.yaml
similarity index 100%
rename from k8s/web.yaml
rename to k8s/frontend.yaml
"""


def test_a_renamed_file_is_deleted_where_the_rehearsal_leaves_it_and_restored_on_reset(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "k8s").mkdir(parents=True)
    (source / "k8s" / "web.yaml").write_text("kind: Service\n")
    tree = ScratchTree(source, tmp_path / "scratch")
    changed = apply_patch(tree.tree, RENAME)
    assert sorted(changed) == ["k8s/frontend.yaml", "k8s/web.yaml"]
    tree.touched(changed)
    contents = tree.snapshot()
    assert contents == {"k8s/frontend.yaml": b"kind: Service\n", "k8s/web.yaml": None}

    # What the injector does with it in its clone: one file afterwards, not two.
    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", str(clone))
    (clone / "k8s").mkdir()
    (clone / "k8s" / "web.yaml").write_text("kind: Service\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "start")
    LocalRepo(clone).write_files(contents)
    git(clone, "add", "-A")
    assert git(clone, "status", "--porcelain", "-M").splitlines() == ["R  k8s/web.yaml -> k8s/frontend.yaml"]

    tree.reset()
    assert sorted(p.name for p in (tree.tree / "k8s").iterdir()) == ["web.yaml"]


def test_rename_sources_follow_the_directory_the_patch_is_applied_in(tmp_path: Path) -> None:
    (tmp_path / "app" / "k8s").mkdir(parents=True)
    (tmp_path / "app" / "k8s" / "web.yaml").write_text("kind: Service\n")
    assert sorted(apply_patch(tmp_path, RENAME, directory="app")) == ["app/k8s/frontend.yaml", "app/k8s/web.yaml"]


def test_writing_a_rehearsals_files_refuses_git_internals_symlinks_and_folders(tmp_path: Path) -> None:
    import pytest

    from bot.errors import EditError

    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", str(clone))
    (clone / "real").mkdir()
    (clone / "link").symlink_to("real")  # inside the tree, but a symlink: git would refuse the path too
    (clone / "k8s" / "web.yaml").mkdir(parents=True)  # a folder where the file should go
    for path, why in ((".git/hooks/post-checkout", "inside .git"), ("sub/.GIT/config", "inside .git"),
                      ("link/x.yaml", "symlink"), ("../x.yaml", "leaves the repository"),
                      ("k8s/web.yaml", "cannot be written")):
        with pytest.raises(EditError, match=why):
            LocalRepo(clone).write_files({path: b"#!/bin/sh\n"})
    assert not (clone / ".git" / "hooks" / "post-checkout").exists() and not (clone / "real" / "x.yaml").exists()
