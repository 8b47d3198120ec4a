"""The sandbox that runs behavioural jobs (bot.catalog.behaviour.Job) for the catalog.

Every job gets a temp checkout (a private copy of the tree being judged, without .git), a
home of its own, a clean environment, its own network namespace (isolation.py) and a time
limit; what the processes print comes back in the outcome. Three kinds:

- `tests`: the team's own command in its component folder;
- `acceptance`: the fault's pytest file, with the sandbox plugin's fixtures (the backend
  of the commit started on SQLite, the checkout);
- `browser`: the commit's frontend and backend served by the stage inside the sandbox,
  used by a person-like script in the one shared chromium (browser.py, chatpage.py).
"""

from __future__ import annotations

import json
import queue
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bot.catalog.behaviour import Job, Outcome
from bot.catalog.behaviourspec import Acceptance, Browser, Serve
from bot.sandbox.bridge import Bridge
from bot.sandbox.browser import SharedBrowser
from bot.sandbox.chatpage import Verdict, run_chat_check
from bot.sandbox.isolation import (
    SandboxError,
    expand,
    isolation_note,
    last_line,
    python_values,
    run,
    sandbox_env,
    start,
    stop,
    tail,
)
from bot.sandbox.serve import ACCEPTANCE_ENV

_IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".venv", ".mypy_cache")
MAX_JOBS = 3
"""Jobs one sandbox runs at once; the others wait their turn before their time limit starts.
Rehearsal lanes (bot.catalog.rehearsal.LANES) times a daemon's team threads would otherwise
start a dozen servers on two cores, and a server too slow to start under that load is a wrong
verdict ("not ready within ...") that gets kept."""


class Sandbox:
    """Runs jobs, a few at once; one shared chromium for every browser job of this sandbox."""

    def __init__(self, browser: SharedBrowser | None = None, workdir: Path | None = None,
                 max_jobs: int = MAX_JOBS) -> None:
        self.browser = browser or SharedBrowser()
        self.workdir = workdir
        self._slots = threading.BoundedSemaphore(max_jobs)

    def close(self) -> None:
        """Close the shared browser."""
        self.browser.close()

    def run(self, job: Job) -> Outcome:
        """Run one job in a fresh temp checkout (once a slot is free); never raises for a failing tree."""
        with self._slots:
            return self._run(job)

    def _run(self, job: Job) -> Outcome:
        started = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="faultbot-sandbox-", dir=self.workdir) as scratch:
                root = Path(scratch)
                checkout = root / "checkout"
                shutil.copytree(job.tree, checkout, ignore=_IGNORED, symlinks=True)
                (root / "home").mkdir()
                if job.kind == "tests":
                    passed, reason, output = self._tests(job, checkout, root / "home")
                elif job.kind == "acceptance":
                    passed, reason, output = self._acceptance(job, checkout, root)
                elif job.kind == "browser":
                    passed, reason, output = self._browser(job, checkout, root)
                else:
                    raise SandboxError(f"unknown job kind {job.kind!r}")
        except (SandboxError, OSError) as exc:
            message = exc.message if isinstance(exc, SandboxError) else f"{type(exc).__name__}: {exc}"
            return Outcome(False, f"the sandbox could not run it: {message}", "", time.monotonic() - started,
                           decided=False)
        return Outcome(passed, reason + (isolation_note() if passed else ""), output, time.monotonic() - started)

    # --- the three kinds ---------------------------------------------------------------------

    def _tests(self, job: Job, checkout: Path, home: Path) -> tuple[bool, str, str]:
        folder = checkout / next(iter(job.directories.values()))
        finished = run(expand(job.command, python_values()), folder, sandbox_env(home), job.timeout)
        if finished.returncode is None:
            return False, f"did not finish within {job.timeout:g}s", finished.output
        summary = last_line(finished.output, "no output")
        if finished.ok:
            return True, f"exit 0 ({summary})", finished.output
        return False, f"exit {finished.returncode}: {summary}", finished.output

    def _acceptance(self, job: Job, checkout: Path, root: Path) -> tuple[bool, str, str]:
        assert isinstance(job.check, Acceptance) and job.acceptance is not None
        tests = root / "acceptance"
        tests.mkdir()
        target = tests / job.acceptance.name
        shutil.copyfile(job.acceptance, target)
        config = {"checkout": str(checkout), "folders": dict(job.directories),
                  "serve": _resolved(job.check.serve, checkout, job.directories)}
        env = sandbox_env(root / "home", {ACCEPTANCE_ENV: json.dumps(config)})
        argv = [sys.executable, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bot.sandbox.acceptance_plugin",
                "--rootdir", str(tests), "-rfE", str(target)]
        finished = run(argv, tests, env, job.timeout)
        if finished.returncode is None:
            return False, f"did not finish within {job.timeout:g}s", finished.output
        if finished.ok:
            return True, last_line(finished.output, "passed"), finished.output
        return False, _first_failure(finished.output), finished.output

    def _browser(self, job: Job, checkout: Path, root: Path) -> tuple[bool, str, str]:
        check = job.check
        assert isinstance(check, Browser)
        socket_dir = Path(tempfile.mkdtemp(prefix="fb-"))  # a Unix socket path must stay short
        try:
            config = {"workdir": str(root / "home"), "socket": str(socket_dir / "web.sock"),
                      "frontend": str(checkout / job.directories[str(check.frontend)]), "api_prefix": check.api_prefix,
                      "serve": _resolved(check.serve, checkout, job.directories)}
            (root / "stage.json").write_text(json.dumps(config), encoding="utf-8")
            process = start([sys.executable, "-I", "-m", "bot.sandbox.stage", str(root / "stage.json")], root,
                            sandbox_env(root / "home"))
            lines: queue.Queue[str | None] = queue.Queue()
            reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
            reader.start()
            printed: list[str] = []
            try:
                ready = _wait_ready(lines, printed, check.serve.startup.total_seconds() + 10)
                if ready != "ready":
                    return False, ready, tail("\n".join(printed))
                with Bridge(socket_dir / "web.sock") as bridge:
                    api = bridge.url + check.page.api

                    def post(author: str, text: str) -> int:
                        return _post(api, author, text)

                    try:
                        reason = self.browser.run(lambda b: run_chat_check(b, bridge.url, check, post), job.timeout)
                    except Verdict as verdict:
                        return False, str(verdict), tail("\n".join(printed))
                    except TimeoutError:
                        return False, f"did not finish within {job.timeout:g}s", tail("\n".join(printed))
                return True, reason, tail("\n".join(printed))
            finally:
                stop(process)
                reader.join(timeout=5)
                if process.stdout is not None:
                    process.stdout.close()
                process.wait()
        finally:
            shutil.rmtree(socket_dir, ignore_errors=True)


def _resolved(serve: Serve, checkout: Path, directories: Mapping[str, str]) -> dict[str, object]:
    """A `serve:` with its folder made a path in the checkout, ready for the sandbox side."""
    return {"python": sys.executable, "command": list(serve.command), "cwd": str(checkout / directories[str(serve.role)]),
            "env": dict(serve.env), "ready": serve.ready, "startup": serve.startup.total_seconds()}


def _read_lines(process: object, lines: queue.Queue[str | None]) -> None:
    stream = getattr(process, "stdout", None)
    if stream is not None:
        for line in stream:
            lines.put(line.rstrip("\n"))
    lines.put(None)


def _wait_ready(lines: queue.Queue[str | None], printed: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            return "the servers exited before they were ready: " + last_line("\n".join(printed), "no output")
        printed.append(line)
        if line == "ready":
            return "ready"
        if line.startswith("failed: "):
            return line.removeprefix("failed: ")
    return f"the servers were not ready within {timeout:g}s"


def _post(url: str, author: str, text: str) -> int:
    body = json.dumps({"author": author, "text": text}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _first_failure(output: str) -> str:
    """pytest's most telling line: the first failure's message from its short summary."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")) and " - " in line:
            return line.split(" - ", 1)[1].strip()[:300]
    for line in output.splitlines():
        if line.startswith("E ") and line[1:].strip():
            return line[1:].strip()[:300]
    return last_line(output, "failed")
