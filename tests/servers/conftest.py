"""Fixtures for the test servers: every test here runs git with an isolated config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.forge import Forge, open_forge
from tests.servers.git_cli import LEAKY_GIT_VARS, isolated_git_env
from tests.servers.pagerduty_world import PagerDutyWorld, StepClock, open_world


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point git at an empty global config and no system config for this test only.

    monkeypatch undoes it afterwards, so tests outside this package are unaffected.
    """
    config_dir = tmp_path_factory.mktemp("gitconfig")
    for name in LEAKY_GIT_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in isolated_git_env(config_dir).items():
        monkeypatch.setenv(name, value)
    return config_dir / "gitconfig"


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    """A smart-HTTP git server and GitHub API over one seeded repo, `team-a/chat`."""
    seed = tmp_path / "seed"
    (seed / "k8s").mkdir(parents=True)
    (seed / "README.md").write_text("# chat\n")
    (seed / "k8s" / "deployment.yaml").write_text("replicas: 2\nimage: chat:1.0\n")
    with open_forge(tmp_path, seed) as opened:
        yield opened



@pytest.fixture
def step_clock() -> StepClock:
    return StepClock()


@pytest.fixture
def world(step_clock: StepClock) -> Iterator[PagerDutyWorld]:
    """PagerDuty with services for team-a (Alice on call) and team-b, and three REST keys."""
    with open_world(step_clock) as world:
        yield world
