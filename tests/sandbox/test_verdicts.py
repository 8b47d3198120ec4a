"""The verdict cache: a judgement is made once per (inputs, judge) and survives a restart; a
sandbox failure is not a verdict and is asked again."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from bot.catalog.behaviour import Job, Outcome, job_key
from bot.catalog.behaviourspec import TeamTests
from bot.sandbox.verdicts import CachedRunner, VerdictCache
from tests.conftest import CHAT_APP

CHECK = TeamTests(check="tests")


class CountingRunner:
    """A real runner's shape: it decides from the job; counts how often it is asked."""

    def __init__(self, decided: bool = True, delay: float = 0.0) -> None:
        self.calls = 0
        self.decided = decided
        self.delay = delay

    def run(self, job: Job) -> Outcome:
        self.calls += 1
        time.sleep(self.delay)
        return Outcome(job.tree.name == "chat-app", f"judged {job.tree.name}", "output", 0.5, decided=self.decided)


def job(tree: Path) -> Job:
    directories = {"backend_source": "backend"}
    return Job("tests", tree, directories, 60, job_key("tests", CHECK, tree, directories), CHECK, ("pytest",))


def test_the_same_inputs_are_judged_once_and_survive_a_restart(tmp_path: Path) -> None:
    file = tmp_path / "verdicts.jsonl"
    counting = CountingRunner()
    runner = CachedRunner(counting, VerdictCache(file))
    first = runner.run(job(CHAT_APP))
    again = runner.run(job(CHAT_APP))
    assert counting.calls == 1 and (runner.runs, runner.hits) == (1, 1)
    assert replace(again, cached=False) == replace(first, output=first.output) and again.cached
    restarted = CachedRunner(CountingRunner(), VerdictCache(file))
    assert restarted.run(job(CHAT_APP)).cached and restarted.runs == 0


def test_a_changed_file_is_a_new_judgement(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "chat-app"
    shutil.copytree(CHAT_APP, tree)
    counting = CountingRunner()
    runner = CachedRunner(counting, VerdictCache())
    runner.run(job(tree))
    (tree / "k8s" / "ingress.yaml").write_text("changed outside what the job reads\n")
    runner.run(job(tree))
    assert counting.calls == 1  # k8s/ is not an input of the backend's tests
    app = tree / "backend" / "chat" / "app.py"
    app.write_text(app.read_text() + "\n# a change\n")
    runner.run(job(tree))
    assert counting.calls == 2


def test_a_sandbox_failure_is_not_kept(tmp_path: Path) -> None:
    counting = CountingRunner(decided=False)
    cache = VerdictCache(tmp_path / "verdicts.jsonl")
    runner = CachedRunner(counting, cache)
    runner.run(job(CHAT_APP))
    runner.run(job(CHAT_APP))
    assert counting.calls == 2 and len(cache) == 0 and not (tmp_path / "verdicts.jsonl").exists()


def test_a_torn_line_is_judged_again(tmp_path: Path) -> None:
    file = tmp_path / "verdicts.jsonl"
    CachedRunner(CountingRunner(), VerdictCache(file)).run(job(CHAT_APP))
    file.write_text(file.read_text()[:-20], encoding="utf-8")  # a crash mid-write
    counting = CountingRunner()
    CachedRunner(counting, VerdictCache(file)).run(job(CHAT_APP))
    assert counting.calls == 1


def test_two_threads_asking_the_same_judgement_run_it_once() -> None:
    counting = CountingRunner(delay=0.3)
    runner = CachedRunner(counting, VerdictCache())
    threads = [threading.Thread(target=runner.run, args=(job(CHAT_APP),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counting.calls == 1 and runner.hits == 3
