"""Every fault that applies to a real repository (../shared/realworld) plays the whole game there,
with the real injector and watcher on real git repositories:

inject → an unrelated image-tag bump in the same file keeps it open → each wrong fix keeps it
open (and is undone) → `git revert` of the fault is judged `revert` → the team re-applies the
change (the fault is open again) → the reference forward fix is judged `forward-fix`.

The team is configured with exactly the `path:` and `targets:` that `faultbot validate` suggests
(tests/realworld.settle). Which faults apply is asserted too: the table of the issue.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.commands import run_plan
from bot.app.compose import make_injector, make_watcher, open_store
from bot.catalog.checks import RoleBinding
from bot.catalog.faults import Catalog, Fault
from bot.catalog.manifests import ManifestIndex
from bot.catalog.rehearsal import Rehearsal, apply_fix, fitting_fixes, rehearse_many
from bot.catalog.roles import Role
from bot.config import load_config
from bot.game.timeline import FaultInstance, State, fold
from bot.repo.watcher import TeamWatcher
from bot.repo.workspace import apply_patch
from bot.store.eventlog import Store
from tests.gitrepos import git
from tests.realworld import SettledTeam, settle, write_team_config

CATALOG = Catalog.load()
ALICE = ["-c", "user.name=Alice Ng", "-c", "user.email=alice@example.com"]

# repo -> the faults that apply there (the table; each one not listed says why in plan).
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


def _targets(team: SettledTeam) -> dict[Role, str]:
    return {Role(role): target for role, target in team.targets.items()}


def _root(team: SettledTeam):  # type: ignore[no-untyped-def]
    from bot.catalog.manifests import DeployRoot

    return DeployRoot(team.path)


@pytest.mark.parametrize("key", sorted(APPLICABLE))
def test_every_applicable_fault_plays_the_whole_game(tmp_path: Path, key: str) -> None:
    team, _ = settle(tmp_path / "settle", key)
    plan = run_plan(write_team_config(tmp_path / "plan", team.team_lines()), [])["team-a"]
    applicable = {e.fault for e in plan.entries if e.applicable}
    skipped = {e.fault: e.reason for e in plan.entries if not e.applicable}
    assert applicable == APPLICABLE[key], skipped
    assert all(reason and "\n" not in reason for reason in skipped.values())
    assert len({f for f in applicable if f.startswith("web-unreachable/")}) >= 3
    if "db-unreachable" in team.families:
        assert len({f for f in applicable if f.startswith("db-unreachable/")}) >= 2
    faults = [CATALOG.get(f) for f in sorted(applicable)]
    rehearsals = rehearse_many(faults, team.remote.clone, apply_patch=apply_patch, targets=_targets(team), root=_root(team))
    failures = []
    for number, (fault, healthy) in enumerate(zip(faults, rehearsals, strict=True)):
        try:
            play(tmp_path / f"game-{number}", team, fault, healthy)
        except (AssertionError, subprocess.CalledProcessError) as exc:
            failures.append(f"{fault.id}: {exc}")
    assert failures == []
