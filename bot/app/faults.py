"""`faultbot faults list|show|verify` and `faultbot plan`: the catalog, seen from the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bot.app.compose import behaviour_runner
from bot.app.parallel import in_parallel
from bot.catalog.behaviour import Runner
from bot.catalog.faults import DEFAULT_CATALOG, Catalog, Fault
from bot.catalog.manifests import ManifestIndex
from bot.catalog.rehearsal import Rehearsal, needed_roles, rehearse_many
from bot.config import Config, TeamSettings
from bot.errors import FaultbotError
from bot.repo.workspace import apply_patch

EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "chat-app"


def catalog_for(config: Config | None, config_path: Path | None, *, lazy: bool = False) -> Catalog:
    """The catalog a config names (relative to the config file), or the bundled one (`lazy`: see Catalog.load)."""
    if config is not None and config.catalog and config_path is not None:
        return Catalog.load((config_path.parent / config.catalog).resolve(), lazy=lazy)
    return Catalog.load(DEFAULT_CATALOG, lazy=lazy)


def fault_summary(fault: Fault) -> dict[str, Any]:
    """The fields `faults list` shows."""
    return {
        "id": fault.id,
        "family": fault.family,
        "severity": fault.spec.severity,
        "title": fault.spec.title,
        "roles": [str(r) for r in needed_roles(fault)],
    }


def rehearsal_json(rehearsal: Rehearsal) -> dict[str, Any]:
    """One rehearsal as JSON."""
    return {
        "fault": rehearsal.fault.id,
        "ok": rehearsal.ok,
        "applicable": rehearsal.applicable,
        "healthy_before": rehearsal.healthy_before,
        "broken_after": rehearsal.broken_after,
        "reason": rehearsal.reason,
        "lines_added": rehearsal.lines_changed[0],
        "lines_removed": rehearsal.lines_changed[1],
        "failing_after": [f"{r.name}: {r.reason}" for r in rehearsal.after if not r.passed],
        "fixes": [{"name": f.name, "kind": f.kind, "passed": f.passed, "reason": f.reason} for f in rehearsal.fixes],
        "wrong_fixes": [{"name": w.name, "stayed_broken": w.stayed_broken, "reason": w.reason}
                        for w in rehearsal.wrong_fixes],
        "both_ways": rehearsal.both_ways,
    }


def print_verification(console: Console, results: list[Rehearsal]) -> None:
    """`faults verify` for people: one line per fault, then every failed proof, loudly."""
    for r in results:
        mark = "[green]ok[/green]  " if r.ok else "[red]FAIL[/red]"
        fixes = ", ".join(f"{f.kind}:{'ok' if f.passed else 'FAIL'}" for f in r.fixes)
        wrong = f"wrong fixes {sum(w.stayed_broken for w in r.wrong_fixes)}/{len(r.wrong_fixes)} stay broken" \
            if r.wrong_fixes else "[yellow]no wrong fix listed: one direction only[/yellow]"
        plus, minus = r.lines_changed
        console.print(f"{mark} {r.fault.id:<45} +{plus}/-{minus}  {fixes}  {wrong}  {r.reason}", highlight=False)
        for w in r.wrong_fixes:
            if not w.stayed_broken:
                console.print(f"[bold red]  WRONG FIX PASSES[/bold red] {r.fault.id}: {w.name!r}: {w.reason}", highlight=False)
    console.print(f"{sum(r.ok for r in results)} of {len(results)} faults verified "
                  f"({sum(r.both_ways for r in results)} in both directions)")


MAX_TREE_FILES = 20_000  # a team repo has hundreds; a home folder has millions
_NOT_WALKED = {".git", "node_modules", ".venv", "__pycache__", ".pytest_cache"}


def check_team_tree(repo: Path, max_files: int = MAX_TREE_FILES) -> None:
    """Refuse, in one line, a folder that is no team repository: `faults verify` copies the
    tree for its rehearsals, and pointed at a home folder it would run for minutes."""
    if not (repo / ".git").exists():
        raise FaultbotError(f"--repo {repo}: not a git repository (no .git here); "
                            "pass the top folder of a clone of a team's repository")
    seen = 0
    for _, folders, files in os.walk(repo):
        folders[:] = [f for f in folders if f not in _NOT_WALKED]
        seen += len(files)
        if seen > max_files:
            raise FaultbotError(f"--repo {repo}: more than {max_files} files (not counting .git, node_modules, .venv); "
                                "is this one team's repository?")


def verify_catalog(catalog: Catalog, repo: Path, targets: Mapping[Any, str] | None = None,
                   runner: Runner | None = None) -> list[Rehearsal]:
    """Rehearse every fault on `repo`: breaks, every reference fix mends, every wrong fix does not."""
    return rehearse_many(list(catalog.faults.values()), repo, apply_patch=apply_patch, targets=targets,
                         runner=runner or behaviour_runner())


@dataclass(frozen=True)
class PlanEntry:
    """One fault as it would land on one team."""

    team: str
    fault: str
    family: str
    applicable: bool
    reason: str
    diff: str
    lines_changed: int = 0
    unhealthy: bool = False

    def as_json(self) -> dict[str, Any]:
        """`plan --json` shape."""
        return {"fault": self.fault, "family": self.family, "applicable": self.applicable, "reason": self.reason, "diff": self.diff}


def plan_team(catalog: Catalog, team: TeamSettings, tree: Path, runner: Runner | None = None) -> list[PlanEntry]:
    """For one team's tree: every fault of its scenario, applicable or not and why, with the diff."""
    wanted = team.scenario.faults or [f.id for fam in team.scenario.families for f in catalog.in_family(fam)]
    faults = [catalog.get(fault_id) for fault_id in wanted]
    entries = []
    rehearsals = rehearse_many(faults, tree, apply_patch=apply_patch, targets=team.targets, with_fixes=False,
                               runner=runner or behaviour_runner())
    for fault, rehearsal in zip(faults, rehearsals, strict=True):
        applicable = rehearsal.applicable and rehearsal.healthy_before and rehearsal.broken_after
        entries.append(PlanEntry(
            team.name, fault.id, fault.family, applicable, rehearsal.reason, rehearsal.diff,
            sum(rehearsal.lines_changed), rehearsal.unhealthy,
        ))
    return entries


def team_tree(config: Config, team: TeamSettings, dest: Path) -> Path:
    """Fetch the team's branch head into `dest` (a shallow clone) and return its path."""
    from bot.app.validation import git_limits, token_for
    from bot.repo.workspace import Credentials, clone_branch

    return clone_branch(team.git_url, team.branch, dest, Credentials(token_for(config, team)), git_limits(config))


def _team_plan(config: Config, catalog: Catalog, team: TeamSettings, workdir: Path,
               runner: Runner | None) -> tuple[list[PlanEntry], list[str]] | None:
    """The team's plan and the files of its repo faultbot refused to read (alias bombs, huge files)."""
    try:
        tree = team_tree(config, team, workdir / team.name)
    except FaultbotError:
        return None
    return plan_team(catalog, team, tree, runner), ManifestIndex.scan(tree).problems


def catalog_problems(config: Config, source: Any, catalog: Catalog, *, offline: bool, workdir: Path,
                     runner: Runner | None = None) -> list[str]:
    """Config ↔ catalog problems; online, also each team's repo under every applicable fault."""
    problems: list[str] = []
    known = set(catalog.families)
    for index, team in enumerate(config.all_team_settings()):
        raw = config.teams[index]
        base = ("teams", index, "scenario") if raw.scenario.families or raw.scenario.faults else ("defaults", "scenario")
        for position, family in enumerate(team.scenario.families):
            if family not in known:
                problems.append(f"{source.where((*base, 'families', position))}: unknown family {family!r} (known: {', '.join(sorted(known))})")
        for position, fault_id in enumerate(team.scenario.faults or []):
            if fault_id not in catalog.faults:
                problems.append(f"{source.where((*base, 'faults', position))}: unknown fault {fault_id!r}; see `faultbot faults list`")
            elif catalog.faults[fault_id].spec.draft:
                problems.append(f"{source.where((*base, 'faults', position))}: {fault_id} is a draft from `faults new`: "
                                "finish it (forward fix, wrong fixes) and remove `draft: true`")
    problems = list(dict.fromkeys(problems))  # a defaults problem is found once per team
    if offline or problems:
        return problems
    teams = config.all_team_settings()
    for index, (team, planned) in enumerate(zip(teams, in_parallel(lambda t: _team_plan(config, catalog, t, workdir, runner), teams), strict=True)):
        if planned is None:
            continue  # unreachable: already reported by the reachability check
        entries, refused = planned
        where = source.where(("teams", index, "name"))
        problems += [f"{where}: {team.name}'s repo: {problem}; faultbot ignores that file" for problem in refused]
        for entry in entries:
            if entry.unhealthy:
                problems.append(f"{where}: {team.name} does not start healthy for {entry.fault}: {entry.reason}")
        applicable_families = {e.family for e in entries if e.applicable}
        for family in team.scenario.families:
            if family in known and family not in applicable_families:
                problems.append(f"{where}: no fault of family {family!r} applies to {team.name}'s repo (see `faultbot plan`)")
    return problems
