"""The three behavioural kinds on real trees: the team's tests, a fault's acceptance test and
the browser, each in a temp checkout that leaves the judged tree untouched; one chromium for all."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from bot.catalog.behaviour import Runner, tree_digest
from bot.catalog.checks import CheckContext, CheckResult, RoleBinding, Status, evaluate_one
from bot.catalog.faultspec import Check
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Role, Roles
from bot.sandbox.verdicts import CachedRunner
from tests.conftest import CHAT_APP

CHECK: TypeAdapter[Check] = TypeAdapter(Check)


def binding(tree: Path = CHAT_APP) -> RoleBinding:
    roles = Roles(ManifestIndex.scan(tree))
    return RoleBinding.from_targets(roles.resolve(r) for r in Role)


def judge(spec: dict[str, object], tree: Path, runner: Runner, fault_dir: Path | None = None) -> CheckResult:
    return evaluate_one(CHECK.validate_python(spec), CheckContext(tree, binding(CHAT_APP), runner=runner, fault_dir=fault_dir))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "chat-app"
    shutil.copytree(CHAT_APP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_teams_tests_pass_then_fail_with_the_failure_in_the_reason(tree: Path, behaviour: Runner) -> None:
    before = tree_digest(tree, ["backend", "frontend", "k8s"])
    assert judge({"check": "tests"}, tree, behaviour).status is Status.passed
    assert tree_digest(tree, ["backend", "frontend", "k8s"]) == before  # the sandbox ran a copy
    store = tree / "backend" / "chat" / "store.py"
    store.write_text(store.read_text().replace("ORDER BY id ASC", "ORDER BY id DESC"))
    result = judge({"check": "tests"}, tree, behaviour)
    assert result.status is Status.failed and "failed" in result.reason and "passed" in result.reason, result.reason


def test_a_test_command_that_hangs_is_stopped_at_its_time_limit(tree: Path, behaviour: Runner) -> None:
    (tree / "backend" / "tests" / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(60)\n")
    result = judge({"check": "tests", "timeout": "3s"}, tree, behaviour)
    assert result.status is Status.failed and "did not finish within 3s" in result.reason


def test_an_acceptance_test_starts_the_commits_backend_on_sqlite(tree: Path, tmp_path: Path, behaviour: Runner) -> None:
    fault_dir = tmp_path / "fault"
    fault_dir.mkdir()
    (fault_dir / "acceptance_test.py").write_text(
        "def test_round_trip(backend, folders):\n"
        "    assert (folders['backend_source'] / 'chat' / 'app.py').is_file()\n"
        "    status, created = backend.post_json('/api/messages', {'author': 'a', 'text': '<b>x</b>'})\n"
        "    assert status == 201\n"
        "    assert backend.get('/api/messages')[1]['messages'][0]['text'] == '<b>x</b>'\n"
    )
    spec = {"check": "acceptance", "file": "acceptance_test.py"}
    assert judge(spec, tree, behaviour, fault_dir).status is Status.passed
    app = tree / "backend" / "chat" / "app.py"
    app.write_text(app.read_text().replace('"/api/messages": {"GET"', '"/api/message": {"GET"'))
    result = judge(spec, tree, behaviour, fault_dir)
    assert result.status is Status.failed and "assert 404 == 201" in result.reason, result.reason


def test_a_backend_that_does_not_start_fails_with_its_own_words(tree: Path, tmp_path: Path, behaviour: Runner) -> None:
    fault_dir = tmp_path / "fault"
    fault_dir.mkdir()
    (fault_dir / "acceptance_test.py").write_text("def test_up(backend):\n    assert backend.get('/healthz')[0] == 200\n")
    (tree / "backend" / "chat" / "__main__.py").write_text("raise SystemExit('no config for you')\n")
    result = judge({"check": "acceptance", "file": "acceptance_test.py"}, tree, behaviour, fault_dir)
    assert result.status is Status.failed and "no config for you" in result.reason, result.reason


def test_the_browser_check_sees_a_script_error_and_shares_one_chromium(tree: Path, behaviour: Runner) -> None:
    assert isinstance(behaviour, CachedRunner)
    assert judge({"check": "browser"}, tree, behaviour).status is Status.passed
    launches = behaviour.runner.browser.launches  # type: ignore[attr-defined]
    app = tree / "frontend" / "app.js"
    app.write_text(app.read_text().replace("function formatTime(isoString) {", "function formatTime(isoString) {\n  undefinedHelper();"))
    result = judge({"check": "browser"}, tree, behaviour)
    assert result.status is Status.failed and "undefinedHelper is not defined" in result.reason, result.reason
    assert behaviour.runner.browser.launches == launches == 1  # type: ignore[attr-defined]


WAIT_FOR_ANOTHER = """import pathlib, sys, time
here = pathlib.Path(sys.argv[1])
mine = here / sys.argv[2]
mine.touch()
deadline = time.monotonic() + 3  # a bound: alone, nobody ever comes
while time.monotonic() < deadline and len(list(here.iterdir())) < 2:
    time.sleep(0.05)
others = len(list(here.iterdir())) - 1
mine.unlink()
print(f"{others} other job(s) running")
sys.exit(1 if others else 0)
"""


def test_a_sandbox_runs_no_more_jobs_at_once_than_it_has_slots(tree: Path, tmp_path: Path) -> None:
    """Rehearsal lanes times team threads must not start a dozen servers at once: jobs past the
    sandbox's slots wait their turn (here one slot: each job, waiting for another, sees none)."""
    import threading

    from bot.catalog.behaviour import Job, Outcome
    from bot.sandbox.runner import Sandbox

    running = tmp_path / "running"
    running.mkdir()
    check = CHECK.validate_python({"check": "tests"})
    sandbox = Sandbox(max_jobs=1)
    outcomes: list[Outcome] = []

    def job(name: str) -> None:
        command = ("{python}", "-c", WAIT_FOR_ANOTHER, str(running), name)
        outcomes.append(sandbox.run(Job("tests", tree, {"backend_source": "backend"}, 60, name, check, command)))

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o.passed for o in outcomes] == [True, True], [o.reason for o in outcomes]
    assert all("0 other job(s) running" in o.reason for o in outcomes)


def test_a_browser_tasks_time_limit_does_not_count_its_wait_for_the_shared_chromium() -> None:
    # Rehearsal lanes run a few browser checks of one tree at once, all on one chromium. Three
    # tasks of 1 s with a limit of 1.8 s each: one after another they end at 1, 2 and 3 s. Timed
    # from the queue, the last two "did not finish" and a healthy tree's verdict was kept as broken.
    import time as clock

    from bot.sandbox.browser import SharedBrowser
    from tests.conftest import require_chromium

    browser = SharedBrowser(require_chromium())
    try:
        assert browser.run(lambda b: b.is_connected(), timeout=60)  # chromium up before the clock matters
        results: dict[int, str] = {}

        def check(n: int) -> None:
            try:
                results[n] = browser.run(lambda _b: clock.sleep(1.0) or "ok", timeout=1.8)
            except TimeoutError:
                results[n] = "timed out"

        threads = [threading.Thread(target=check, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == {0: "ok", 1: "ok", 2: "ok"}, results
    finally:
        browser.close()
