"""Fault instances for tests of scoring, reports and views, built as the fold builds them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bot.game import events as ev
from bot.game.timeline import BOT, FaultInstance, State

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
GENERATED = datetime(2026, 12, 5, 16, 0, tzinfo=timezone.utc)
XSS = "<script>alert('x')</script>"


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def instance(team: str, fault: str, state: str = "injected", *, ttf: float | None = None,
             **fields: Any) -> FaultInstance:
    """An instance injected at T0 (unless told otherwise); `ttf` seconds later it was fixed."""
    base: dict[str, Any] = {"injected_sha": "a" * 40, "injected_at": T0}
    if ttf is not None:
        base["fixed_at"] = T0 + timedelta(seconds=ttf)
    return FaultInstance(team, fault, State(state), **(base | fields))


def pager(opened: float, acked: float | None = None, by: str = "Alice Ng",
          updates: tuple[float, ...] = (), notes: tuple[float, ...] = ()) -> ev.PagerIncident:
    """A PagerDuty incident opened `opened` minutes after T0, acknowledged `acked` minutes after T0."""
    messages = [ev.Message("status_update", at(minutes=m), by, f"update at +{m}m") for m in updates]
    messages += [ev.Message("note", at(minutes=m), by, f"note at +{m}m") for m in notes]
    return ev.PagerIncident(incident_id="PINC1", number=1, opened_at=at(minutes=opened),
                            acknowledged_at=at(minutes=acked) if acked is not None else None,
                            acknowledged_by=by if acked is not None else None,
                            messages=tuple(sorted(messages, key=lambda m: m.at or T0)))


def game() -> list[FaultInstance]:
    """team-a reverts fast, team-b forward-fixes slower and regresses once, team-c times out
    (the bot reverts), team-d is halted by the organizer."""
    return [
        instance("team-a", "web-unreachable/service-selector", "fixed", ttf=252.0, fix_sha="b" * 40,
                 fix_kind="revert", fixed_by=ev.Who("Ana Lima", "ana@example.com", "ana"),
                 pr=ev.PullInfo(7, "ana", at(minutes=1, seconds=30), at(minutes=4, seconds=12),
                                "https://github.com/pd-cup/team-a/pull/7"),
                 fixed_at_source="github:merged_at", fixed_at_uncertainty_s=0.0,
                 first_response=ev.Response("pull_request", at(minutes=1, seconds=30), "github:created_at",
                                            number=7, author="ana"),
                 pager=pager(opened=1, acked=3, updates=(4,), notes=(2,))),
        instance("team-b", "web-unreachable/service-selector", "fixed", ttf=750.0, fix_sha="c" * 40,
                 fix_kind="forward-fix", fixed_by=ev.Who(XSS, "evil@example.com"), fixed_at_source="observed",
                 fixed_at_uncertainty_s=30.0, regressions=1,
                 first_response=ev.Response("commit", at(minutes=5), "observed", sha="d" * 40, author=XSS)),
        instance("team-c", "web-unreachable/service-selector", "timed-out", fix_sha="e" * 40, fix_kind="bot-revert",
                 fixed_by=BOT, closed_at=at(minutes=30), closed_reason="time-limit",
                 hints=((at(minutes=10), "Which Service does the Ingress send traffic to?"),)),
        instance("team-c", "db-unreachable/db-host-typo", "injected", injected_at=at(minutes=33)),
        instance("team-d", "web-unreachable/service-selector", "halted", fix_sha="f" * 40, fix_kind="bot-revert",
                 fixed_by=BOT, closed_at=at(minutes=20), halted_at=at(minutes=20), closed_reason="halt"),
    ]
