"""A tree is rehearsed once per process: teams whose trees are the same share the verdict,
a changed byte or setting rehearses again, a sandbox that gave no verdict is asked again,
and teams asking at once wait for one rehearsal (bot.catalog.memo, issue 17 P1/P5)."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalog.behaviour import Job, Outcome
from bot.catalog.faults import Catalog
from bot.catalog.memo import RehearsalMemo
from bot.catalog.rehearsal import rehearse_many
from bot.catalog.scratch import content_digest
from bot.repo.workspace import apply_patch
from tests.conftest import CHAT_APP

CATALOG = Catalog.load()
TYPO = CATALOG.get("web-unreachable/service-selector-typo")
SERVICE = "k8s/frontend-service.yaml"


def copy_of(tmp_path: Path, name: str) -> Path:
    tree = tmp_path / name
    shutil.copytree(CHAT_APP, tree, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return tree


def test_teams_with_the_same_tree_share_one_rehearsal(tmp_path: Path) -> None:
    memo = RehearsalMemo()
    first, second = copy_of(tmp_path, "team-a"), copy_of(tmp_path, "team-b")
    [a] = rehearse_many([TYPO], first, apply_patch=apply_patch, with_fixes=False, memo=memo)
    [b] = rehearse_many([TYPO], second, apply_patch=apply_patch, with_fixes=False, memo=memo)
    assert (memo.runs, memo.hits) == (1, 1)
    assert b is a and a.breaks and SERVICE in a.diff
    [fresh] = rehearse_many([TYPO], second, apply_patch=apply_patch, with_fixes=False, memo=None)
    assert (fresh.breaks, fresh.diff, fresh.variant) == (a.breaks, a.diff, a.variant)  # what the memo gave is what a rehearsal gives


def test_a_changed_tree_or_setting_is_rehearsed_again(tmp_path: Path) -> None:
    memo = RehearsalMemo()
    tree = copy_of(tmp_path, "team")
    [before] = rehearse_many([TYPO], tree, apply_patch=apply_patch, with_fixes=False, memo=memo)
    digest = content_digest(tree)
    service = tree / SERVICE
    service.write_text(service.read_text().replace("app: frontend", "app: frontend-web"))  # the team broke it already
    assert content_digest(tree) != digest
    [after] = rehearse_many([TYPO], tree, apply_patch=apply_patch, with_fixes=False, memo=memo)
    assert memo.runs == 2 and before.breaks and not after.breaks
    rehearse_many([TYPO], tree, apply_patch=apply_patch, with_fixes=True, memo=memo)
    assert memo.runs == 3


def test_a_mode_change_alone_changes_the_digest(tmp_path: Path) -> None:
    tree = copy_of(tmp_path, "team")
    digest = content_digest(tree)
    (tree / SERVICE).chmod(0o755)
    assert content_digest(tree) != digest


@dataclass
class FlakySandbox:
    """A runner whose first verdict is undecided (no chromium), then decided."""

    outcomes: list[bool] = field(default_factory=lambda: [False, True])
    jobs: int = 0

    def run(self, job: Job) -> Outcome:
        self.jobs += 1
        decided = self.outcomes.pop(0) if self.outcomes else True
        return Outcome(passed=True, reason="ran", decided=decided)


def test_a_rehearsal_without_a_sandbox_verdict_is_not_kept(tmp_path: Path) -> None:
    memo = RehearsalMemo()
    fault = next(f for f in CATALOG.in_family("app-bug"))
    runner = FlakySandbox()
    tree = copy_of(tmp_path, "team")
    rehearse_many([fault], tree, apply_patch=apply_patch, with_fixes=False, runner=runner, memo=memo)
    assert runner.jobs >= 1
    rehearse_many([fault], tree, apply_patch=apply_patch, with_fixes=False, runner=runner, memo=memo)
    assert memo.runs == 2 and memo.hits == 0  # asked again: the first had no verdict
    jobs = runner.jobs
    rehearse_many([fault], tree, apply_patch=apply_patch, with_fixes=False, runner=runner, memo=memo)
    assert memo.hits == 1 and runner.jobs == jobs  # the decided one was kept


def test_teams_asking_at_once_wait_for_one_rehearsal(tmp_path: Path) -> None:
    memo = RehearsalMemo()
    trees = [copy_of(tmp_path, f"team-{i}") for i in range(4)]
    results: list[object] = []
    start = threading.Barrier(len(trees))

    def team(tree: Path) -> None:
        start.wait()
        results.extend(rehearse_many([TYPO], tree, apply_patch=apply_patch, with_fixes=False, memo=memo))

    threads = [threading.Thread(target=team, args=(t,)) for t in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert memo.runs == 1 and memo.hits == 3 and len({id(r) for r in results}) == 1
