"""The GitHub adapter reads time from the Clock it is given, never the wall clock (issue 16 item 8).

A rate limit's "come back in 60 s" is counted from the bot's clock, and waiting it out is a
matter of that clock moving; a pull request's time is GitHub's or unknown, never made up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from github import Auth

from bot.config import GitHubSettings
from bot.forge.github import ForgeError, GitHubForge, make_client
from tests.conftest import CHAT_APP
from tests.gameclock import SetClock
from tests.servers.forge import BOT_TOKEN, Forge, open_forge

FAR = datetime(2031, 3, 1, 9, 0, tzinfo=timezone.utc)  # nowhere near the wall clock


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    with open_forge(tmp_path, CHAT_APP, partial_clone=False) as opened:
        yield opened


def test_a_retry_after_is_counted_and_waited_out_on_the_bots_clock(forge: Forge) -> None:
    clock = SetClock(FAR)
    settings = GitHubSettings(api_url=forge.github.api_url, request_interval="0s")  # type: ignore[arg-type]
    github = GitHubForge(make_client(settings, Auth.Token(BOT_TOKEN)), forge.full_name, clock=clock)
    forge.github.limits.secondary(retry_after=60, times=1)
    with pytest.raises(ForgeError) as caught:
        github.find_pull_request("nobody/branch")
    assert caught.value.retryable and github.blocked_until == FAR + timedelta(seconds=60)
    requests = len(forge.github.requests)
    clock.at(seconds=59)
    with pytest.raises(ForgeError, match="rate limited until 09:01:00Z; not asking"):
        github.find_pull_request("nobody/branch")
    assert len(forge.github.requests) == requests  # not asked
    clock.at(seconds=61)
    assert github.find_pull_request("nobody/branch") is None  # the bot's clock moved past it: GitHub is asked again


def test_no_wall_clock_is_read_where_a_clock_is_passed_in() -> None:
    """The modules the Clock is handed to read no time of day themselves (durations use monotonic)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "bot"
    wall = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
    offenders = []
    for module in ("forge/github.py", "app/control.py", "app/daemon.py", "repo/watcher.py", "repo/injector.py",
                   "repo/reverter.py", "deploy/watch.py", "game/engine.py"):
        for node in ast.walk(ast.parse((root / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in wall:
                offenders.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []
