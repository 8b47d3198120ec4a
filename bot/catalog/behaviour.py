"""Behavioural checks judged by running the commit: the team's tests, a fault's acceptance
test, a real browser. The catalog runs no process itself: it says *what* to run (a `Job`)
and a `Runner` passed in through the CheckContext (bot/sandbox) runs it in a sandbox, the
way `apply_patch` is passed into edits. No runner means the check fails: a check never
passes for lack of data.

Each job carries a `key`: a digest of every input its verdict depends on (the files of the
folders it runs, the check as written, the acceptance file). A runner that caches by it
never runs the same judgement twice: a daemon re-judging an unchanged backend after an
image-tag bump, or two teams with the same tree, get the verdict from the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.catalog.behaviourspec import Acceptance, Browser, TeamTests
from bot.catalog.checkbase import CheckFailed, Judged
from bot.catalog.edits import safe_path
from bot.catalog.roles import Role
from bot.errors import EditError

SKIPPED_PARTS = frozenset({".git", "__pycache__", ".pytest_cache", ".venv", "node_modules", ".mypy_cache"})


@dataclass(frozen=True)
class Job:
    """One behavioural judgement to run on a tree (the runner copies the tree; never writes it)."""

    kind: str  # tests | acceptance | browser
    tree: Path
    directories: Mapping[str, str]
    """Role name -> folder in the tree, for every folder the job reads."""
    timeout: float
    key: str
    check: TeamTests | Acceptance | Browser
    command: tuple[str, ...] = ()
    acceptance: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """What running a job showed."""

    passed: bool
    reason: str
    """One line for people: what held, or what was seen instead."""
    output: str = ""
    """The tail of what the processes printed (for the organizer)."""
    seconds: float = 0.0
    cached: bool = False
    decided: bool = True
    """False when the sandbox itself failed (no chromium, no disk): no verdict, never cached."""


class Runner(Protocol):
    """Runs jobs in a sandbox (bot.sandbox.Sandbox, usually behind a verdict cache)."""

    def run(self, job: Job) -> Outcome:
        """Run one job to a verdict; never raises for a failing tree."""


def tree_digest(tree: Path, folders: list[str]) -> str:
    """A digest of the files under `folders` (paths and contents), like a git tree hash of them."""
    digest = hashlib.sha256()
    for folder in sorted(set(folders)):
        root = tree / folder
        files = sorted(p for p in root.rglob("*") if p.is_file() and not SKIPPED_PARTS & set(p.relative_to(tree).parts))
        for path in files:
            relative = path.relative_to(tree).as_posix()
            content = path.read_bytes() if not path.is_symlink() else b"symlink:" + str(path.readlink()).encode()
            digest.update(f"{relative}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()


def job_key(kind: str, check: TeamTests | Acceptance | Browser, tree: Path, directories: Mapping[str, str],
            extra: bytes = b"") -> str:
    """The digest a verdict is cached under."""
    spec = json.dumps(check.model_dump(mode="json"), sort_keys=True)
    digest = hashlib.sha256(f"{kind}\0{spec}\0{json.dumps(dict(directories), sort_keys=True)}\0".encode())
    digest.update(tree_digest(tree, list(directories.values())).encode())
    digest.update(extra)
    return digest.hexdigest()


def discover_test_command(folder: Path) -> tuple[str, ...]:
    """The test command a component's own files announce (pytest, npm test, go test)."""
    if any((folder / name).exists() for name in ("pytest.ini", "conftest.py", "tox.ini")) or (folder / "tests").is_dir() \
            or (folder / "test").is_dir() or "[tool.pytest" in _read(folder / "pyproject.toml"):
        return ("{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    package = _read(folder / "package.json")
    if package:
        try:
            scripts = json.loads(package).get("scripts") or {}
        except (ValueError, AttributeError):
            scripts = {}
        if "test" in scripts:
            return ("npm", "test", "--silent")
    if (folder / "go.mod").is_file():
        return ("go", "test", "./...")
    raise CheckFailed(f"no test command found in {folder.name}/ (no pytest tests, npm test script or go.mod); "
                      "set `command:` in the check")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _runner(ctx: Judged, what: str) -> Runner:
    if ctx.runner is None:
        raise CheckFailed(f"{what} needs a sandbox to run in and none was given, so it cannot pass")
    return ctx.runner


def _verdict(outcome: Outcome, what: str) -> str:
    if not outcome.passed:
        raise CheckFailed(f"{what}: {outcome.reason}")
    return f"{what}: {outcome.reason}" + (" (cached verdict)" if outcome.cached else "")


def tests_pass(check: TeamTests, ctx: Judged) -> str:
    """The component's own test command exits 0."""
    runner = _runner(ctx, "the team's tests")
    folder = ctx.directory(check.role)
    if not (ctx.tree / folder).is_dir():
        raise CheckFailed(f"{folder}/ is gone")
    command = tuple(check.command) if check.command else discover_test_command(ctx.tree / folder)
    directories = {str(check.role): folder}
    key = job_key("tests", check, ctx.tree, directories, "\0".join(command).encode())
    job = Job("tests", ctx.tree, directories, check.timeout.total_seconds(), key, check, command)
    shown = " ".join(command).replace("{python}", "python")
    return _verdict(runner.run(job), f"`{shown}` in {folder}/")


def acceptance(check: Acceptance, ctx: Judged) -> str:
    """The fault's own acceptance test passes against this commit."""
    runner = _runner(ctx, f"acceptance test {check.file}")
    if ctx.fault_dir is None:
        raise CheckFailed(f"acceptance test {check.file}: the fault's folder is unknown here")
    try:
        test_file = safe_path(ctx.fault_dir, check.file)
    except EditError as exc:
        raise CheckFailed(exc.message) from None
    if not test_file.is_file():
        raise CheckFailed(f"acceptance test {check.file} is not in the fault's folder")
    roles = list(dict.fromkeys([*check.roles, check.serve.role]))
    directories = _folders(ctx, roles)
    key = job_key("acceptance", check, ctx.tree, directories, test_file.read_bytes())
    job = Job("acceptance", ctx.tree, directories, check.timeout.total_seconds(), key, check, acceptance=test_file)
    return _verdict(runner.run(job), f"acceptance test {check.file}")


def browser(check: Browser, ctx: Judged) -> str:
    """The page, served from this commit, works for a person in chromium."""
    runner = _runner(ctx, "the browser check")
    directories = _folders(ctx, [check.frontend, check.serve.role])
    key = job_key("browser", check, ctx.tree, directories)
    job = Job("browser", ctx.tree, directories, check.timeout.total_seconds(), key, check)
    return _verdict(runner.run(job), "in chromium")


def _folders(ctx: Judged, roles: list[Role]) -> dict[str, str]:
    folders = {str(role): ctx.directory(role) for role in roles}
    for role, folder in folders.items():
        if not (ctx.tree / folder).is_dir():
            raise CheckFailed(f"{folder}/ ({role}) is gone")
    return folders
