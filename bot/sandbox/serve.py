"""Start a commit's backend inside the sandbox, the way a fault's `serve:` says, and wait for it.

Runs *inside* the sandbox (the acceptance plugin and the stage import it there), so it uses
the standard library only and starts its child in the sandbox's own network namespace.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVE_ENV = "FAULTBOT_SERVE"
ACCEPTANCE_ENV = "FAULTBOT_ACCEPTANCE"  # the acceptance plugin's settings (here: the daemon need not import pytest)
"""The environment variable that carries a resolved `serve:` (JSON) into the sandbox."""


def free_port() -> int:
    """A port nobody listens on now (in this network namespace)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Backend:
    """A running backend: its base URL and its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """The tail of what it printed."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return text[-3000:]

    def stop(self) -> None:
        """Stop it (and whatever it started)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def request(self, method: str, path: str, document: Any = None) -> tuple[int, Any]:
        """One HTTP request; (status, JSON body or text)."""
        body = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Content-Type": "application/json"} if body else {})
        try:
            with _opener().open(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path: str) -> tuple[int, Any]:
        """GET a path."""
        return self.request("GET", path)

    def post_json(self, path: str, document: Any) -> tuple[int, Any]:
        """POST a JSON document."""
        return self.request("POST", path, document)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy


def start_backend(serve: dict[str, Any], workdir: Path) -> Backend:
    """Start the backend from a resolved `serve:` (command, cwd, env, ready, startup); raise RuntimeError with its output if it does not come up."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="data-", dir=workdir))
    values = {"port": str(port), "data": str(data), "python": serve["python"]}
    argv = [_fill(part, values) for part in serve["command"]]
    env = {**os.environ, **{k: _fill(v, values) for k, v in serve["env"].items()}}
    log = workdir / f"backend-{port}.log"
    with log.open("wb") as sink:
        try:
            process = subprocess.Popen(argv, cwd=serve["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                       stderr=subprocess.STDOUT)
        except OSError as exc:
            raise RuntimeError(f"cannot start the backend ({' '.join(argv)}): {exc}") from None
    backend = Backend(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + float(serve["startup"])
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the backend exited with {process.returncode} before it answered: {_last(backend.output())}")
        try:
            status, _ = backend.get(serve["ready"])
            if 200 <= status < 300:
                return backend
        except OSError:
            pass
        time.sleep(0.05)
    backend.stop()
    raise RuntimeError(f"the backend did not answer {serve['ready']} within {serve['startup']}s: {_last(backend.output())}")


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _last(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no output"
