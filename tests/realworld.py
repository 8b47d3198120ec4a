"""The real team repositories in ../shared/realworld, copied for a test (never used in place).

They are test data nobody here wrote (podinfo, aks-store-demo, the guestbooks). Without
../shared the tests that need them skip with the reason, except in CI (CI=true), where a
missing ../shared is a failure: CI lays shared/ beside the clone. FAULTBOT_SHARED points
elsewhere (a git worktree has no ../shared of its own).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.gitrepos import TeamRepo, make_team_repo
from tests.shared_files import SHARED_DIR, require

REALWORLD = SHARED_DIR / "realworld"


def realworld_source(name: str) -> Path:
    """The read-only folder of one real repository; skip (or fail in CI) when ../shared is absent."""
    return require(REALWORLD / name)


def copy_realworld(tmp_path: Path, name: str) -> Path:
    """A private copy of one real repository (or of a folder inside one: `podinfo/bases`)."""
    destination = tmp_path / name.replace("/", "-")
    shutil.copytree(realworld_source(name), destination, symlinks=True)
    return destination


# --- a real repository as a team's, configured the way `faultbot validate` says --------------------

# Each real repository as a team repo: (name in ../shared/realworld, the families its app can play).
# The guestbook UIs have no database, cache or queue: the db family does not fit them.
TEAM_REPOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "podinfo-bases": ("podinfo/bases", ("web-unreachable", "db-unreachable")),
    "podinfo-dev": ("podinfo", ("web-unreachable", "db-unreachable")),  # validate asks for `path: overlays/dev`
    "aks-store-demo-base": ("aks-store-demo/base", ("web-unreachable", "db-unreachable")),
    "k8s-guestbook": ("k8s-guestbook", ("web-unreachable", "db-unreachable")),
    "argocd-guestbook": ("argocd-guestbook", ("web-unreachable",)),
    "argocd-kustomize-guestbook": ("argocd-kustomize-guestbook", ("web-unreachable",)),
}
# What `faultbot validate` suggests for each (tests/app/test_validate_realworld.py proves `settle`
# arrives at exactly this); other tests configure the team with it without running validate again.
SUGGESTED: dict[str, tuple[str | None, dict[str, str]]] = {
    "podinfo-bases": (None, {}),
    "podinfo-dev": ("overlays/dev", {}),
    "aks-store-demo-base": (None, {"backend_workload": "Deployment/order-service"}),
    "k8s-guestbook": (None, {"db_service": "Service/redis-master"}),
    "argocd-guestbook": (None, {}),
    "argocd-kustomize-guestbook": (None, {}),
}
SUGGESTED_TARGET = re.compile(r"add to the team's targets: (?P<role>[a-z_]+): (?P<object>\S+)")
SUGGESTED_PATH = re.compile(r"\(e\.g\. path: (?P<path>[^)\s]+)\)")


@dataclass(frozen=True)
class SettledTeam:
    """A real repository pushed as a team's remote, and the team lines `validate` led to."""

    remote: TeamRepo
    families: tuple[str, ...]
    path: str | None
    targets: dict[str, str]

    def team_lines(self, url: str | None = None) -> str:
        """The team's repos.yaml lines (under `- name: team-a`)."""
        lines = f"    url: {url or self.remote.url}\n    scenario: {{families: [{', '.join(self.families)}]}}\n"
        if self.path:
            lines += f"    path: {self.path}\n"
        if self.targets:
            lines += "    targets:\n" + "".join(f"      {role}: {target}\n" for role, target in self.targets.items())
        return lines


def write_team_config(folder: Path, team_lines: str) -> Path:
    """A repos.yaml for one team `team-a` (state and caches inside `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    path = folder / "repos.yaml"
    path.write_text(
        "event: {name: Rehearsal, state: sqlite:///state/faultbot.db, workdir: cache}\n"
        "defaults:\n  personas:\n    - {name: Kenji Sato, email: k.sato@example.com}\n"
        f"teams:\n  - name: team-a\n{team_lines}",
        encoding="utf-8",
    )
    return path


def settle(tmp_path: Path, key: str) -> tuple[SettledTeam, list[str]]:
    """Push a real repository as a team's, run `validate` with no `path:` and no `targets:`, and
    take exactly the `path:` and `targets:` lines its messages suggest, until it suggests no more.
    Returns the team and every message `validate` printed on the way (problems and warnings)."""
    from bot.app.commands import run_validate

    name, families = TEAM_REPOS[key]
    team = SettledTeam(make_team_repo(tmp_path, key, source=realworld_source(name)), families, None, {})
    seen: list[str] = []
    for attempt in range(3):
        report = run_validate(write_team_config(tmp_path / f"validate-{attempt}", team.team_lines()), offline=False)
        messages = [*report.problems, *report.warnings]
        seen += messages
        path = next((m["path"] for line in messages for m in SUGGESTED_PATH.finditer(line)), team.path)
        targets = {**team.targets, **{m["role"]: m["object"] for line in messages for m in SUGGESTED_TARGET.finditer(line)}}
        if (path, targets) == (team.path, team.targets):
            break
        team = SettledTeam(team.remote, families, path, targets)
    return team, seen


def suggested_team(tmp_path: Path, key: str) -> SettledTeam:
    """A real repository pushed as a team's, with the `path:` and `targets:` validate suggests (SUGGESTED)."""
    name, families = TEAM_REPOS[key]
    path, targets = SUGGESTED[key]
    return SettledTeam(make_team_repo(tmp_path, key, source=realworld_source(name)), families, path, dict(targets))
