"""Two `faultbot run` on one state (in one process, each with its own config, cache and port), on
SQLite and on PostgreSQL: the standby's /healthz and read-only views, a clean hand-over, and a
leader whose lease is taken away under its feet."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app.runner import Runner
from bot.errors import LeaseLost
from bot.game.events import Kind
from bot.game.timeline import fold
from bot.store.eventlog import Store
from tests.app.test_daemon import CATALOG, SELECTOR, fault_commits, game_config, wait_until
from tests.gitrepos import TeamRepo, make_team_repo
from tests.leases import depose

SCENARIO = f"{{faults: [{SELECTOR}], first_delay: 0s, time_limit: 1h}}"


class Running:
    """A Runner on a thread of its own, stopped (and joined) by `stop()`."""

    def __init__(self, config_path: Path) -> None:
        self.stop_event = threading.Event()
        self.runner = Runner(config_path, stop=self.stop_event)
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def get(self, path: str) -> httpx.Response:
        """One request to this process's web side."""
        assert self.runner.web_url is not None
        return httpx.get(f"{self.runner.web_url}{path}", timeout=30)

    def health(self) -> dict[str, object]:
        response = self.get("/healthz")
        assert response.status_code == 200, response.text  # leader or standby: alive
        body: dict[str, object] = response.json()
        return body

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.fixture
def game(tmp_path: Path, state: str) -> Iterator[tuple[TeamRepo, Path, Path, Store]]:
    """One team, two configs on one state (as two pods would have), and a store to look with."""
    remote = make_team_repo(tmp_path)
    configs = [game_config(tmp_path, {"team-a": remote}, SCENARIO, state_url=state, filename=f"{who}.yaml",
                           workdir=f"cache-{who}") for who in ("a", "b")]
    store = Store(state)
    try:
        yield remote, configs[0], configs[1], store
    finally:
        store.close()


def steady(board: dict[str, Any]) -> dict[str, Any]:
    """The spectator board without what moves with the clock (when it was drawn, how long open)."""
    moving = ("open_for_s", "line")
    return {**{k: v for k, v in board.items() if k != "generated_at"},
            "teams": [{**team, "incidents": [{k: v for k, v in i.items() if k not in moving}
                                             for i in team["incidents"]]} for team in board["teams"]]}


def landed(store: Store) -> bool:
    """The leader's fault is on the team's branch."""
    return any(e.kind == Kind.LANDED for e in store.events("team-a"))


def test_a_standby_answers_200_serves_the_views_and_takes_over_a_clean_stop(
        game: tuple[TeamRepo, Path, Path, Store]) -> None:
    remote, config_a, config_b, store = game
    leader = Running(config_a)
    standby = None
    try:
        wait_until(lambda: leader.runner.leading.is_set() and landed(store), 90)
        standby = Running(config_b)
        wait_until(lambda: standby.runner.web_url is not None and standby.health()["status"] == "standby", 60)
        seen = standby.health()
        assert seen["role"] == "standby" and seen["term"] == 1 and seen["leader"] == leader.runner.lease.holder
        assert leader.health()["status"] == "ok" and leader.health()["term"] == 1
        # The same read-only views from the shared state: the scoreboard does not go dark on a standby.
        assert steady(standby.get("/api/status").json()) == steady(leader.get("/api/status").json())
        assert steady(standby.get("/api/status").json())["teams"][0]["incidents"] != []
        assert "<h2>Ranking</h2>" in standby.get("/").text and "team-a" in standby.get("/").text
        assert "faultbot_leader 0.0" in standby.get("/metrics").text
        assert "faultbot_leader 1.0" in leader.get("/metrics").text
        leader.stop()  # SIGTERM on a rolling update: the lease is given back, the standby takes over
        wait_until(lambda: standby.health()["status"] == "ok", 60)
        assert standby.health()["term"] == 2
        wait_until(lambda: standby.health()["last_poll_at"] is not None, 60)  # and plays: it polled the team
    finally:
        leader.stop()
        if standby is not None:
            standby.stop()
    assert len(fault_commits(remote)) == 1  # the new leader carried on; it did not inject again
    leaders = [(e.facts.term, e.source) for e in store.events(kinds=(Kind.LEADER,))]  # type: ignore[attr-defined]
    assert leaders == [(1, "lease"), (2, "lease")]


def test_a_leader_that_loses_its_lease_stops_acting_at_once(game: tuple[TeamRepo, Path, Path, Store]) -> None:
    remote, config_a, config_b, store = game
    old, new = Running(config_a), None
    try:
        wait_until(lambda: old.runner.leading.is_set() and landed(store), 90)
        new = Running(config_b)
        wait_until(lambda: new.runner.web_url is not None and new.health()["status"] == "standby", 60)
        deposed = old.runner.daemon
        assert deposed is not None and old.runner.lease is not None
        depose(old.runner.lease)
        # A new term, led by the standby or by the deposed process itself (a standby again at once,
        # it competes too): either way the term-1 daemon must not act any more.
        wait_until(lambda: store.leadership().term >= 2 and new.runner.leading.is_set() != old.runner.leading.is_set(),
                   60)
        head = remote.head()
        # Whatever the deposed daemon still tries is refused before it reaches the team or the log.
        runtime = deposed.teams["team-a"]
        fault = CATALOG.get(SELECTOR)
        (instance,) = [i for i in fold(store.events("team-a")) if i.fault == SELECTOR]
        assert instance.injected_sha is not None
        with pytest.raises(LeaseLost):
            runtime.injector.revert(fault, instance, "halt")
        with pytest.raises(LeaseLost):
            runtime.injector.cache.push(head, "main")
        assert remote.head() == head
        # One leads, the other waits.
        wait_until(lambda: {old.health()["role"], new.health()["role"]} == {"leader", "standby"}, 60)
    finally:
        old.stop()
        if new is not None:
            new.stop()
    events = store.events()
    first_of_new = min(e.id for e in events if e.term == 2)
    assert not [e for e in events if e.term == 1 and e.id > first_of_new], "the old leader wrote after the new one led"
    assert not [e for e in events if e.kind == Kind.REVERT_INTENT], "the deposed daemon's revert left no trace"

