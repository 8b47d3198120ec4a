"""`faultbot faults list|show|verify` and `faultbot plan`: the catalog, seen from the CLI."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot.app import parallel
from bot.app.compose import behaviour_runner
from bot.app.deployroot import deploy_root
from bot.catalog.behaviour import Runner
from bot.catalog.binding import DEFAULT_KUBERNETES_VERSION
from bot.catalog.faults import DEFAULT_CATALOG, Catalog, Fault
from bot.catalog.manifests import DeployRoot, ManifestIndex
from bot.catalog.rehearsal import Rehearsal, needed_roles, rehearse_many
from bot.catalog.scratch import content_digest
from bot.config import Config, TeamSettings
from bot.errors import FaultbotError
from bot.repo.workspace import apply_patch

EXAMPLE_REPO = Path(__file__).resolve().parents[2] / "examples" / "chat-app"
# A role error's suggestion: `pick one in the team's targets: (backend_workload: Deployment/order-service)`.
SUGGESTION = re.compile(r"pick one in the team's targets: \((?P<entry>[a-z_]+: [^)]+)\)")


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
        "variants": [v.name for v in fault.spec.all_variants],
    }


def rehearsal_json(rehearsal: Rehearsal) -> dict[str, Any]:
    """One rehearsal as JSON."""
    return {
        "fault": rehearsal.fault.id,
        "ok": rehearsal.ok,
        "applicable": rehearsal.applicable,
        "healthy_before": rehearsal.healthy_before,
        "broken_after": rehearsal.broken_after,
        "variant": rehearsal.variant,
        "reason": rehearsal.reason,
        "notes": rehearsal.notes,
        "lines_added": rehearsal.lines_changed[0],
        "lines_removed": rehearsal.lines_changed[1],
        "failing_after": [f"{r.name}: {r.reason}" for r in rehearsal.after if not r.passed],
        "fixes": [{"name": f.name, "kind": f.kind, "passed": f.passed, "skipped": f.skipped,
                   "same_as_revert": f.same_as_revert, "reason": f.reason} for f in rehearsal.fixes],
        "wrong_fixes": [{"name": w.name, "stayed_broken": w.stayed_broken, "skipped": w.skipped, "reason": w.reason}
                        for w in rehearsal.wrong_fixes],
        "both_ways": rehearsal.both_ways,
    }


def print_verification(console: Console, runs: Mapping[str, list[Rehearsal]]) -> None:
    """`faults verify` for people: per repository one line per fault, then every failed proof, loudly."""
    for name, results in runs.items():
        console.rule(f"[bold]{escape(name)}[/bold]")
        for r in results:
            mark = "[red]FAIL[/red]" if verify_failed(r) else ("[green]ok[/green]  " if r.ok else "[dim]n/a[/dim] ")
            fixes = ", ".join(f"{f.kind}:{'skip' if f.skipped else 'ok' if f.passed else 'FAIL'}" for f in r.fixes)
            tried = [w for w in r.wrong_fixes if not w.skipped]
            wrong = f"wrong fixes {sum(w.stayed_broken for w in tried)}/{len(tried)} stay broken" \
                if tried else "[yellow]no wrong fix tried: one direction only[/yellow]"
            plus, minus = r.lines_changed
            variant = f" [{r.variant}]" if r.variant and r.variant != "default" else ""
            console.print(f"{mark} {escape(r.fault.id + variant):<50} +{plus}/-{minus}  {fixes}  {wrong}  {escape(r.reason)}",
                          highlight=False)
            for note in r.notes:
                console.print(f"       note: {escape(note)}", highlight=False)
            for w in tried:
                if not w.stayed_broken:
                    console.print(f"[bold red]  WRONG FIX PASSES[/bold red] {escape(r.fault.id)}: {escape(repr(w.name))}: "
                                  f"{escape(w.reason)}", highlight=False)
        console.print(f"{sum(r.ok for r in results)} of {len(results)} faults proven here "
                      f"({sum(r.both_ways for r in results)} in both directions); "
                      f"{sum(not r.breaks for r in results)} do not apply; {sum(verify_failed(r) for r in results)} failed")


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
                   root: DeployRoot | None = None, kubernetes_version: str | None = None,
                   runner: Runner | None = None) -> list[Rehearsal]:
    """Rehearse every fault on `repo`: breaks, every reference fix mends, every wrong fix does not."""
    return rehearse_many(list(catalog.faults.values()), repo, apply_patch=apply_patch, targets=targets, root=root,
                         kubernetes_version=kubernetes_version or DEFAULT_KUBERNETES_VERSION,
                         runner=runner or behaviour_runner())


def verify_repos(repo: Path | None, config_path: Path | None, team_names: list[str],
                 catalog: Catalog | None = None, fault_ids: list[str] | None = None) -> dict[str, list[Rehearsal]]:
    """`faults verify`: on a tree (default: the example repo), or on each team's repo of a
    repos.yaml with the team's targets:, path: (or ArgoCD's) and Kubernetes version; every
    fault of the catalog, or only `fault_ids`."""
    import tempfile

    from bot.config import load_config

    if repo is not None:
        check_team_tree(repo)
    if config_path is None:
        catalog = catalog or Catalog.load()
        tree = repo or EXAMPLE_REPO
        return {str(tree): verify_catalog(catalog.only(fault_ids) if fault_ids else catalog, tree)}
    config, _ = load_config(config_path)
    catalog = catalog or catalog_for(config, config_path)
    catalog = catalog.only(fault_ids) if fault_ids else catalog
    runner = behaviour_runner(config, config_path)
    teams = [config.team(n) for n in team_names] if team_names else config.all_team_settings()
    runs: dict[str, list[Rehearsal]] = {}
    with tempfile.TemporaryDirectory(prefix="faultbot-verify-") as workdir:
        for team in teams:
            tree = repo or team_tree(config, team, Path(workdir) / team.name)
            runs[team.name] = verify_catalog(catalog, tree, team.targets, deploy_root(config, team),
                                             config.event.kubernetes_version, runner)
    return runs


def verify_failed(rehearsal: Rehearsal) -> bool:
    """The repo is not healthy for this fault, or the fault plays here and is not proven
    (a reference fix fails, a wrong fix passes). A fault that does not fit is not a failure."""
    return rehearsal.unhealthy or (rehearsal.breaks and not rehearsal.ok)


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
    variant: str = ""

    def as_json(self) -> dict[str, Any]:
        """`plan --json` shape."""
        return {"fault": self.fault, "family": self.family, "applicable": self.applicable, "variant": self.variant,
                "reason": self.reason, "diff": self.diff}


@dataclass(frozen=True)
class RepoPlan:
    """What faultbot would do to one team's repo: the deployed root, and every fault's verdict."""

    team: str
    root: str  # the folder(s) read, as deployed
    how: str  # how that root was chosen
    problem: str | None = None  # one line when nothing can be read (Helm, several overlays)
    entries: list[PlanEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files not read, read with repairs, not modelled
    refused: list[str] = field(default_factory=list)  # files refused on purpose (alias bombs, huge): `path: why`

    def as_json(self) -> dict[str, Any]:
        """`plan --json` shape for one team."""
        return {"root": self.root, "how": self.how, "problem": self.problem, "notes": self.notes, "refused": self.refused,
                "faults": [e.as_json() for e in self.entries]}


def plan_team(catalog: Catalog, team: TeamSettings, tree: Path, root: DeployRoot | None = None,
              kubernetes_version: str | None = None, runner: Runner | None = None) -> RepoPlan:
    """For one team's tree: every fault of its scenario, applicable or not and why, with the diff."""
    if root is None:
        root = DeployRoot(team.path, team.directory_recurse) if team.path is not None else DeployRoot()
    index = _read_root(tree, root)
    notes = index.notes
    if index.problem is not None:
        return RepoPlan(team.name, index.deployed_root, index.reason, index.problem, notes=notes, refused=index.refused)
    wanted = team.scenario.faults or [f.id for fam in team.scenario.families for f in catalog.in_family(fam)]
    faults = [catalog.get(fault_id) for fault_id in wanted]
    entries = []
    rehearsals = rehearse_many(faults, tree, apply_patch=apply_patch, targets=team.targets, root=root, with_fixes=False,
                               kubernetes_version=kubernetes_version or DEFAULT_KUBERNETES_VERSION,
                               runner=runner or behaviour_runner())
    for fault, rehearsal in zip(faults, rehearsals, strict=True):
        entries.append(PlanEntry(
            team.name, fault.id, fault.family, rehearsal.breaks, rehearsal.reason, rehearsal.diff,
            sum(rehearsal.lines_changed), rehearsal.unhealthy, rehearsal.variant,
        ))
    return RepoPlan(team.name, index.deployed_root, index.reason, None, entries, notes, index.refused)


@dataclass(frozen=True)
class _RootRead:
    """What planning needs of a tree's manifest index (kept per tree content: see _read_root)."""

    deployed_root: str
    reason: str
    problem: str | None
    notes: list[str]
    refused: list[str]


class RootReads:
    """What planning read of each tree content's deployed root, kept (see _read_root).

    Reads of one content asked for at once (a daemon's teams all plan in their first tick,
    each on its own copy of one template) wait for the first instead of parsing alongside it:
    twenty cold parses of every manifest at once were ~1 s of CPU on two cores (issue 17, P1).
    """

    KEPT = 256

    def __init__(self) -> None:
        self.scans = 0  # how many trees were actually parsed
        self._found: dict[tuple[str, DeployRoot], _RootRead] = {}
        self._gates: dict[tuple[str, DeployRoot], threading.Lock] = {}
        self._lock = threading.Lock()

    def read(self, tree: Path, root: DeployRoot) -> _RootRead:
        """The deployed root of `tree` and what was not read there, parsed once per content."""
        key = (content_digest(tree), root)
        with self._lock:
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            found = self._found.get(key)
            if found is None:
                index = ManifestIndex.scan(tree, root)
                found = _RootRead(index.deployed_root, index.reason, index.problem,
                                  [str(n) for n in index.notes if n.kind != "refused"], list(index.problems))
                with self._lock:
                    self.scans += 1
                    if len(self._found) >= self.KEPT:
                        self._found.clear()
                        self._gates = {key: gate}  # a gate nobody waits on is cheap to make again
                    self._found[key] = found
            return found


ROOT_READS = RootReads()


def _read_root(tree: Path, root: DeployRoot) -> _RootRead:
    """The deployed root of `tree` and what was not read there; a tree with the same content
    (another team's copy of one template) is not parsed again, as its rehearsals are not."""
    return ROOT_READS.read(tree, root)


def team_tree(config: Config, team: TeamSettings, dest: Path) -> Path:
    """Fetch the team's branch head into `dest` (a shallow clone) and return its path."""
    from bot.app.validation import git_limits, token_for
    from bot.repo.workspace import Credentials, clone_branch

    return clone_branch(team.git_url, team.branch, dest, Credentials(token_for(config, team)), git_limits(config))


def team_plan(config: Config, catalog: Catalog, team: TeamSettings, workdir: Path,
              runner: Runner | None = None) -> RepoPlan:
    """Clone the team's branch head and plan it (the root as the team's ArgoCD deploys it)."""
    tree = team_tree(config, team, workdir / team.name)
    return plan_team(catalog, team, tree, deploy_root(config, team), config.event.kubernetes_version, runner)


def fetched_plans(config: Config, catalog: Catalog, teams: list[TeamSettings], workdir: Path,
                  runner: Runner | None, *, unreadable: bool = False) -> list[RepoPlan | None]:
    """Every team's plan; with `unreadable`, None where its repo cannot be fetched or read, else
    the first team's error is raised. Clones go on, a few at once, while the trees already
    fetched are planned: the first tree's rehearsal (its sandbox jobs take seconds) no longer
    holds back the other teams' clones, whose plans are then the memo's (issue 17 P5). Each
    clone is removed once planned."""
    workers = parallel.TEAM_WORKERS  # read at call time, as in_parallel does (bench/bench_validate.py sets it)
    with ThreadPoolExecutor(workers, thread_name_prefix="faultbot-clone") as clones, \
            ThreadPoolExecutor(workers, thread_name_prefix="faultbot-plan") as planners:
        def plan(team: TeamSettings, fetching: Future[Path]) -> RepoPlan | None:
            try:
                tree = fetching.result()
                try:
                    return plan_team(catalog, team, tree, deploy_root(config, team), config.event.kubernetes_version,
                                     runner)
                finally:
                    shutil.rmtree(tree, ignore_errors=True)
            except FaultbotError:
                if unreadable:
                    return None
                raise

        fetches = [clones.submit(team_tree, config, team, workdir / team.name) for team in teams]
        plans = [planners.submit(plan, team, fetching) for team, fetching in zip(teams, fetches, strict=True)]
        return [planned.result() for planned in plans]


@dataclass
class CatalogFindings:
    """What `validate` learns from the catalog and the team repos: problems fail it, warnings do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def catalog_problems(config: Config, source: Any, catalog: Catalog, *, offline: bool, workdir: Path,
                     runner: Runner | None = None) -> CatalogFindings:
    """Config ↔ catalog problems; online, also each team's repo under every applicable fault."""
    found = CatalogFindings()
    known = set(catalog.families)
    for index, team in enumerate(config.all_team_settings()):
        raw = config.teams[index]
        base = ("teams", index, "scenario") if raw.scenario.families or raw.scenario.faults else ("defaults", "scenario")
        for position, family in enumerate(team.scenario.families):
            if family not in known:
                found.problems.append(f"{source.where((*base, 'families', position))}: unknown family {family!r} (known: {', '.join(sorted(known))})")
        for position, fault_id in enumerate(team.scenario.faults or []):
            if fault_id not in catalog.faults:
                found.problems.append(f"{source.where((*base, 'faults', position))}: unknown fault {fault_id!r}; see `faultbot faults list`")
            elif catalog.faults[fault_id].spec.draft:
                found.problems.append(f"{source.where((*base, 'faults', position))}: {fault_id} is a draft from `faults new`: "
                                      "finish it (forward fix, wrong fixes) and remove `draft: true`")
    found.problems = list(dict.fromkeys(found.problems))  # a defaults problem is found once per team
    if offline or found.problems:
        return found
    teams = config.all_team_settings()
    for index, (team, plan) in enumerate(zip(teams, fetched_plans(config, catalog, teams, workdir, runner, unreadable=True), strict=True)):
        if plan is not None:  # None: unreachable, already reported by the reachability check
            _judge_team(found, source.where(("teams", index, "name")), team, plan, known)
    return found


def _judge_team(found: CatalogFindings, where: str, team: TeamSettings, plan: RepoPlan, known: set[str]) -> None:
    found.warnings += [f"{where}: {team.name}: {note}" for note in plan.notes]
    found.problems += [f"{where}: {team.name}'s repo: {refused}; faultbot ignores that file" for refused in plan.refused]
    if plan.problem is not None:
        found.problems.append(f"{where}: {team.name}: {plan.problem}")
        return
    for entry in plan.entries:
        if entry.unhealthy:
            found.problems.append(f"{where}: {team.name} does not start healthy for {entry.fault}: {entry.reason}")
    applicable_families = {e.family for e in plan.entries if e.applicable}
    suggestions = sorted({m["entry"] for e in plan.entries if not e.applicable for m in SUGGESTION.finditer(e.reason)})
    for family in team.scenario.families:
        if family in known and family not in applicable_families:
            reasons = [e.reason for e in plan.entries if e.family == family]
            why = _most_telling(reasons)
            found.problems.append(f"{where}: no fault of family {family!r} applies to {team.name}'s repo: {why} (see `faultbot plan`)")
    for suggestion in suggestions:
        found.warnings.append(f"{where}: {team.name}: discovery needs a choice; add to the team's targets: {suggestion}")


def _most_telling(reasons: list[str]) -> str:
    """The reason to show for a whole family: a suggestion of `targets:` first, else the most common one."""
    for reason in reasons:
        if SUGGESTION.search(reason):
            return reason
    return max(set(reasons), key=reasons.count) if reasons else "the scenario names no fault of it"
