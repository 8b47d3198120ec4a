"""Real git repositories for tests: a bare remote made from examples/chat-app, plus clones."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAT_APP = ROOT / "examples" / "chat-app"


# The GIT_* variables tests set on purpose (the isolated config); every other one is dropped.
KEPT_GIT_VARS = ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT")


def git_env() -> dict[str, str]:
    """The environment minus GIT_* (but the test isolation's): identities come from `-c` only."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in KEPT_GIT_VARS}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return stdout; fail the test loudly on error."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=git_env())
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


@dataclass(frozen=True)
class TeamRepo:
    """A team's bare remote and the working clone the test 'team' commits from."""

    bare: Path
    clone: Path

    @property
    def url(self) -> str:
        """The file:// URL faultbot uses."""
        return self.bare.as_uri()

    def head(self, branch: str = "main") -> str:
        """The remote's branch head sha."""
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")


def make_team_repo(tmp_path: Path, name: str = "team", source: Path = CHAT_APP) -> TeamRepo:
    """Copy `source` into a fresh repo with one commit and push it to a new bare remote."""
    clone = tmp_path / f"{name}-work"
    bare = tmp_path / f"{name}.git"
    shutil.copytree(source, clone, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(tmp_path, "init", "--bare", "-q", "-b", "main", str(bare))
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=Org Admin", "-c", "user.email=admin@example.com",
        "commit", "-q", "-m", "Initial import of the chat service")
    git(clone, "remote", "add", "origin", bare.as_uri())
    git(clone, "push", "-q", "origin", "main")
    return TeamRepo(bare=bare, clone=clone)
