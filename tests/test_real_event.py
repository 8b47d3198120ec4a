"""The README's "Running for a real event", run here as far as this machine allows.

Every line of its command block is exercised: the `postgres` extra is the one the image installs and
brings the driver; the state URL comes from the variable it exports (a real PostgreSQL, password and
all); `faultbot validate`, `faultbot run` twice (the installed console script, as a pod runs it: one
leads, one stands by), `/healthz` of both, `faultbot halt` (deferred to the leader, which reverts).
`kubectl apply` and `docker compose up` cannot run here: their files are the ones tests/test_deploy.py
checks against the published schemas.
"""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from bot.app.cli import main
from bot.game.timeline import State, fold
from bot.store.eventlog import Store
from tests.app.conftest import STATE_ENV
from tests.app.failover import free_port, health, wait_for
from tests.app.test_daemon import SELECTOR, game_config
from tests.conftest import ROOT
from tests.gitrepos import git, make_team_repo

SECTION = "## Running for a real event"


def readme_block() -> str:
    """The command block of the README's section."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def readme_commands() -> list[list[str]]:
    """Its commands, one argv per line, comments dropped."""
    return [shlex.split(line, comments=True) for line in readme_block().splitlines() if line.strip()]


def console_script() -> Path:
    """The `faultbot` command pip installed beside this Python (what the image's ENTRYPOINT runs)."""
    script = Path(sys.executable).with_name("faultbot")
    assert script.exists(), f"{script}: install the project (pip install -e '.[dev]')"
    return script


def test_the_readme_commands_for_a_real_event_run_here(tmp_path: Path, postgres_url: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    pip, export, validate, run, curl, halt, kubectl = readme_commands()

    assert pip == ["pip", "install", "faultbot[postgres]"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(req.startswith("psycopg") for req in extras["postgres"]) and importlib.util.find_spec("psycopg")
    assert any("'.[postgres]'" in line for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines())

    assert export[0] == "export" and export[1].startswith(f"{STATE_ENV}=postgresql+psycopg://")
    monkeypatch.setenv(STATE_ENV, postgres_url)  # the same variable, holding this machine's server

    remote = make_team_repo(tmp_path)
    ports = {who: free_port() for who in ("a", "b")}
    scenario = f"{{families: [web-unreachable], faults: [{SELECTOR}], first_delay: 0s, time_limit: 1h}}"
    configs = {who: game_config(tmp_path, {"team-a": remote}, scenario, state_url=postgres_url, filename=f"{who}.yaml",
                                workdir=f"cache-{who}", port=ports[who]) for who in ports}
    assert f"state_env: {STATE_ENV}" in configs["a"].read_text(encoding="utf-8")

    def with_config(argv: list[str], config: Path) -> list[str]:
        assert argv[0] == "faultbot" and argv[-2:] == ["--config", "repos.yaml"], argv
        return [*argv[1:-1], str(config)]

    assert main(with_config(validate, configs["a"])) == 0

    logs = {who: (tmp_path / f"run-{who}.log").open("wb") for who in ports}

    def start(who: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(console_script()), *with_config(run, configs[who])],
                                stdout=subprocess.DEVNULL, stderr=logs[who], cwd=tmp_path)

    processes = {"a": start("a")}
    store = Store(postgres_url)
    try:
        wait_for("the first run leads", lambda: health(ports["a"]) == "ok", alive=processes["a"],
                 log=tmp_path / "run-a.log")
        processes["b"] = start("b")
        wait_for("the second run stands by", lambda: health(ports["b"]) == "standby", alive=processes["b"],
                 log=tmp_path / "run-b.log")
        assert curl[:2] == ["curl", "-s"] and curl[2].endswith(":8080/healthz")
        for who, role in (("a", "leader"), ("b", "standby")):
            answer = httpx.get(f"http://127.0.0.1:{ports[who]}/healthz", timeout=10)
            assert answer.status_code == 200 and answer.json()["role"] == role

        wait_for("the leader injects", lambda: bool(fold(store.events("team-a"))) and
                 fold(store.events("team-a"))[0].state is State.injected)
        assert main(with_config(halt, configs["b"])) == 0  # from anywhere that reaches the database
        assert "the running daemon reverts every open fault" in capsys.readouterr().out
        wait_for("the leader reverts on the halt", lambda: fold(store.events("team-a"))[0].state is State.halted)
        assert git(remote.bare, "log", "-1", "--format=%s", "main").startswith("Revert")
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=60)
        for sink in logs.values():
            sink.close()
        store.close()
    assert [process.returncode for process in processes.values()] == [0, 0]  # SIGTERM: a clean stop

    assert kubectl[:3] == ["kubectl", "apply", "-f"] and (ROOT / kubectl[3] / "deployment.yaml").exists()
    assert "docker compose up -d --build" in readme_block() and (ROOT / "docker-compose.yaml").exists()
