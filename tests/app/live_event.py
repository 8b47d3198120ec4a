"""A live event in a real event log, for the web views: two teams mid-game.

team-a's plan: a web-unreachable fault (fixed by a revert in 6m55s), a db-unreachable one
(open: shipped, a hint given, PagerDuty acknowledged) and an app-bug one still to come.
team-b's plan: a web-unreachable fault halted by the organizer (the bot reverted it) and a
db-unreachable one to come. Spoilers are every open or future fault's id, name, title,
symptom and hints, and the families of faults nobody has finished yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.catalog.faults import Catalog
from bot.config import Config, load_config
from bot.game import events as ev
from bot.store.eventlog import Store

START = datetime(2026, 12, 5, 13, 0, tzinfo=timezone.utc)
PLANS = {
    "team-a": ("web-unreachable/service-selector-typo", "db-unreachable/db-host-typo", "app-bug/api-path-typo"),
    "team-b": ("web-unreachable/frontend-scaled-to-zero", "db-unreachable/db-secret-key-renamed"),
}
OPEN_OR_FUTURE = ("db-unreachable/db-host-typo", "app-bug/api-path-typo", "db-unreachable/db-secret-key-renamed")
HIDDEN_FAMILIES = ("db-unreachable", "app-bug")
TOKEN = "organizer-token-6f1c2a9e"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def to_real(self, moment: datetime) -> datetime:
        return moment


@dataclass
class LiveEvent:
    config: Config
    store: Store
    catalog: Catalog
    clock: FixedClock

    def spoilers(self) -> list[str]:
        """Every string that would give away an open or future fault."""
        found = list(HIDDEN_FAMILIES)
        for fault_id in OPEN_OR_FUTURE:
            spec = self.catalog.get(fault_id).spec
            found += [fault_id, fault_id.split("/")[1], spec.title, spec.symptom[:60]]
            found += [hint.text for hint in spec.hints]
        return found


def write_config(tmp_path: Path, token_env: str | None = "FAULTBOT_ORGANIZER_TOKEN") -> Path:
    web = f"web: {{port: 0, organizer_token_env: {token_env}}}" if token_env else "web: {port: 0}"
    path = tmp_path / "repos.yaml"
    path.write_text(
        "event: {name: PD Cup live, timezone: Europe/Paris, state: sqlite:///state.db}\n"
        f"{web}\n"
        "teams:\n"
        f"  - {{name: team-a, url: {(tmp_path / 'a.git').as_uri()}}}\n"
        f"  - {{name: team-b, url: {(tmp_path / 'b.git').as_uri()}}}\n", encoding="utf-8")
    return path


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def record_game(store: Store, catalog: Catalog) -> None:
    """The game so far, as the daemon would have recorded it."""
    for team, faults in PLANS.items():
        store.append(team, ev.PlanMade(faults=faults, first_delay_s=60, next_delays_s=(120,) * (len(faults) - 1),
                                       time_limit_s=2700), at=START)
    a1, a2, a3 = PLANS["team-a"]
    store.append("team-a", ev.Landed(sha="a1" * 20, parent="00" * 20, persona="Kenji Sato", pushed_at=at(1)),
                 fault=a1, at=at(1))
    store.append("team-a", ev.Fixed(sha="f1" * 20, kind="revert", fixed_by=ev.Who("Ana Ruiz", login="ana"),
                                    fixed_at=at(1) + timedelta(minutes=6, seconds=55)), fault=a1, at=at(8))
    store.append("team-a", ev.Landed(sha="a2" * 20, parent="f1" * 20, persona="Maria Lopez", pushed_at=at(10)),
                 fault=a2, at=at(10))
    store.append("team-a", ev.Progress(passing=0, total=1, failing=("env DB_HOST resolves to a Service",)),
                 fault=a2, at=at(10))
    hint = catalog.get(a2).spec.hints[0].text
    store.append("team-a", ev.Hint(0, hint), fault=a2, at=at(20))
    store.append("team-a", ev.PagerIncident(incident_id="PABC123", number=7, opened_at=at(11),
                                            acknowledged_at=at(13), acknowledged_by="Alice Ng",
                                            messages=(ev.Message("status_update", at(15), "Alice Ng",
                                                                 "Investigating the API errors"),)),
                 fault=a2, source="pagerduty", at=at(16))
    store.append("team-a", ev.Scheduled(at(40)), fault=a3, at=at(9))
    b1, b2 = PLANS["team-b"]
    store.append("team-b", ev.Landed(sha="b1" * 20, parent="00" * 20, persona="Kenji Sato", pushed_at=at(2)),
                 fault=b1, at=at(2))
    store.append(ev.ALL_TEAMS, ev.Halt(by="organizer"), at=at(5))
    store.append("team-b", ev.Halted(reason="halt", revert_sha="c1" * 20, fixed_by=ev.Who("Kenji Sato")),
                 fault=b1, at=at(5))
    store.append(ev.ALL_TEAMS, ev.Resume(by="organizer"), at=at(6))
    store.append("team-b", ev.Scheduled(at(8)), fault=b2, at=at(6))


def open_live_event(tmp_path: Path, token_env: str | None = "FAULTBOT_ORGANIZER_TOKEN") -> LiveEvent:
    config, _ = load_config(write_config(tmp_path, token_env))
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    catalog = Catalog.load()
    record_game(store, catalog)
    return LiveEvent(config, store, catalog, FixedClock(at(25)))
