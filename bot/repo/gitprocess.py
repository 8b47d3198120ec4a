"""How one git process runs: in its own process group, bounded in time, holding the cache lock.

A forge that hangs must cost one team one command, never the daemon (issue 15):
- git's own `http.lowSpeedLimit`/`http.lowSpeedTime` abandon a transfer that stalls (a
  server that accepts the connection and then says nothing, or drips bytes);
- a wall-clock cap kills the whole process group past `wall_seconds` (git and the
  `git-remote-http` helper it starts), whatever git itself is waiting for;
- the caller may hand over open descriptors to inherit (`keep_fds`): the team cache's lock,
  so a git push that outlives a killed faultbot keeps the cache locked until it has its
  answer, and a restarted faultbot reconciles only after that (see workspace.exclusive).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from bot.base.gitenv import KEPT, forget_inherited


@dataclass(frozen=True)
class GitLimits:
    """How long one git command may take (repos.yaml `timeouts:`)."""

    wall_seconds: float = 300.0  # the whole command, then its process group is killed
    stall_seconds: int = 60  # a transfer below `stall_bytes` per second this long is abandoned by git
    stall_bytes: int = 1000

    def config(self) -> list[tuple[str, str]]:
        """git config entries that make git give up on a stalled HTTP transfer itself."""
        return [("http.lowSpeedLimit", str(self.stall_bytes)), ("http.lowSpeedTime", str(max(1, self.stall_seconds)))]


DEFAULT_LIMITS = GitLimits()


def config_env(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Config for one git command as GIT_CONFIG_COUNT/KEY/VALUE (not `-c`, which `ps` shows)."""
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


@dataclass(frozen=True)
class Finished:
    """What one git process left behind."""

    status: int
    stdout: str
    stderr: str
    timed_out: bool = False


_RUNNING: dict[int, Path | None] = {}  # process group -> the directory its git runs in
_RUNNING_GUARD = threading.Lock()


def execute(command: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], limits: GitLimits,
            keep_fds: Sequence[int] = ()) -> Finished:
    """Run `command` (git, through GitPython) in a new process group; kill the group past the cap.

    Raises git.GitCommandNotFound when there is no git at all.
    """
    forget_inherited(KEPT | {n for n in env if n.startswith("GIT_")})  # GitPython lays os.environ under `env`
    handle = git.Git(str(cwd) if cwd else None).execute(
        list(command), env=dict(env), as_process=True, start_new_session=True, pass_fds=tuple(keep_fds),
    )
    process = handle.proc
    assert process is not None  # as_process always starts one
    with _RUNNING_GUARD:
        _RUNNING[process.pid] = cwd
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(process.pid)
        stdout, stderr = process.communicate()
    finally:
        with _RUNNING_GUARD:
            _RUNNING.pop(process.pid, None)
    return Finished(process.returncode, _text(stdout), _text(stderr), timed_out)


def stop_running(under: Path) -> int:
    """Kill every git command of this process running in a directory under `under` (a daemon
    giving up on its ticks at shutdown); how many. Their callers see a failed command."""
    root = under.resolve()
    with _RUNNING_GUARD:
        groups = [pgid for pgid, cwd in _RUNNING.items() if cwd is not None and cwd.resolve().is_relative_to(root)]
    for pgid in groups:
        kill_group(pgid)
    return len(groups)


def kill_group(pgid: int) -> None:
    """SIGKILL a process group (git and its transport helpers); gone already is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", errors="replace").removesuffix("\n")
