"""State files written by faultbot 0.1 (before the event log was typed) open with this release.

`tests/fixtures/state-0.1/` holds real state files that 0.1's own code wrote: `demo.db` from
`faultbot demo --teams 2` (event log + APScheduler's job table), and `events.db`, the events
of seven 0.1 test runs that between them wrote every kind of event 0.1 knew (team names
suffixed by run). `*.status.json` is what 0.1's `faultbot status --cached --json` printed
for each; this release must print the same, with two deliberate changes (issue 14): new keys
(PagerDuty, hints with their text, why a fault was closed) and a bot revert's `fixed_by` is
faultbot, not the persona whose name the revert commit carries.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.app.cli import main
from bot.app.daemon import Daemon
from bot.catalog.faults import Catalog
from bot.config import load_config, sqlite_url_for
from bot.game.events import FACT_TYPES, Unrecognised
from bot.game.timeline import fold
from bot.store.eventlog import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state-0.1"
NEW_KEYS = {"closed_reason", "hints", "incident", "mtta_s", "first_update_s",
            "regressed_at", "bot_revert_sha", "needs_organizer"}


def copy_state(tmp_path: Path, name: str) -> Path:
    """A private copy: opening a SQLite file in WAL mode changes its header."""
    state = tmp_path / f"{name}.db"
    shutil.copyfile(FIXTURES / f"{name}.db", state)
    config = tmp_path / "repos.yaml"
    config.write_text(f'event: {{name: old state, state: "sqlite:///{name}.db"}}\n'
                      'teams:\n  - {name: team-a, url: "file:///nonexistent/team-a.git"}\n', encoding="utf-8")
    return config


@pytest.mark.parametrize("name", ["events", "demo"])
def test_status_of_an_old_state_file_is_what_0_1_printed(tmp_path: Path, name: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = copy_state(tmp_path, name)
    assert main(["status", "--cached", "--json", "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads((FIXTURES / f"{name}.status.json").read_text(encoding="utf-8"))
    assert len(printed) == len(expected) >= 6
    reverted_by_bot = 0
    for old, new in zip(expected, printed, strict=True):
        assert set(new) - set(old) == NEW_KEYS
        if old["fix_kind"] == "bot-revert":
            assert new["fixed_by"] == {"name": "faultbot"} and old["fixed_by"]["name"] != "faultbot"
            old = old | {"fixed_by": {"name": "faultbot"}}
            reverted_by_bot += 1
        assert {key: new[key] for key in old} == old
    assert reverted_by_bot >= (1 if name == "events" else 0)


def test_every_old_event_decodes_to_its_type(tmp_path: Path) -> None:
    copy_state(tmp_path, "events")
    store = Store(sqlite_url_for(tmp_path / "events.db"))
    try:
        events = store.events()
        assert len({e.kind for e in events}) >= 26  # every kind 0.1 wrote in those runs
        assert not [e for e in events if isinstance(e.facts, Unrecognised)]
        assert all(type(e.facts) is FACT_TYPES[e.kind] for e in events)  # type: ignore[index]
        states = {i.state.value for i in fold(events)}
        assert {"fixed", "timed-out", "halted", "skipped"} <= states
    finally:
        store.close()


def test_the_daemon_starts_on_an_old_job_table(tmp_path: Path) -> None:
    """0.1's jobs name `bot.daemon:_poll_job`, which moved: the scheduler drops them and the
    daemon adds its own (jobs are derived from the log, so nothing is lost). With no team
    prepared, its own is the job that watches for a halt; each team adds a `poll:<team>`."""
    config_path = copy_state(tmp_path, "demo")
    config, _ = load_config(config_path)
    store = Store(config.paths(config_path).state_url)
    daemon = Daemon(config, config_path, store, Catalog.load(), clock=_Fixed())
    daemon.start()
    daemon.stop()
    store.close()
    with create_engine(sqlite_url_for(tmp_path / "demo.db")).connect() as connection:
        jobs = [row[0] for row in connection.execute(text("select id from faultbot_jobs"))]
    assert jobs == ["controls"]


class _Fixed:
    def now(self) -> datetime:
        return datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)

    def to_real(self, moment: datetime) -> datetime:
        return moment
