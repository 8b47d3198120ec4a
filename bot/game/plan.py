"""A team's plan: which faults, in which order, with which delays — drawn from the seed.

Same seed and config, same plan: the draw uses only `random.Random(f"{seed}/{team}")`
over sorted inputs, never the clock or dict order. Teams differ because their names do
(and their seeds can).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.config import TeamSettings
from bot.errors import FaultbotError


@dataclass(frozen=True)
class TeamPlan:
    """The faults one team will get, in order, and the waits between them."""

    team: str
    faults: tuple[str, ...]
    first_delay: timedelta
    next_delays: tuple[timedelta, ...]  # before fault i+1, counted from fault i's resolution
    time_limit: timedelta
    on_time_limit: str
    skipped_families: tuple[str, ...] = ()

    def delay_before(self, position: int) -> timedelta:
        """Wait before the fault at `position` (from the start, or from the previous resolution)."""
        return self.first_delay if position == 0 else self.next_delays[position - 1]

    def to_json(self) -> dict[str, Any]:
        """For the event log (a restarted daemon reuses the recorded plan)."""
        return {
            "faults": list(self.faults),
            "first_delay_s": self.first_delay.total_seconds(),
            "next_delays_s": [d.total_seconds() for d in self.next_delays],
            "time_limit_s": self.time_limit.total_seconds(),
            "on_time_limit": self.on_time_limit,
            "skipped_families": list(self.skipped_families),
        }

    @classmethod
    def from_json(cls, team: str, data: Mapping[str, Any]) -> TeamPlan:
        """The inverse of to_json."""
        return cls(
            team=team,
            faults=tuple(data["faults"]),
            first_delay=timedelta(seconds=data["first_delay_s"]),
            next_delays=tuple(timedelta(seconds=s) for s in data["next_delays_s"]),
            time_limit=timedelta(seconds=data["time_limit_s"]),
            on_time_limit=data["on_time_limit"],
            skipped_families=tuple(data.get("skipped_families", [])),
        )


def make_plan(team: TeamSettings, applicable: Mapping[str, list[str]]) -> TeamPlan:
    """Draw the plan: one applicable fault per family (or the named faults), ordered, delayed.

    `applicable` maps each family to the ids of the faults that apply to this team's repo.
    """
    scenario = team.scenario
    rng = random.Random(f"{scenario.seed}/{team.name}")
    skipped: list[str] = []
    if scenario.faults:
        known = {f for ids in applicable.values() for f in ids}
        missing = [f for f in scenario.faults if f not in known]
        if missing:
            raise FaultbotError(f"team {team.name}: {', '.join(missing)} do not apply to its repo (see `faultbot plan`)")
        faults = list(scenario.faults)
    else:
        faults = []
        for family in scenario.families:
            candidates = sorted(applicable.get(family, []))
            if candidates:
                faults.append(rng.choice(candidates))
            else:
                skipped.append(family)
        if scenario.order == "random":
            rng.shuffle(faults)
    first = scenario.first_delay.pick(rng)
    following = tuple(scenario.next_delay.pick(rng) for _ in faults[1:])
    return TeamPlan(team.name, tuple(faults), first, following, scenario.time_limit, scenario.on_time_limit,
                    tuple(skipped))
