"""Run a team's code with no network, a clean environment and a time limit.

No network: each sandboxed process tree gets a network namespace of its own with only a
loopback interface (`unshare --user --map-root-user --net`, then `ip link set lo up`), so it
can serve and call itself on 127.0.0.1 and reach nothing else, not even this machine's own
loopback. Where the kernel refuses user namespaces (some container runtimes), the process
runs without one and every result says so; proxies then point at a closed port, which stops
well-behaved clients only.

The environment is rebuilt, not inherited: a team's tests never see faultbot's tokens. A
time limit kills the whole process group (a test that forks a server leaves nothing behind).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import FaultbotError

OUTPUT_TAIL = 4000
"""Characters of a process's output kept for the reason and the organizer."""

_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
_DEAD_PROXY = "http://127.0.0.1:9"


@functools.cache
def netns_prefix() -> tuple[str, ...]:
    """The command prefix that puts a process in a fresh network namespace, or () if this host cannot."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip") if Path(p).exists()), None)
    if unshare is None or ip is None:
        return ()
    prefix = (unshare, "--user", "--map-root-user", "--net", "--", "/bin/sh", "-c", f'{ip} link set lo up && exec "$@"', "sandbox")
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if probe.returncode == 0 else ()


def isolation_note() -> str:
    """How isolated sandboxed processes are here, for reasons and logs."""
    return "" if netns_prefix() else " (this host allows no network namespace: the run was not cut off from the network)"


def sandbox_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment: PATH and locale from ours, HOME in the sandbox, nothing secret."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update({
        "HOME": str(home), "TMPDIR": str(home), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
        "CI": "true", "NO_COLOR": "1", "PIP_NO_INDEX": "1",
        "http_proxy": _DEAD_PROXY, "https_proxy": _DEAD_PROXY, "HTTP_PROXY": _DEAD_PROXY, "HTTPS_PROXY": _DEAD_PROXY,
        "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
    })
    env.update(extra or {})
    return env


def expand(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Fill `{python}`, `{port}`, `{data}`... into a command as a fault writes it."""
    return [_fill(part, values) for part in argv]


def _fill(text: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def python_values() -> dict[str, str]:
    """Placeholders every sandboxed command may use."""
    return {"python": sys.executable}


@dataclass(frozen=True)
class Finished:
    """A process that ran to its end (or to its time limit)."""

    returncode: int | None  # None: killed at the time limit
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Exited 0 within the limit."""
        return self.returncode == 0


def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> Finished:
    """Run a command in the sandbox to its end; kill its process group at the time limit."""
    started = time.monotonic()
    process = start(argv, cwd, env)
    try:
        output, _ = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        stop(process)
        output, _ = process.communicate()
        code = None
    return Finished(code, tail(output), time.monotonic() - started)


def start(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start a sandboxed command in its own process group (stdout and stderr together)."""
    try:
        return subprocess.Popen([*netns_prefix(), *argv], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                start_new_session=True)
    except OSError as exc:
        raise SandboxError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None


def stop(process: subprocess.Popen[str]) -> None:
    """Kill a sandboxed command and everything it started."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            process.wait()
            return
        try:
            process.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(text: str | None) -> str:
    """The last OUTPUT_TAIL characters, starting at a line."""
    text = text or ""
    if len(text) <= OUTPUT_TAIL:
        return text
    cut = text[-OUTPUT_TAIL:]
    return "…" + cut[cut.find("\n") + 1:] if "\n" in cut else "…" + cut


def last_line(text: str, default: str) -> str:
    """The last non-empty line of some output, for a one-line reason."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else default


class SandboxError(FaultbotError):
    """The sandbox itself could not run a job: no verdict on the tree (so none is cached)."""

    retryable = True
