"""Run the real git for test servers and fixtures, with an isolated configuration.

Every git call of the test servers goes through `run_git`, so a failure always
carries the command, exit code and stderr, and git never reads the developer's
own config or prompts for a password.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# Variables that would point git at some other repository than the one asked for.
LEAKY_GIT_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
)

TEST_AUTHOR = ("Test Author", "author@example.test")


class GitCommandError(RuntimeError):
    """A git command exited with an unexpected code; keeps what is needed to debug it."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.command = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.decode(errors="replace").strip() or stdout.decode(errors="replace").strip()
        super().__init__(f"{' '.join(self.command)} exited {returncode}: {detail}")


def isolated_git_env(config_dir: Path) -> dict[str, str]:
    """Environment variables that cut git off from the user's and system's config."""
    config_dir.mkdir(parents=True, exist_ok=True)
    global_config = config_dir / "gitconfig"
    global_config.touch()
    return {
        "GIT_CONFIG_GLOBAL": str(global_config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": TEST_AUTHOR[0],
        "GIT_AUTHOR_EMAIL": TEST_AUTHOR[1],
        "GIT_COMMITTER_NAME": TEST_AUTHOR[0],
        "GIT_COMMITTER_EMAIL": TEST_AUTHOR[1],
    }


def scrubbed_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment minus variables that redirect git, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_GIT_VARS}
    env.update(extra or {})
    return env


def run_git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` and return the completed process; raise GitCommandError otherwise."""
    command = ["git", *args]
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=scrubbed_environ(env),
        input=input,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if proc.returncode not in ok_codes:
        raise GitCommandError(command, proc.returncode, proc.stdout, proc.stderr)
    return proc


def git_text(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git and return its stdout as text without the trailing newline."""
    return run_git(*args, cwd=cwd, env=env).stdout.decode().rstrip("\n")


def init_bare_repo(path: Path, default_branch: str = "main") -> Path:
    """Create a bare repository whose HEAD names `default_branch`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path))
    return path


def commit_tree_of_directory(
    bare_repo: Path,
    source: Path,
    branch: str,
    message: str,
    author: tuple[str, str],
) -> str:
    """Commit every file under `source` onto `branch` of a bare repo, without a work tree.

    Uses a throwaway index so nothing is written outside `bare_repo`.
    """
    index_file = bare_repo / "faultbot-seed.index"
    env = {
        "GIT_DIR": str(bare_repo),
        "GIT_INDEX_FILE": str(index_file),
        "GIT_WORK_TREE": str(source),
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
    }
    try:
        _run_with_git_dir(["add", "--all", "--force", "."], env, cwd=source)
        tree = _run_with_git_dir(["write-tree"], env, cwd=source)
        parent = _run_with_git_dir(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], env, ok=(0, 1))
        parent_args = ["-p", parent] if parent else []
        sha = _run_with_git_dir(["commit-tree", tree, *parent_args, "-m", message], env, cwd=source)
        _run_with_git_dir(["update-ref", f"refs/heads/{branch}", sha], env)
    finally:
        index_file.unlink(missing_ok=True)
    return sha


def _run_with_git_dir(
    args: list[str], env: dict[str, str], cwd: Path | None = None, ok: tuple[int, ...] = (0,)
) -> str:
    # run_git scrubs GIT_DIR & co. on purpose; this seeding step needs exactly those.
    command = ["git", *args]
    proc = subprocess.run(
        command, cwd=cwd, env={**scrubbed_environ(), **env}, capture_output=True, check=False, timeout=60
    )
    if proc.returncode not in ok:
        raise GitCommandError(command, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout.decode().strip()


def commit_file(work_tree: Path, path: str, text: str, message: str, author: tuple[str, str] | None = None) -> str:
    """Write one file in a clone, commit it (optionally as `author`) and return the sha."""
    target = work_tree / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    run_git("add", "--", path, cwd=work_tree)
    identity = {} if author is None else {
        "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
    }
    run_git("commit", "--quiet", "-m", message, cwd=work_tree, env=identity)
    return git_text("rev-parse", "HEAD", cwd=work_tree)
