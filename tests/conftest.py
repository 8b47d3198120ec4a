"""Shared fixtures: every test runs with an isolated git config and real repositories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalog.behaviour import Runner
from tests.gitrepos import make_team_repo
from tests.postgres import PostgresServer, PostgresUnavailable

ROOT = Path(__file__).resolve().parents[1]
CHAT_APP = ROOT / "examples" / "chat-app"


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's ~/.gitconfig or /etc/gitconfig, and git never prompts.

    Every GIT_* variable of the developer's shell is dropped first, as the product drops them
    (`bot.repo.workspace.scrubbed_env`): a GIT_AUTHOR_NAME would otherwise outrank the
    `-c user.name=...` identities tests commit with, and a GIT_DIR would point git elsewhere.
    """
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("git-home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test Runner\n\temail = runner@example.com\n"
        "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for name in ("GITHUB_TOKEN", "ARGOCD_AUTH_TOKEN", "FAULTBOT_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(scope="session", autouse=True)
def session_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Behavioural verdicts of the whole run in one file: the CLI run in-process, the daemon
    and the catalog tests share one sandbox (one chromium) and never judge a tree twice."""
    path = tmp_path_factory.mktemp("verdicts") / "verdicts.jsonl"
    saved = os.environ.get("FAULTBOT_VERDICTS")
    os.environ["FAULTBOT_VERDICTS"] = str(path)
    yield path
    if saved is None:
        os.environ.pop("FAULTBOT_VERDICTS", None)
    else:
        os.environ["FAULTBOT_VERDICTS"] = saved


def require_chromium() -> str:
    """Debian's chromium for the browser checks: skip without it here, fail in CI."""
    from bot.sandbox.browser import find_chromium

    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium for the browser checks")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium); CI installs it")
    return found


@pytest.fixture(scope="session")
def behaviour(session_verdicts: Path) -> Runner:
    """The sandbox runner the commands use (shared chromium, session verdict cache)."""
    from bot.app.compose import behaviour_runner

    require_chromium()
    return behaviour_runner()


@pytest.fixture
def team_remote(tmp_path: Path) -> str:
    """A bare repository made from examples/chat-app; its file:// URL."""
    return make_team_repo(tmp_path).url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole session; skipped where there is none, but a failure in CI."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is missing in CI: {exc}")
        pytest.skip(f"no PostgreSQL here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server: its postgresql+psycopg:// URL."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The event's state store, once as a SQLite file and once as a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


# One headless chromium for the whole session, for tests/web and tests/app alike.
from tests.web.browser import browser, page  # noqa: E402,F401
