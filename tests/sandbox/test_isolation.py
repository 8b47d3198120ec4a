"""The sandbox a team's code runs in: no network (not even this machine's), a clean
environment with no token, a time limit that kills every process it started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.isolation import netns_prefix, run, sandbox_env


def outside_address() -> str:
    """This machine's first non-loopback address (what a sandboxed process must not reach)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is chosen
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    return str(address)


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A TCP server on every interface of this machine, answering anyone who connects."""
    server = socket.create_server(("0.0.0.0", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
                client.sendall(b"reached\n")
                client.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield outside_address(), port
    stop.set()
    thread.join()
    server.close()


def require_netns() -> None:
    if not netns_prefix():
        if os.environ.get("CI"):
            pytest.fail("no network namespace for the sandbox in CI (unshare --user --net and iproute2 are needed)")
        pytest.skip("this host allows no unprivileged network namespace")


CONNECT = """
import socket, sys
for host in sys.argv[1:-1]:
    try:
        with socket.create_connection((host, int(sys.argv[-1])), timeout=3) as s:
            print(host, s.recv(16).decode().strip())
    except OSError as e:
        print(host, "blocked", type(e).__name__)
"""


def test_a_sandboxed_process_reaches_no_network_not_even_this_machine(tmp_path: Path, listener: tuple[str, int]) -> None:
    require_netns()
    address, port = listener
    script = tmp_path / "connect.py"
    script.write_text(CONNECT, encoding="utf-8")
    hosts = [address, "127.0.0.1"]
    unsandboxed = subprocess.run([sys.executable, str(script), *hosts, str(port)], capture_output=True, text=True,
                                 timeout=20, check=True).stdout
    assert unsandboxed.count("reached") == 2, unsandboxed  # the listener is really there, on both addresses
    finished = run([sys.executable, str(script), *hosts, str(port)], tmp_path, sandbox_env(tmp_path), 20)
    assert finished.ok, finished.output
    assert "reached" not in finished.output
    assert finished.output.count("blocked") == 2, finished.output


def test_loopback_inside_the_sandbox_works(tmp_path: Path) -> None:
    require_netns()
    code = ("import socket; s = socket.create_server(('127.0.0.1', 0)); "
            "c = socket.create_connection(s.getsockname()); print('loopback', c.getsockname()[0])")
    finished = run([sys.executable, "-c", code], tmp_path, sandbox_env(tmp_path), 20)
    assert finished.ok and "loopback 127.0.0.1" in finished.output, finished.output


def test_the_environment_carries_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_value")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "argocd-secret")
    finished = run([sys.executable, "-c", "import os; print(sorted(os.environ))"], tmp_path, sandbox_env(tmp_path), 20)
    assert finished.ok
    assert "GITHUB_TOKEN" not in finished.output and "ARGOCD" not in finished.output
    assert "'HOME'" in finished.output


def test_the_time_limit_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; "
            f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(marker)!r}, 'w').write(str(p.pid)); print('started', flush=True); time.sleep(60)")
    finished = run([sys.executable, "-c", code], tmp_path, sandbox_env(tmp_path), 3)
    assert finished.returncode is None and "started" in finished.output
    child = int(marker.read_text())
    # The grandchild is gone too (or a zombie about to be reaped by init). Its pid may already
    # belong to someone else (the suite runs on several workers): only our sleeper counts.
    assert not _sleeping(child), f"the grandchild {child} outlived the time limit"


def _sleeping(pid: int) -> bool:
    """Is `pid` still the grandchild above, alive (not a zombie)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return b"time.sleep(60)" in cmdline and state != "Z"
