"""Fix detection for an app-bug fault judges behaviour (the browser, the team's tests) at the
commits that can matter, and never runs the same judgement twice: not for commits that touch
no folder the checks read, not for a restarted daemon re-walking the history."""

from __future__ import annotations

from pathlib import Path

from bot.app.compose import make_watcher
from bot.config import load_config
from bot.game.timeline import State, fold
from bot.sandbox.verdicts import CachedRunner
from tests.repo.test_detect import CATALOG, start_game

FAULT = "app-bug/api-path-typo"


def test_an_app_bug_fix_is_judged_by_behaviour_once_per_tree(tmp_path: Path, behaviour: CachedRunner) -> None:
    game = start_game(tmp_path, FAULT)
    runs = None
    for n in range(3):  # the team works on the manifests: no folder a check reads
        path = game.remote.clone / "k8s" / "frontend.yaml"
        path.write_text(path.read_text() + f"# note {n}\n")
        game.team_commit(f"k8s: note {n}")
        assert game.instance().state is State.injected
        runs = behaviour.runs if runs is None else runs  # the first scan judged the fault's own commit
        assert behaviour.runs == runs
    app = game.remote.clone / "frontend" / "app.js"
    app.write_text(app.read_text().replace("${API_BASE}/message`", "${API_BASE}/messages`"))
    fix = game.team_commit("ui: fix the messages endpoint path")
    judged = behaviour.runs + behaviour.hits
    fixed = game.instance()
    assert behaviour.runs + behaviour.hits > judged  # the fix commit was judged by behaviour
    assert fixed.state is State.fixed and fixed.fix_sha == fix and fixed.fix_kind == "forward-fix"
    # A restarted daemon walks the whole history again: every verdict comes from the cache.
    runs, hits = behaviour.runs, behaviour.hits
    config, _ = load_config(game.config)
    fresh = make_watcher(config, game.config, config.team("team-a"), game.store, CATALOG)
    fresh.refresh(force=True)
    assert behaviour.runs == runs and behaviour.hits > hits
    assert fold(game.store.events("team-a"))[0].fix_sha == fix


def test_a_fix_that_breaks_the_teams_tests_is_no_fix(tmp_path: Path, behaviour: CachedRunner) -> None:
    game = start_game(tmp_path, "app-bug/json-field-renamed")
    tests = game.remote.clone / "backend" / "tests" / "test_app.py"
    app = game.remote.clone / "backend" / "chat" / "app.py"
    app.write_text(app.read_text().replace('document["body"] = document.pop("text")', 'document["body"] = document["text"]'))
    game.team_commit("api: keep the text field for older clients")
    instance = game.instance()
    assert instance.state is State.injected, "the UI works again, but the backend's tests fail: CI would not ship it"
    tests.write_text(tests.read_text().replace('{"id", "author", "body", "created_at"}',
                                               '{"id", "author", "body", "text", "created_at"}'))
    fix = game.team_commit("tests: the API keeps text for older clients")
    fixed = game.instance()
    assert fixed.state is State.fixed and fixed.fix_sha == fix
