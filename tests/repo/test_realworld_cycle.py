"""Every fault that applies to a real repository (../shared/realworld) is proven there, in two layers.

For every (repository, applicable fault, the variant that fits): the git-free rehearsal
(bot/catalog/rehearsal.py, the one `faults verify` and `plan` use) proves that the fault breaks
the healthy repo, that the revert and every reference forward fix that fits mend it, that a
forward fix which does not write the fault's own lines back exists (a team can be seen to fix
forward there), and that every wrong fix that fits leaves it broken.

For one fault per family per repository (a different one on each repository, so together they
cover most of the catalog), the whole game with the real injector and watcher on real git
repositories: inject → an unrelated image-tag bump in the same file keeps it open → each wrong
fix keeps it open (and is undone) → `git revert` of the fault is judged `revert` → the team
re-applies the change (the fault is open again) → the reference forward fix is judged
`forward-fix`. That the detector judges by the same checks as the rehearsal is what lets the
rehearsal stand for the rest.

The team is configured with exactly the `path:` and `targets:` that `faultbot validate` suggests
(tests/realworld.SUGGESTED, which tests/app/test_validate_realworld.py proves, running `plan`
inside `validate`). Which faults apply is asserted too: the table of the issue. One copy of each repository, its plan and its
rehearsals are shared by the module's tests.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.compose import make_injector, make_watcher, open_store
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog, Fault
from bot.catalog.manifests import DeployRoot, ManifestIndex
from bot.catalog.rehearsal import Rehearsal, apply_fix, fitting_fixes, rehearse_many
from bot.catalog.roles import Role
from bot.config import load_config
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.watcher import TeamWatcher
from bot.repo.workspace import apply_patch
from bot.store.eventlog import Store
from tests.gitrepos import git
from tests.realworld import SettledTeam, suggested_team, write_team_config

CATALOG = Catalog.load()
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]

# repo -> the faults that apply there (the issue's table; each one not listed says why in plan).
APPLICABLE = {
    "podinfo-bases": {
        "web-unreachable/service-selector-typo", "web-unreachable/frontend-scaled-to-zero",
        "web-unreachable/service-targetport-wrong", "web-unreachable/frontend-service-port-changed",
        "web-unreachable/frontend-netpol-hardening", "web-unreachable/frontend-container-port-renamed",
        "db-unreachable/db-host-typo", "db-unreachable/db-service-port-changed",
        "db-unreachable/db-service-selector-mismatch", "db-unreachable/db-netpol-hardening",
        "db-unreachable/db-scaled-to-zero", "db-unreachable/db-connection-port-wrong",
        "db-unreachable/db-service-targetport-wrong",
    },
    "aks-store-demo-base": {
        "web-unreachable/service-selector-typo", "web-unreachable/frontend-scaled-to-zero",
        "web-unreachable/service-targetport-wrong", "web-unreachable/frontend-service-port-changed",
        "web-unreachable/frontend-netpol-hardening", "web-unreachable/frontend-service-internal",
        "db-unreachable/db-host-typo", "db-unreachable/db-service-port-changed",
        "db-unreachable/db-service-selector-mismatch", "db-unreachable/db-netpol-hardening",
        "db-unreachable/db-scaled-to-zero", "db-unreachable/db-connection-port-wrong",
        "db-unreachable/db-service-targetport-wrong",
    },
    "k8s-guestbook": {
        "web-unreachable/service-selector-typo", "web-unreachable/frontend-scaled-to-zero",
        "web-unreachable/service-targetport-wrong", "web-unreachable/frontend-netpol-hardening",
        "web-unreachable/frontend-service-internal",
        "db-unreachable/db-service-port-changed", "db-unreachable/db-service-selector-mismatch",
        "db-unreachable/db-netpol-hardening", "db-unreachable/db-scaled-to-zero",
        "db-unreachable/db-service-targetport-wrong",
    },
    "argocd-guestbook": {
        "web-unreachable/service-selector-typo", "web-unreachable/frontend-scaled-to-zero",
        "web-unreachable/service-targetport-wrong", "web-unreachable/frontend-service-port-changed",
        "web-unreachable/frontend-netpol-hardening",
    },
}
APPLICABLE["podinfo-dev"] = APPLICABLE["podinfo-bases"]
APPLICABLE["argocd-kustomize-guestbook"] = APPLICABLE["argocd-guestbook"]
IMAGE = re.compile(r"^(?P<head>\s*-?\s*image:\s*[\"']?[^\s\"'#]+:)(?P<tag>[^\s\"'#]+)", re.MULTILINE)


@dataclass
class Game:
    """One fault played in a fresh copy of the team's repository."""

    watcher: TeamWatcher
    clone: Path
    store: Store
    fault: Fault
    injected: str

    def refresh(self) -> FaultInstance:
        self.watcher.refresh(force=True)
        (instance,) = fold(self.store.events("team-a"))
        return instance

    def commit(self, message: str) -> str:
        git(self.clone, "add", "-A")
        git(self.clone, *ALICE, "commit", "-qm", message)
        git(self.clone, "push", "-q", "origin", "HEAD:main")
        return git(self.clone, "rev-parse", "HEAD")

    def revert(self, sha: str) -> str:
        git(self.clone, *ALICE, "revert", "--no-edit", sha)
        git(self.clone, "push", "-q", "origin", "HEAD:main")
        return git(self.clone, "rev-parse", "HEAD")


def start(tmp_path: Path, team: SettledTeam, fault: Fault) -> Game:
    tmp_path.mkdir(parents=True, exist_ok=True)
    bare = tmp_path / "team.git"
    git(tmp_path, "clone", "-q", "--bare", str(team.remote.bare), str(bare))
    config_path = write_team_config(tmp_path, team.team_lines(bare.as_uri()))
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    injected = make_injector(config, config_path, config.team("team-a"), store).inject(fault).sha
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", bare.as_uri(), str(clone))
    watcher = make_watcher(config, config_path, config.team("team-a"), store, CATALOG)
    return Game(watcher, clone, store, fault, injected)


def bump_file(game: Game, binding: RoleBinding) -> Path:
    """The file the fault changed if it holds an image, else the file of a workload it binds."""
    changed = git(game.clone, "show", "--name-only", "--format=", game.injected).splitlines()
    candidates = [game.clone / p for p in changed]
    index = ManifestIndex.scan(game.clone, binding.root)
    for role in (Role.frontend_workload, Role.db_workload, Role.backend_workload):
        for ref in binding.refs.get(role, ()):
            found = index.find(ref)
            if found is not None:
                candidates.append(game.clone / found.path)
    return next(p for p in candidates if p.is_file() and IMAGE.search(p.read_text(encoding="utf-8")))


def bump_image(path: Path) -> None:
    """An image-tag bump, as CI or a developer makes it: `6.14.1` → `6.14.2`, `e2e` → `e2e-1`."""
    def next_tag(match: re.Match[str]) -> str:
        tag = match["tag"]
        number = re.search(r"(\d+)$", tag)
        bumped = tag[: number.start()] + str(int(number[1]) + 1) if number else f"{tag}-1"
        return match["head"] + bumped

    text = path.read_text(encoding="utf-8")
    path.write_text(IMAGE.sub(next_tag, text, count=1), encoding="utf-8")


def play(tmp_path: Path, team: SettledTeam, fault: Fault, healthy: Rehearsal) -> None:
    """The whole cycle for one fault (see the module docstring); assertion messages say where it broke."""
    forward = healthy.forward_fix()
    assert forward is not None, f"no forward fix mends it without restoring the original: {healthy.fixes}"
    game = start(tmp_path, team, fault)
    instance = game.refresh()
    assert instance.state is State.injected and instance.variant == healthy.variant
    binding = RoleBinding.from_json(instance.binding)

    bump_image(bump_file(game, binding))
    game.commit("chore: bump image")
    assert game.refresh().state is State.injected, "an image-tag bump closed it"

    for wrong in fitting_fixes(fault, game.clone, binding, instance.variant, apply_patch=apply_patch, kind="wrong"):
        apply_fix(fault, wrong, game.clone, binding, apply_patch=apply_patch)
        sha = game.commit(wrong.message or wrong.name)
        assert game.refresh().state is State.injected, f"wrong fix {wrong.name!r} was judged a fix"
        game.revert(sha)  # had undoing it closed the fault, the revert below would not be the fix

    reverted = game.revert(game.injected)
    fixed = game.refresh()
    assert (fixed.state, fixed.fix_kind, fixed.fix_sha) == (State.fixed, "revert", reverted), fixed.failing

    game.revert(reverted)  # the team lands the change again: open once more
    assert game.refresh().state is State.regressed, "re-applying the change did not reopen it"

    apply_fix(fault, forward, game.clone, binding, apply_patch=apply_patch)
    sha = game.commit(forward.message or forward.name)
    fixed = game.refresh()
    assert (fixed.state, fixed.fix_kind, fixed.fix_sha) == (State.fixed, "forward-fix", sha), (forward.name, fixed.failing)


@dataclass
class Proven:
    """One repository as a team's, planned and rehearsed once for the whole module."""

    key: str
    team: SettledTeam
    applicable: set[str]
    skipped: dict[str, str]
    rehearsals: dict[str, Rehearsal]


@pytest.fixture(scope="module", params=sorted(APPLICABLE))
def proven(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Proven:
    """Every fault of the team's families rehearsed once, with its fixes where it breaks the repo
    (what `plan` judges applicable is exactly a rehearsal that breaks: bot.app.faults.plan_team)."""
    key: str = request.param
    team = suggested_team(tmp_path_factory.mktemp(f"realworld-{key}"), key)
    faults = [f for family in team.families for f in CATALOG.in_family(family)]
    targets = {Role(role): target for role, target in team.targets.items()}
    rehearsals = rehearse_many(faults, team.remote.clone, apply_patch=apply_patch, targets=targets,
                               root=DeployRoot(team.path))
    by_id = {f.id: r for f, r in zip(faults, rehearsals, strict=True)}
    return Proven(key, team, {f for f, r in by_id.items() if r.breaks},
                  {f: r.reason for f, r in by_id.items() if not r.breaks},
                  {f: r for f, r in by_id.items() if r.breaks})


def test_the_faults_that_apply_are_the_issues_table(proven: Proven) -> None:
    assert proven.applicable == APPLICABLE[proven.key], proven.skipped
    assert all(reason and "\n" not in reason for reason in proven.skipped.values())
    assert len({f for f in proven.applicable if f.startswith("web-unreachable/")}) >= 3
    if "db-unreachable" in proven.team.families:
        assert len({f for f in proven.applicable if f.startswith("db-unreachable/")}) >= 2


def test_every_applicable_fault_is_proven_both_ways_by_the_rehearsal(proven: Proven) -> None:
    failures = []
    for fault_id, rehearsal in sorted(proven.rehearsals.items()):
        tried_wrong = [w for w in rehearsal.wrong_fixes if not w.skipped]
        if not rehearsal.ok:
            failures.append(f"{fault_id} [{rehearsal.variant}]: {rehearsal.reason}")
        elif rehearsal.forward_fix() is None:
            failures.append(f"{fault_id} [{rehearsal.variant}]: no forward fix mends it without writing its lines back")
        elif not tried_wrong:
            failures.append(f"{fault_id} [{rehearsal.variant}]: no wrong fix fits this variant")
    assert failures == []


def played(key: str, applicable: set[str]) -> list[str]:
    """One fault per family for the whole game: a different one on each repository."""
    turn = sorted(APPLICABLE).index(key)
    chosen = []
    for family in ("web-unreachable", "db-unreachable"):
        ids = sorted(f for f in applicable if f.startswith(family + "/"))
        if ids:
            chosen.append(ids[turn % len(ids)])
    return chosen


def test_one_fault_per_family_plays_the_whole_game(proven: Proven, tmp_path: Path) -> None:
    failures = []
    for number, fault_id in enumerate(played(proven.key, proven.applicable)):
        try:
            play(tmp_path / f"game-{number}", proven.team, CATALOG.get(fault_id), proven.rehearsals[fault_id])
        except (AssertionError, subprocess.CalledProcessError) as exc:
            failures.append(f"{fault_id}: {exc}")
    assert failures == []
