"""Score a game day from fault instances: plain rules an organizer can read out loud.

Pure functions over `FaultInstance` values (the fold of the event log), so every rule is
a milliseconds-fast test and a report scores exactly what `status` shows.

The rules (`ScoringRules` holds the numbers; `rules_text` says them in words):

* **Outcome of a fault instance.**
  - *fixed* — the team fixed it: state `fixed` with `fix_kind` `revert` or `forward-fix`
    (an unknown kind on a `fixed` instance is credited as a fix without a bonus). A fix stays
    the team's when the fault later regressed and the bot then closed it (time limit or
    halt): the regression costs its penalty, the fix is not wiped out.
  - *timed out* — the time limit passed (the bot reverted it, or left it broken). 0 points.
  - *halted* — the organizer's kill switch closed it. 0 points, and it is never counted
    as a time-out: a halt is the organizer's act, not the team's failure.
  - *open* — injected (or `regressed`) and not fixed when the report was made: 0 points.
  - *scheduled* — never injected (or skipped): not counted anywhere.
* **Points for a team fix** = `max(10, 100 - whole minutes from the fault reaching the
  team to the fix)`. Each full minute costs one point; a fix always earns at least 10.
* **Forward-fix bonus: +10.** A forward fix shows the team found the cause. It is small on
  purpose: a revert is the right first move in a real incident.
* **Regressions cost 10 each**, on any instance: the service broke twice.
* **Communication (optional, `scoring:` in repos.yaml)**: points when the team's PagerDuty
  incident was acknowledged within `acknowledge_within`, and when the first status update
  was posted within `status_update_within` of the incident opening. PagerDuty's own times.
* **Times** are server or bot-observed times, never commit dates, which a team controls.
  A negative duration (clock skew) counts as zero. A team fix with no usable times earns
  the 10-point floor and is left out of the time totals.
* **Team totals.** Score = sum of points − regression penalties (it can go below zero).
  Total and median time to fix count team fixes only — a bot revert is not a fix time.
* **Ranking.** Higher score first; ties broken by lower total time to fix, and a team
  that fixed nothing comes after every equal-score team that did; teams still equal share
  a rank (1, 1, 3) and are listed by name.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.config import ScoringSettings
from bot.game.timeline import FaultInstance, State

RULES_VERSION = "faultbot-score/2"

TEAM_FIX_KINDS = frozenset({"revert", "forward-fix"})


class Outcome(StrEnum):
    """How one fault instance ended, for scoring."""

    fixed = "fixed"
    timed_out = "timed-out"
    halted = "halted"
    open = "open"
    scheduled = "scheduled"


@dataclass(frozen=True)
class ScoringRules:
    """The numbers behind the rules; change them here, and the docstring above."""

    base: int = 100
    per_minute: int = 1
    floor: int = 10
    forward_fix_bonus: int = 10
    regression_penalty: int = 10
    acknowledge_within: timedelta | None = None
    acknowledge_points: int = 0
    status_update_within: timedelta | None = None
    status_update_points: int = 0

    def as_json(self) -> dict[str, Any]:
        """The rules as data, so a saved report says how it was scored."""
        def seconds(value: timedelta | None) -> float | None:
            return value.total_seconds() if value is not None else None

        return {"version": RULES_VERSION, "base": self.base, "per_minute": self.per_minute, "floor": self.floor,
                "forward_fix_bonus": self.forward_fix_bonus, "regression_penalty": self.regression_penalty,
                "acknowledge_within_s": seconds(self.acknowledge_within),
                "acknowledge_points": self.acknowledge_points,
                "status_update_within_s": seconds(self.status_update_within),
                "status_update_points": self.status_update_points}


DEFAULT_RULES = ScoringRules()


def rules_from(settings: ScoringSettings) -> ScoringRules:
    """The rules with repos.yaml's optional communication points."""
    return replace(DEFAULT_RULES, acknowledge_within=settings.acknowledge_within,
                   acknowledge_points=settings.acknowledge_points,
                   status_update_within=settings.status_update_within,
                   status_update_points=settings.status_update_points)


def _minutes(value: timedelta) -> str:
    return f"{value.total_seconds() / 60:g} min"


def rules_text(rules: ScoringRules = DEFAULT_RULES) -> list[str]:
    """The rules in one line each, for the Markdown and HTML reports."""
    lines = [
        f"A fault the team fixes (revert or forward fix) scores max({rules.floor}, "
        f"{rules.base} − {rules.per_minute} × whole minutes from the fault reaching the team to the fix).",
        f"A forward fix (not a revert) earns +{rules.forward_fix_bonus}: it shows the cause was found.",
        "A fault that timed out scores 0; so does one still open. A halted fault (the organizer's kill switch) "
        "scores 0 and is not counted as a time-out.",
        f"Each regression (a fix later undone) costs {rules.regression_penalty}.",
    ]
    if rules.acknowledge_within is not None and rules.acknowledge_points:
        lines.append(f"Acknowledging the PagerDuty incident within {_minutes(rules.acknowledge_within)} "
                     f"earns +{rules.acknowledge_points}.")
    if rules.status_update_within is not None and rules.status_update_points:
        lines.append(f"A first status update within {_minutes(rules.status_update_within)} of the incident "
                     f"opening earns +{rules.status_update_points}.")
    lines += ["Teams rank by score, then by lower total time to fix.",
              "Times are server or bot-observed times (PagerDuty's for incidents), never commit dates."]
    return lines


@dataclass(frozen=True)
class FaultScore:
    """One instance, scored: the row behind every timeline entry."""

    team: str
    fault: str
    outcome: Outcome
    fix_kind: str | None
    time_to_fix_s: float | None
    first_response_s: float | None
    regressions: int
    points: int
    mtta_s: float | None = None
    first_update_s: float | None = None
    communication_points: int = 0

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"team": self.team, "fault": self.fault, "outcome": self.outcome.value, "fix_kind": self.fix_kind,
                "time_to_fix_s": self.time_to_fix_s, "first_response_s": self.first_response_s,
                "regressions": self.regressions, "points": self.points, "mtta_s": self.mtta_s,
                "first_update_s": self.first_update_s, "communication_points": self.communication_points}


@dataclass(frozen=True)
class TeamScore:
    """One scoreboard row, with the per-fault scores that add up to it."""

    rank: int
    team: str
    score: int
    fixed: int
    reverts: int
    forward_fixes: int
    timed_out: int
    open: int
    regressions: int
    total_time_to_fix_s: float | None
    median_time_to_fix_s: float | None
    median_first_response_s: float | None
    first_response_s: tuple[float, ...] = ()
    faults: tuple[FaultScore, ...] = field(default=())
    halted: int = 0
    median_mtta_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types (the `scoreboard` entries of report.json)."""
        return {
            "rank": self.rank,
            "team": self.team,
            "score": self.score,
            "fixed": self.fixed,
            "reverts": self.reverts,
            "forward_fixes": self.forward_fixes,
            "timed_out": self.timed_out,
            "halted": self.halted,
            "open": self.open,
            "regressions": self.regressions,
            "total_time_to_fix_s": self.total_time_to_fix_s,
            "median_time_to_fix_s": self.median_time_to_fix_s,
            "median_first_response_s": self.median_first_response_s,
            "median_mtta_s": self.median_mtta_s,
            "first_response_s": list(self.first_response_s),
            "faults": [f.as_json() for f in self.faults],
        }


def outcome_of(instance: FaultInstance) -> Outcome:
    """The scoring outcome of one instance (see the module rules)."""
    if instance.state in (State.timed_out, State.halted) and instance.fix_kind in TEAM_FIX_KINDS:
        return Outcome.fixed  # fixed, regressed later, then closed by the bot: the fix stays the team's
    match instance.state:
        case State.halted:
            return Outcome.halted
        case State.timed_out:
            return Outcome.timed_out
        case State.fixed:
            return Outcome.fixed
        case State.injected | State.regressed:
            return Outcome.open
    return Outcome.scheduled


def first_response_s(instance: FaultInstance) -> float | None:
    """Seconds from injection to the team's first commit, branch or PR, if both are known."""
    response = instance.first_response
    if response is None or response.at is None or instance.injected_at is None:
        return None
    return max(0.0, round((response.at - instance.injected_at).total_seconds(), 3))


def _within(seconds: float | None, limit: timedelta | None) -> bool:
    return seconds is not None and limit is not None and seconds <= limit.total_seconds()


def communication_points(instance: FaultInstance, rules: ScoringRules = DEFAULT_RULES) -> int:
    """Points for acknowledging and for a first status update in time (PagerDuty's times)."""
    points = rules.acknowledge_points if _within(instance.mtta_s, rules.acknowledge_within) else 0
    if _within(instance.first_update_s, rules.status_update_within):
        points += rules.status_update_points
    return points


def score_instance(instance: FaultInstance, rules: ScoringRules = DEFAULT_RULES) -> FaultScore:
    """Score one fault instance."""
    outcome = outcome_of(instance)
    kind = instance.fix_kind
    fix_time = instance.time_to_fix_s if outcome is Outcome.fixed else None
    points = 0
    if outcome is Outcome.fixed:
        minutes = int(fix_time // 60) if fix_time is not None else None
        points = rules.floor if minutes is None else max(rules.floor, rules.base - rules.per_minute * minutes)
        if kind == "forward-fix":
            points += rules.forward_fix_bonus
    talk = communication_points(instance, rules) if outcome is not Outcome.scheduled else 0
    points += talk - rules.regression_penalty * instance.regressions
    return FaultScore(
        team=instance.team,
        fault=instance.fault,
        outcome=outcome,
        fix_kind=kind,
        time_to_fix_s=fix_time,
        first_response_s=first_response_s(instance),
        regressions=instance.regressions,
        points=points,
        mtta_s=instance.mtta_s,
        first_update_s=instance.first_update_s,
        communication_points=talk,
    )


def _median(values: list[float]) -> float | None:
    return round(float(statistics.median(values)), 3) if values else None


def _team_score(team: str, faults: list[FaultScore]) -> TeamScore:
    fixed = [f for f in faults if f.outcome is Outcome.fixed]
    times = [f.time_to_fix_s for f in fixed if f.time_to_fix_s is not None]
    responses = [f.first_response_s for f in faults if f.first_response_s is not None]
    return TeamScore(
        rank=0,
        team=team,
        score=sum(f.points for f in faults),
        fixed=len(fixed),
        reverts=sum(1 for f in fixed if f.fix_kind == "revert"),
        forward_fixes=sum(1 for f in fixed if f.fix_kind == "forward-fix"),
        timed_out=sum(1 for f in faults if f.outcome is Outcome.timed_out),
        open=sum(1 for f in faults if f.outcome is Outcome.open),
        regressions=sum(f.regressions for f in faults),
        total_time_to_fix_s=round(sum(times), 3) if times else None,
        median_time_to_fix_s=_median(times),
        median_first_response_s=_median(responses),
        first_response_s=tuple(responses),
        faults=tuple(faults),
        halted=sum(1 for f in faults if f.outcome is Outcome.halted),
        median_mtta_s=_median([f.mtta_s for f in faults if f.mtta_s is not None]),
    )


def scoreboard(instances: Iterable[FaultInstance], rules: ScoringRules = DEFAULT_RULES) -> list[TeamScore]:
    """Every team that appears in `instances`, scored and ranked (see the module rules)."""
    by_team: dict[str, list[FaultScore]] = {}
    for instance in instances:
        scored = score_instance(instance, rules)
        by_team.setdefault(scored.team, []).append(scored)
    teams = [_team_score(team, faults) for team, faults in by_team.items()]

    def key(team: TeamScore) -> tuple[int, float]:
        # No fix time at all is not a time of zero: such a team ranks after equal scores that fixed things.
        total = team.total_time_to_fix_s
        return (-team.score, total if total is not None else float("inf"))

    teams.sort(key=lambda t: (key(t), t.team))
    ranked: list[TeamScore] = []
    for position, team in enumerate(teams, start=1):
        tied = bool(ranked) and key(ranked[-1]) == key(team)
        ranked.append(replace(team, rank=ranked[-1].rank if tied else position))
    return ranked
