"""Consoles for people: `plan` opens with each team's schedule, `status` groups by team with
local times and `6m55s` durations, `run` prints human lines on a terminal and JSON lines
otherwise, and a busy `web.port` is one line naming the port and the setting."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.faults import catalog_for, plan_team
from bot.app.feed import ConsoleFeed
from bot.app.logs import resolve_format, setup_logging
from bot.config import load_config
from bot.game import events as ev
from bot.game.plan import make_plan
from bot.store.eventlog import Store
from tests.app.live_event import at, open_live_event
from tests.gitrepos import make_team_repo


def test_plan_starts_with_each_teams_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = tmp_path / "repos.yaml"
    repo = make_team_repo(tmp_path)
    config_path.write_text(
        "event: {name: plan test}\n"
        "defaults: {scenario: {seed: 7, first_delay: 5m..15m, next_delay: 2m..6m, time_limit: 30m}}\n"
        f"teams:\n  - {{name: team-a, url: {repo.url}}}\n", encoding="utf-8")
    assert main(["plan", "--config", str(config_path)]) == 0
    shown = capsys.readouterr().out
    config, _ = load_config(config_path)
    team = config.team("team-a")
    entries = plan_team(catalog_for(config, config_path), team, repo.clone).entries
    applicable: dict[str, list[str]] = {}
    for entry in entries:
        if entry.applicable:
            applicable.setdefault(entry.family, []).append(entry.fault)
    plan = make_plan(team, applicable)
    assert f"team-a: {len(plan.faults)} faults, 30m00s each, then faultbot reverts" in shown
    positions = [shown.index(f" {fault} ") for fault in plan.faults]
    assert positions == sorted(positions)  # in the order the team will get them
    assert shown.index(plan.faults[0]) < shown.index("applies")  # the schedule comes before the diffs
    first_wait = re.search(r"1\s+\S+\s+\S+\s+(\S+) after the start", shown)
    assert first_wait is not None
    assert first_wait.group(1) == f"{int(plan.first_delay.total_seconds()) // 60}m" \
                                  f"{int(plan.first_delay.total_seconds()) % 60:02d}s"


def test_status_groups_by_team_with_local_times_and_durations(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    event = open_live_event(tmp_path, token_env=None)
    event.store.close()
    assert main(["status", "--cached", "--config", str(tmp_path / "repos.yaml")]) == 0
    shown = capsys.readouterr().out
    assert shown.index("team-a (All times Europe/Paris (UTC+01:00), 2026-12-05)") < shown.index("team-b (")
    lines = [" ".join(line.split()) for line in shown.splitlines()]
    assert "1 web-unreachable/service-selector-typo fixed 14:01:00 14:07:55 revert Ana Ruiz (@ana) 6m55s —" in lines
    assert any(line.startswith("2 db-unreachable/db-host-typo injected 14:10:00 — — — 2m00s") for line in lines)
    assert any(line.startswith("app-bug/api-path-typo scheduled due 14:40:00") for line in lines)
    assert "1 web-unreachable/frontend-scaled-to-zero halted 14:02:00 — bot revert (halted) faultbot — —" in lines


def test_the_feed_prints_human_lines_on_a_terminal_and_json_otherwise(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        feed = ConsoleFeed(store)
        store.append("team-a", ev.Landed(sha="a" * 40, persona="Kenji Sato"), fault="x/y", at=at(1))
        store.append("team-a", ev.Fixed(sha="b" * 40, kind="revert", fixed_by=ev.Who("Ana", login="ana")),
                     fault="x/y", at=at(8))
        setup_logging(log_format="human")
        assert feed.follow_once() == 2
        human = capsys.readouterr().err.splitlines()
        assert [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in human] == [
            "team-a     injected x/y (incident 1) as Kenji Sato (aaaaaaaaaa)",
            "team-a     fixed x/y (incident 1) by revert (ana)"]
        store.append(ev.ALL_TEAMS, ev.Halt(by="organizer (web)"), at=at(9))
        setup_logging(log_format="json")
        assert feed.follow_once() == 1
        [line] = capsys.readouterr().err.splitlines()
        record = json.loads(line)
        assert (record["logger"], record["event"], record["kind"]) == (
            "faultbot.feed", "organizer (web) halted every team", "halt")
    finally:
        store.close()
        setup_logging()
        logging.getLogger("faultbot").handlers.clear()


class Terminal:
    def isatty(self) -> bool:
        return True


class Pipe:
    def isatty(self) -> bool:
        return False


def test_auto_means_human_on_a_terminal_and_json_in_a_pipe() -> None:
    assert resolve_format("auto", Terminal()) == "human" and resolve_format("auto", Pipe()) == "json"
    assert resolve_format("json", Terminal()) == "json"


def test_a_busy_web_port_is_one_line_and_nothing_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    repo = make_team_repo(tmp_path)
    config_path = tmp_path / "repos.yaml"
    config_path.write_text(f"event: {{name: busy}}\nweb: {{port: {port}}}\nteams:\n  - {{name: team-a, url: {repo.url}}}\n",
                           encoding="utf-8")
    try:
        assert main(["run", "--config", str(config_path), "--log-format", "json"]) == 2
    finally:
        busy.close()
        logging.getLogger("faultbot").handlers.clear()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (f"faultbot: web.port: port {port} on 127.0.0.1 is already in use; stop what listens there or "
                    "set web.port in repos.yaml to a free port (0 picks one)")
    store = Store(f"sqlite:///{tmp_path / 'faultbot.db'}")
    try:
        assert store.events() == []  # not even the event's start
    finally:
        store.close()
