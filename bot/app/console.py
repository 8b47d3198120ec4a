"""What `plan` and `status` print for people: schedules first, then faults grouped by team,
times in the event's zone, durations as `6m55s`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING

from rich.table import Table

from bot.config import TeamSettings
from bot.game.plan import TeamPlan, make_plan
from bot.game.timeline import FaultInstance, numbered
from bot.web.humanize import LocalClock, how_it_ended, human_duration, who_fixed

if TYPE_CHECKING:
    from bot.app.faults import PlanEntry  # the rehearsal and git: not needed to print `status`

LATEST = datetime.max.replace(tzinfo=timezone.utc)  # sorts after every real time


def schedule(team: TeamSettings, entries: Sequence[PlanEntry]) -> TeamPlan:
    """The plan the daemon would draw for this team from the faults that apply (same seed, same plan)."""
    applicable: dict[str, list[str]] = {}
    for entry in entries:
        if entry.applicable:
            applicable.setdefault(entry.family, []).append(entry.fault)
    return make_plan(team, applicable)


def schedule_table(plan: TeamPlan, families: Mapping[str, str]) -> Table:
    """One row per fault in the order the team will get them, with the wait before each."""
    table = Table("#", "family", "fault", "comes", box=None,
                  title=f"{plan.team}: {len(plan.faults)} faults, {human_duration(plan.time_limit.total_seconds())} "
                        f"each, then {'faultbot reverts' if plan.on_time_limit == 'revert' else 'it stays broken'}",
                  title_justify="left")
    for position, fault in enumerate(plan.faults):
        wait = human_duration(plan.delay_before(position).total_seconds())
        comes = f"{wait} after the start" if position == 0 else f"{wait} after incident {position} is resolved"
        table.add_row(str(position + 1), families.get(fault, "?"), fault, comes)
    for family in plan.skipped_families:
        table.add_row("-", family, "no fault of this family applies", "skipped")
    return table


def status_tables(instances: Sequence[FaultInstance], zone: tzinfo) -> list[Table]:
    """Per team, its faults in the order they came: local times, durations, how and by whom."""
    clock = LocalClock.for_instances(instances, zone)
    numbers = {(i.team, i.fault): n for i, n in numbered(instances)}
    tables: list[Table] = []
    for team in dict.fromkeys(i.team for i in instances):
        table = Table("#", "fault", "state", "injected", "fixed", "how", "by", "time to fix", "MTTA", "notes",
                      box=None, title=f"{team} ({clock.note.removesuffix('.')})", title_justify="left")
        rows = sorted((i for i in instances if i.team == team),
                      key=lambda i: (numbers.get((i.team, i.fault), 99), i.scheduled_at or i.injected_at or LATEST))
        for i in rows:
            notes = [*i.anomalies, *(["stale: " + "/".join(i.stale)] if i.stale else []),
                     *(["not shipped"] if i.deploy_tracked and not i.shipped_at and i.injected_sha else []),
                     *(["failing: " + "; ".join(i.failing)[:60]] if i.failing else [])]
            due = f"due {clock.show(i.scheduled_at)}" if i.scheduled_at and not i.injected_at else ""
            table.add_row(str(numbers.get((i.team, i.fault), "")), i.fault, i.state.value,
                          clock.show(i.injected_at) if i.injected_at else due, clock.show(i.fixed_at),
                          how_it_ended(i), who_fixed(i) if i.fix_kind else "", human_duration(i.time_to_fix_s),
                          human_duration(i.mtta_s), ", ".join(notes))
        tables.append(table)
    return tables

