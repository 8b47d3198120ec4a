"""CLI start-up pays only for what a command uses (issue 17, P1-cli): `status --cached` reads
the log without importing git, GitHub, ArgoCD or PagerDuty clients or parsing the catalog, and
`inject` parses the one fault.yaml it injects."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.catalog.faults import DEFAULT_CATALOG, Catalog
from bot.errors import CatalogError
from tests.gitrepos import make_team_repo
from tests.repo.test_inject import write_config
from tests.servers.forge import BOT_TOKEN
from tests.servers.git_http import serve_git_http

SELECTOR = "web-unreachable/service-selector-typo"
HEAVY = ("github", "git", "httpx", "bot.deploy.watch", "bot.pager.pagerduty", "bot.catalog.rehearsal",
         "bot.catalog.tfchecks", "bot.catalog.hcl", "bot.repo.watcher", "bot.store.lease", "sqlalchemy.orm", "pydantic.networks")


def broken_catalog(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the catalog with one fault.yaml (not SELECTOR's) malformed."""
    root = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG, root)
    broken = next(p for p in sorted(root.glob("*/*/fault.yaml")) if p.parent.name != SELECTOR.split("/")[1])
    broken.write_text(broken.read_text() + "\nno_such_field: 1\n")
    return root, f"{broken.parent.parent.name}/{broken.parent.name}"


def test_a_lazy_catalog_parses_a_fault_only_when_it_is_asked_for(tmp_path: Path) -> None:
    root, broken = broken_catalog(tmp_path)
    with pytest.raises(CatalogError, match="no_such_field"):
        Catalog.load(root)  # the eager load (validate, the daemon) still stops at the first bad file
    lazy = Catalog.load(root, lazy=True)
    assert lazy.get(SELECTOR).id == SELECTOR and broken in lazy.faults and len(lazy.faults) == len(list(root.glob("*/*/fault.yaml")))
    with pytest.raises(CatalogError, match="no_such_field"):
        lazy.get(broken)


def test_status_cached_imports_no_adapter_and_inject_reads_one_fault(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    root, _ = broken_catalog(tmp_path)
    config = write_config(tmp_path, f"    url: {remote.bare.as_uri()}\n", extra=f"catalog: {root}\n")
    probe = ("import json, sys\nfrom bot.app.cli import main\ncode = main(sys.argv[1:])\n"
             f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n")

    def run(*args: str) -> tuple[int, list[str]]:
        done = subprocess.run([sys.executable, "-c", probe, *args, "--config", str(config)],
                              capture_output=True, text=True, check=True, cwd=tmp_path)
        code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
        return code, loaded

    assert run("status", "--json", "--cached") == (0, [])
    code, loaded = run("inject", "--dry-run", "team-a", SELECTOR)  # the malformed fault.yaml is never read
    assert code == 0 and "git" in loaded and "bot.catalog.rehearsal" in loaded and "github" not in loaded
    # A Kubernetes fault pushed: no Terraform checks, no fix detection, no lease, no ORM, and no
    # URL types (a config without `probe:` has no URL to check).
    assert not {"bot.deploy.watch", "bot.catalog.tfchecks", "bot.catalog.hcl", "bot.repo.watcher", "bot.store.lease",
                "sqlalchemy.orm", "pydantic.networks"} & set(loaded), loaded


def test_the_store_and_sqlalchemy_load_only_when_a_command_opens_the_store() -> None:
    # `inject` clones while it loads the store: SQLAlchemy's import (~0.4 s on 2 cores) is what
    # the clone overlaps, so nothing the CLI imports before then may pull it in.
    probe = ("import sys\nimport bot.app.cli, bot.app.commands, bot.app.compose, bot.repo.injector\n"
             "print(sorted(m for m in ('sqlalchemy', 'bot.store.eventlog') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_inject_reports_an_unreachable_remote_once_from_its_own_sync(tmp_path: Path) -> None:
    # The clone made ahead of the store (TeamCache.warm) fails quietly; the injection's own sync
    # meets the same failure and says it, once, with nothing recorded.
    missing = tmp_path / "gone.git"
    config = write_config(tmp_path, f"    url: {missing.as_uri()}\n")
    done = subprocess.run([sys.executable, "-m", "bot", "inject", "--config", str(config), "team-a", SELECTOR],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "gone.git" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "state" / "crash.log").exists()


def test_the_daemon_loads_slack_sdk_only_for_an_event_that_posts_to_slack() -> None:
    probe = ("import sys\nimport bot.app.cli, bot.app.runner, bot.app.daemon, bot.app.control, bot.notify.senders\n"
             "print('slack_sdk' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_inject_pushes_from_the_clone_it_made_while_loading_without_asking_again(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The clone made beside the store's load (TeamCache.warm) hands its head to the injection:
    # between the clone's two requests and the push, the forge is asked nothing (a second ref
    # listing before; now one git process fewer). A branch that moved in between is covered in
    # tests/repo/test_inject.py (the push is refused, the retry fetches).
    monkeypatch.setenv("GITHUB_TOKEN", BOT_TOKEN)
    root = tmp_path / "forge"
    with serve_git_http(root, BOT_TOKEN, partial_clone=False) as server:
        remote = make_team_repo(root / "team-a", "team-a")
        config = write_config(tmp_path, f"    url: {server.url_for_path(remote.bare)}\n")
        assert main(["inject", "--config", str(config), "team-a", SELECTOR]) == 0
        asked = [r.command or r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "POST"]
    assert asked == ["ls-refs", "fetch", "git-receive-pack"], asked


def test_an_unknown_fault_is_told_before_anything_is_cloned(tmp_path: Path) -> None:
    remote = make_team_repo(tmp_path)
    config = write_config(tmp_path, f"    url: {remote.bare.as_uri()}\n")
    done = subprocess.run([sys.executable, "-m", "bot", "inject", "--config", str(config), "team-a", "web-unreachable/no-such"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 2 and "no fault 'web-unreachable/no-such'" in done.stderr, done.stderr
    assert not (tmp_path / "cache" / "repos" / "team-a").exists()  # the clone beside the store's load never started
