"""Faults whose checks run code are rehearsed several at once, each on its own scratch copy
(bot.catalog.rehearsal.LANES, issue 17 P5): a sandbox job mostly waits, so one fault's tests
run while another's page loads. What each rehearsal finds is what one lane finds."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import bot.catalog.rehearsal as rehearsal
from bot.catalog.behaviour import Job, Outcome, Runner
from bot.catalog.checks import is_behavioural
from bot.catalog.faults import Catalog
from bot.catalog.rehearsal import rehearse_many
from bot.repo.workspace import apply_patch
from tests.conftest import CHAT_APP

CATALOG = Catalog.load()
FAULTS = [CATALOG.get(i) for i in ("web-unreachable/service-selector-typo", "app-bug/messages-invisible",
                                   "db-unreachable/db-host-typo", "app-bug/messages-stored-escaped")]


@dataclass
class Overlaps:
    """The real sandbox runner, noting how many jobs are in flight at once; a job waits (a bounded
    while) for a second one to start, so jobs that can overlap do."""

    runner: Runner
    in_flight: int = 0
    most: int = 0
    partner: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, job: Job) -> Outcome:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight > 1:
                self.partner.set()
        try:
            if not self.partner.wait(timeout=30):  # a bound, not a timing: one lane never gets a partner
                self.partner.set()  # and then waits once, not once per job
            return self.runner.run(job)
        finally:
            with self.lock:
                self.in_flight -= 1


def summary(results: list[rehearsal.Rehearsal]) -> list[tuple[object, ...]]:
    return [(r.fault.id, r.applicable, r.healthy_before, r.broken_after, r.variant, r.diff,
             [(c.name, c.passed) for c in r.after]) for r in results]


def test_faults_that_run_code_are_rehearsed_at_once(tmp_path: Path, behaviour: Runner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert [any(is_behavioural(c) for c in f.spec.fixed_when) for f in FAULTS] == [False, True, False, True]
    tree = tmp_path / "team"
    shutil.copytree(CHAT_APP, tree, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    watched = Overlaps(behaviour)
    results = rehearse_many(FAULTS, tree, apply_patch=apply_patch, with_fixes=False, runner=watched, memo=None)
    assert watched.most >= 2
    assert [r.fault for r in results] == FAULTS  # in the faults' order, whichever lane took each
    assert all(r.breaks for r in results), [r.reason for r in results]
    monkeypatch.setattr(rehearsal, "LANES", 1)
    one_lane = rehearse_many(FAULTS, tree, apply_patch=apply_patch, with_fixes=False, runner=behaviour, memo=None)
    assert summary(results) == summary(one_lane)

