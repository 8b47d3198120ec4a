"""A revert is scored as a revert however it reaches main (issue 16 item 6).

The chat-app's own CI (`bump-tags`) rewrites the image tags in k8s/frontend.yaml and
k8s/backend.yaml after every build: the very files many faults edit. A team that reverts the
fault on a branch and merges it with a merge commit after such a bump must still be scored
"revert": the merge commit's message names no revert (the commit it brought in does), and
the file is not what it was before the fault (the tag moved on) — only the fault's own lines are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.game.timeline import State, fold
from tests.gitrepos import git
from tests.repo.test_detect import start_game

SCALED = "web-unreachable/frontend-scaled-to-zero"
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]
CI = ["-c", "user.name=github-actions[bot]", "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com"]


def bump_tags(clone: Path, tag: str) -> None:
    """What the example's bump-tags job does after a build on main."""
    for name in ("frontend", "backend"):
        manifest = clone / "k8s" / f"{name}.yaml"
        manifest.write_text(manifest.read_text().replace(f"chat-{name}:1.4.2", f"chat-{name}:{tag}"))
    git(clone, *CI, "commit", "-qam", f"Deploy {tag}")


@pytest.mark.parametrize(("how", "kind"), [
    ("git-revert", "revert"),
    ("replicas-restored-by-hand", "revert"),
    ("replicas-set-to-three", "forward-fix"),
])
def test_a_fix_merged_after_a_ci_bump_in_the_same_file_is_judged_on_the_faults_own_lines(
    tmp_path: Path, how: str, kind: str
) -> None:
    game = start_game(tmp_path, SCALED)
    remote, store, watcher, injected, clone = game.remote, game.store, game.watcher, game.injected, game.remote.clone
    git(clone, "checkout", "-q", "-b", "fix/frontend-replicas")  # the team's branch, from the broken main
    if how == "git-revert":
        git(clone, *ALICE, "revert", "--no-edit", injected)
    else:
        manifest = clone / "k8s" / "frontend.yaml"
        value = "2" if how == "replicas-restored-by-hand" else "3"
        manifest.write_text(manifest.read_text().replace("replicas: 0", f"replicas: {value}"))
        git(clone, *ALICE, "commit", "-qam", "Bring the frontend back")
    git(clone, "checkout", "-q", "main")
    bump_tags(clone, "5d41402")  # CI ran on main meanwhile, in the same file
    git(clone, "push", "-q", "origin", "main")
    assert fold(store.events("team-a")) and watcher.refresh().moved
    git(clone, *ALICE, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from team-a/fix/frontend-replicas",
        "fix/frontend-replicas")
    git(clone, "push", "-q", "origin", "main")
    watcher.refresh()
    (instance,) = fold(store.events("team-a"))
    assert instance.state is State.fixed and instance.fix_sha == remote.head()
    assert instance.fix_kind == kind
    assert instance.fixed_by is not None and instance.fixed_by.name == "Alice Ng"
