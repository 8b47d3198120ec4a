"""Notices derived from the event log: what a team is told never names its fault; the outbox
starts where it was opened; a delivered notice is no longer pending."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.catalog.faults import Catalog
from bot.game import events as ev
from bot.game.notices import ORGANIZER, TEAM, notices_for, pending

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
CATALOG = Catalog.load()


def log(*facts: tuple[str, str | None, ev.Facts]) -> list[ev.Event]:
    return [ev.Event(n, T0 + timedelta(minutes=n), team, fault, "bot", f) for n, (team, fault, f) in
            enumerate(facts, start=1)]


@pytest.mark.parametrize("fault", sorted(f.id for f in CATALOG.faults.values() if f.spec.hints))
def test_a_hint_to_a_team_never_names_its_fault(fault: str) -> None:
    spec = CATALOG.get(fault).spec
    events = log(("*", None, ev.OutboxOpened(after_event=0)),
                 ("team-a", "x/an-earlier-fault", ev.Landed(sha="1" * 40, persona="Kenji")),
                 ("team-a", "x/an-earlier-fault", ev.Fixed(sha="2" * 40, kind="revert")),
                 ("team-a", fault, ev.Landed(sha="3" * 40, persona="Kenji")),
                 *[("team-a", fault, ev.Hint(i, h.text)) for i, h in enumerate(spec.hints)])
    to_team = [n for n in notices_for(events) if n.audience == TEAM]
    assert [n.text for n in to_team] == [f"Hint for incident 2: {h.text}" for h in spec.hints]
    for notice in to_team:
        said = repr(notice.body()).lower()
        for spoiler in (fault, fault.split("/")[1], spec.title, spec.symptom):
            assert spoiler.lower() not in said
        assert "fault" not in notice.body()
    to_organizer = [n for n in notices_for(events) if n.audience == ORGANIZER and n.kind == "hint"]
    assert all(n.fault == fault and fault in n.body()["fault"] for n in to_organizer)


def test_the_organizer_feed_says_what_happened_and_halted_is_not_timed_out() -> None:
    fault = "db-unreachable/db-host-typo"
    events = log(("*", None, ev.OutboxOpened(after_event=0)),
                 ("team-a", fault, ev.Landed(sha="a" * 40, persona="Kenji Sato")),
                 ("team-a", fault, ev.Shipped(at=T0)),
                 ("team-a", fault, ev.Anomaly(kind="ci-failed", detail="build")),
                 ("*", None, ev.Halt(by="organizer (web)")),
                 ("team-a", fault, ev.Halted(reason="halt", revert_sha="b" * 40)),
                 ("team-b", fault, ev.Landed(sha="c" * 40, persona="Maria Lopez")),
                 ("team-b", fault, ev.TimedOut(reason="time-limit", revert_sha="d" * 40)),
                 ("team-b", "x/y", ev.Landed(sha="e" * 40, persona="Maria Lopez")),
                 ("team-b", "x/y", ev.Fixed(sha="f" * 40, kind="forward-fix", fixed_by=ev.Who("Ana", login="ana"))),
                 ("team-b", "x/y", ev.Recovered(at=T0)))
    assert [(n.team, n.kind, n.text) for n in notices_for(events)] == [
        ("team-a", "injected", f"injected {fault} (incident 1) as Kenji Sato (aaaaaaaaaa)"),
        ("team-a", "shipped", f"{fault} (incident 1) is deployed"),
        ("team-a", "anomaly", f"anomaly on {fault} (incident 1): ci-failed build"),
        ("*", "halt", "organizer (web) halted every team"),
        ("team-a", "halted", f"halted {fault} (incident 1): reverted by faultbot"),
        ("team-b", "injected", f"injected {fault} (incident 1) as Maria Lopez (cccccccccc)"),
        ("team-b", "timed-out", f"time limit for {fault} (incident 1): reverted by faultbot"),
        ("team-b", "injected", "injected x/y (incident 2) as Maria Lopez (eeeeeeeeee)"),
        ("team-b", "fixed", "fixed x/y (incident 2) by forward fix (ana)"),
        ("team-b", "recovered", "x/y (incident 2) recovered: the fix is deployed and healthy"),
    ]


def test_only_events_after_the_outbox_opened_are_notices_and_delivered_ones_are_done() -> None:
    events = log(("team-a", "f/a", ev.Landed(sha="a" * 40, persona="K")),
                 ("*", None, ev.OutboxOpened(after_event=1)),
                 ("team-a", "f/a", ev.Hint(0, "look at the Service")),
                 ("team-a", None, ev.Delivered(notice="3:team", route="webhook:x")))
    assert [n.id for n in notices_for(events)] == ["3:organizer", "3:team"]
    assert [n.id for n in pending(events)] == ["3:organizer"]
    assert notices_for(events[:1]) == []  # no outbox, no notices
    assert notices_for(events[3:] + events[:1], after=0)[0].text.startswith("injected f/a (incident 1)")
