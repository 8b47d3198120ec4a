"""A fault's patch that renames a file: the old path is a change too. `git apply --numstat`
names only the new path, and the injector writes the rehearsal's changed paths, so without
the old one the pushed commit kept both copies (found by review)."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize("quotepath", ["true", "false"])
def test_renames_of_unusual_names_as_git_quotes_them(tmp_path: Path, quotepath: str) -> None:
    """Non-ASCII names (quoted as octal bytes, or raw with core.quotepath=false) and a tab (always quoted)."""
    made = tmp_path / "made"
    git(tmp_path, "init", "-q", str(made))
    names = [("dir/é.yaml", "dir/è.yaml"), ("dir/t\tab.yaml", "dir/中 x.yaml")]
    for old, _ in names:
        (made / old).parent.mkdir(parents=True, exist_ok=True)
        (made / old).write_text(f"name: {old!r}\n")
    git(made, "add", "-A")
    git(made, "commit", "-qm", "start")
    for old, new in names:
        git(made, "mv", old, new)
    patch = git(made, "-c", f"core.quotepath={quotepath}", "diff", "--cached", "-M")
    tree = tmp_path / "tree"
    for old, _ in names:
        (tree / old).parent.mkdir(parents=True, exist_ok=True)
        (tree / old).write_text(f"name: {old!r}\n")
    assert sorted(apply_patch(tree, patch + "\n")) == sorted(p for pair in names for p in pair)
    assert sorted(p.name for p in (tree / "dir").iterdir()) == ["è.yaml", "中 x.yaml"]


def test_a_folder_may_become_a_file(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", str(clone))
    (clone / "conf" / "old").mkdir(parents=True)
    (clone / "conf" / "old" / "a.yaml").write_text("a: 1\n")
    LocalRepo(clone).write_files({"conf/old": b"a: 1\n", "conf/old/a.yaml": None})
    assert (clone / "conf" / "old").read_bytes() == b"a: 1\n"
