"""Score a game day from fault instances: plain rules an organizer can read out loud.

Pure functions over the `faultbot status --json` instance dicts (`FaultInstance.as_json()`),
so a report can be re-scored from a saved JSON file, and so every rule is a
milliseconds-fast test. Unknown keys are ignored and missing ones mean "not known".

The rules (`ScoringRules` holds the numbers; `RULES_TEXT` says them in words):

* **Outcome of a fault instance.**
  - *fixed* — the team fixed it: state `fixed` with `fix_kind` `revert` or `forward-fix`
    (an unknown/missing kind on a `fixed` instance is credited as a fix without a bonus).
    A fix stays the team's when the fault later regressed and the bot then closed it:
    the regression costs its penalty, the fix is not wiped out.
  - *timed out* — the bot had to clean up or the fault was stopped: `fix_kind` `bot-revert`,
    or state `timed-out` or `halted` without a team fix. Worth 0 points. A halted fault
    (organizer's kill switch) is counted with the time-outs because no team fix exists to credit.
  - *open* — injected (or `regressed`) and not fixed when the report was made: 0 points.
  - *scheduled* — never injected: not counted anywhere.
* **Points for a team fix** = `max(10, 100 - whole minutes from injection to fix)`.
  Each full minute costs one point; a fix always earns at least 10, so a slow fix is
  still worth more than giving up.
* **Forward-fix bonus: +10.** A forward fix (the breakage repaired without reverting the
  bot's commit) shows the team found the cause, not just the last suspicious commit.
  It is small on purpose: a revert is the right first move in a real incident, and
  the bonus never outweighs ten minutes of downtime.
* **Regressions cost 10 each**, on any instance: a fix that was later undone (the
  fault's checks failed again) meant the service broke twice. A re-fixed fault is
  timed to its *last* fix, so the regression also costs its downtime.
* **Times** are the recorded server/bot times (`injected_at` is the push the server
  received, `fixed_at` a PR's `merged_at` or the bot's observation), never commit dates,
  which a team controls. A bot-observed fix carries up to one poll interval of
  uncertainty (`fixed_at_uncertainty_s`); it is shown, not subtracted, because it is the
  same bound for every team. A negative duration (clock skew) counts as zero. A team fix
  with no usable times earns the 10-point floor and is left out of the time totals.
* **Team totals.** Score = sum of points − regression penalties (it can go below zero).
  Total and median time to fix count team fixes only — a bot-revert is not a fix time.
  First response = the team's first commit or PR after injection, minus `injected_at`.
* **Ranking.** Higher score first; ties broken by lower total time to fix, and a team
  that fixed nothing comes after every equal-score team that did; teams still equal share
  a rank (1, 1, 3) and are listed by name.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.game.clock import as_utc

RULES_VERSION = "faultbot-score/1"

BOT_FIX_KINDS = frozenset({"bot-revert"})
TEAM_FIX_KINDS = frozenset({"revert", "forward-fix"})
STOPPED_STATES = frozenset({"timed-out", "halted"})
OPEN_STATES = frozenset({"injected", "regressed"})


class Outcome(StrEnum):
    """How one fault instance ended, for scoring."""

    fixed = "fixed"
    timed_out = "timed-out"
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

    def as_json(self) -> dict[str, Any]:
        """The rules as data, so a saved report says how it was scored."""
        return {"version": RULES_VERSION, **asdict(self)}


DEFAULT_RULES = ScoringRules()


def rules_text(rules: ScoringRules = DEFAULT_RULES) -> list[str]:
    """The rules in one line each, for the Markdown and HTML reports."""
    return [
        f"A fault the team fixes (revert or forward fix) scores max({rules.floor}, "
        f"{rules.base} − {rules.per_minute} × whole minutes from injection to fix).",
        f"A forward fix (not a revert) earns +{rules.forward_fix_bonus}: it shows the cause was found.",
        "A fault that timed out (the bot reverted it) or was halted scores 0; so does one still open.",
        f"Each regression (a fix later undone) costs {rules.regression_penalty}.",
        "Teams rank by score, then by lower total time to fix.",
        "Times are server or bot-observed times, never commit dates.",
    ]


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

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data


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
            "open": self.open,
            "regressions": self.regressions,
            "total_time_to_fix_s": self.total_time_to_fix_s,
            "median_time_to_fix_s": self.median_time_to_fix_s,
            "median_first_response_s": self.median_first_response_s,
            "first_response_s": list(self.first_response_s),
            "faults": [f.as_json() for f in self.faults],
        }


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp (or datetime) as an aware UTC datetime; anything else is None.

    Naive times are taken as UTC, like the store does, so one odd record cannot crash a
    report at the end of an event.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return as_utc(moment)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _seconds_between(start: Any, end: Any) -> float | None:
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return None
    return max(0.0, round((finish - begin).total_seconds(), 3))


def outcome_of(instance: Mapping[str, Any]) -> Outcome:
    """The scoring outcome of one instance (see the module rules)."""
    state = str(instance.get("state") or "scheduled")
    kind = instance.get("fix_kind")
    if kind in TEAM_FIX_KINDS and state in STOPPED_STATES:
        return Outcome.fixed  # fixed, regressed later, then closed by the bot: the fix stays the team's
    if kind in BOT_FIX_KINDS or state in STOPPED_STATES:
        return Outcome.timed_out
    if state == "fixed":
        return Outcome.fixed
    if state in OPEN_STATES:
        return Outcome.open
    return Outcome.scheduled


def time_to_fix_s(instance: Mapping[str, Any]) -> float | None:
    """The recorded time to fix, or one computed from `injected_at`/`fixed_at`; never negative."""
    recorded = _number(instance.get("time_to_fix_s"))
    if recorded is not None:
        return max(0.0, recorded)
    return _seconds_between(instance.get("injected_at"), instance.get("fixed_at"))


def first_response_s(instance: Mapping[str, Any]) -> float | None:
    """Seconds from injection to the team's first commit or PR, if both are known."""
    response = instance.get("first_response")
    if not isinstance(response, Mapping):
        return None
    return _seconds_between(instance.get("injected_at"), response.get("at"))


def score_instance(instance: Mapping[str, Any], rules: ScoringRules = DEFAULT_RULES) -> FaultScore:
    """Score one instance dict."""
    outcome = outcome_of(instance)
    kind = instance.get("fix_kind")
    regressions = int(_number(instance.get("regressions")) or 0)
    fix_time = time_to_fix_s(instance) if outcome is Outcome.fixed else None
    points = 0
    if outcome is Outcome.fixed:
        minutes = int(fix_time // 60) if fix_time is not None else None
        points = rules.floor if minutes is None else max(rules.floor, rules.base - rules.per_minute * minutes)
        if kind == "forward-fix":
            points += rules.forward_fix_bonus
    points -= rules.regression_penalty * regressions
    return FaultScore(
        team=str(instance.get("team") or "?"),
        fault=str(instance.get("fault") or "?"),
        outcome=outcome,
        fix_kind=kind if isinstance(kind, str) else None,
        time_to_fix_s=fix_time,
        first_response_s=first_response_s(instance),
        regressions=regressions,
        points=points,
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
    )


def scoreboard(instances: Iterable[Mapping[str, Any]], rules: ScoringRules = DEFAULT_RULES) -> list[TeamScore]:
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
