"""`faultbot demo`: a local rehearsal that needs no account.

Today it stands up N team repositories from examples/chat-app as real bare git repos,
writes the repos.yaml an organizer would, validates it (reaching every repo), and plans
every team: which faults apply and the exact diff each would push. Nothing is pushed.
The live part (injecting, detecting fixes, scoring) arrives with the daemon; the demo
says so rather than pretending.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.commands import run_plan, run_validate
from bot.faultcmds import EXAMPLE_REPO, PlanEntry
from bot.validation import ValidationReport
from bot.workspace import Author, publish_directory

ORG_ADMIN = Author("Org Admin", "admin@example.com")
TEAM_NAMES = ("team-a", "team-b", "team-c", "team-d", "team-e", "team-f", "team-g", "team-h")


@dataclass
class DemoResult:
    """What the demo built and found."""

    workdir: Path
    config_path: Path
    validation: ValidationReport
    plans: dict[str, list[PlanEntry]]


def write_config(workdir: Path, teams: list[tuple[str, Path]], seed: int) -> Path:
    """The repos.yaml an organizer would write for these local teams."""
    lines = [
        "# Written by `faultbot demo`: local bare repositories, no accounts.",
        "event: {name: faultbot demo, state: sqlite:///" + (workdir / "faultbot.db").as_posix() + "}",
        "defaults:",
        "  scenario: {seed: " + str(seed) + ", first_delay: 5s..15s, next_delay: 5s..10s, time_limit: 2m}",
        "teams:",
    ]
    for name, bare in teams:
        lines += [f"  - name: {name}", f"    url: {bare.as_uri()}"]
    path = workdir / "repos.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_demo(team_count: int, workdir: Path | None, seed: int = 2026) -> DemoResult:
    """Build the teams' repos, validate and plan them; return everything found."""
    if not 1 <= team_count <= len(TEAM_NAMES):
        from bot.errors import FaultbotError

        raise FaultbotError(f"--teams must be between 1 and {len(TEAM_NAMES)}")
    root = (workdir or Path(tempfile.mkdtemp(prefix="faultbot-demo-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    teams = []
    for name in TEAM_NAMES[:team_count]:
        bare = root / "remotes" / f"{name}.git"
        if not bare.exists():
            bare.parent.mkdir(parents=True, exist_ok=True)
            publish_directory(EXAMPLE_REPO, bare, ORG_ADMIN)
        teams.append((name, bare))
    config_path = write_config(root, teams, seed)
    validation = run_validate(config_path, offline=False)
    plans = run_plan(config_path, [])
    return DemoResult(root, config_path, validation, plans)
