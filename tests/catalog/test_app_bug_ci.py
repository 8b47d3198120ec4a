"""Every app-bug fault is a release that ships: after injection, examples/chat-app's own CI
passes (the workflow's test command, run as the workflow writes it, and a build: every file
each Dockerfile copies exists and parses). What breaks is what users see (test_catalog.py)."""

from __future__ import annotations

import compileall
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest
from ruamel.yaml import YAML

from bot.catalog.edits import EditContext, apply_edits
from bot.catalog.faults import Catalog
from bot.catalog.manifests import ManifestIndex
from bot.catalog.roles import Roles
from bot.repo.workspace import apply_patch
from tests.conftest import CHAT_APP

APP_BUGS = [f.id for f in Catalog.load().in_family("app-bug")]


def workflow_test_command() -> list[str]:
    """The `Run backend tests` step of the chat app's workflow, with our interpreter."""
    workflow = YAML(typ="safe").load((CHAT_APP / ".github" / "workflows" / "build.yaml").read_text())
    (step,) = [s for s in workflow["jobs"]["test"]["steps"] if s.get("name") == "Run backend tests"]
    argv = shlex.split(step["run"])
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def build(tree: Path) -> None:
    """What `docker build` of each component needs from the tree (no Docker here)."""
    for component in ("frontend", "backend"):
        context = tree / component
        for command in dockerfile.parse_file(str(context / "Dockerfile")):
            if command.cmd == "COPY" and not any(f.startswith("--from") for f in command.flags):
                for source in command.value[:-1]:
                    assert (context / source).exists(), f"{component}/Dockerfile copies {source}, which is gone"
    assert compileall.compile_dir(str(tree / "backend" / "chat"), quiet=1, force=True)
    node = shutil.which("node")
    if node:
        for script in (tree / "frontend").glob("*.js"):
            subprocess.run([node, "--check", str(script)], check=True, capture_output=True)


@pytest.mark.parametrize("fault_id", APP_BUGS)
def test_the_release_passes_the_example_ci(tmp_path: Path, fault_id: str) -> None:
    fault = Catalog.load().get(fault_id)
    tree = tmp_path / "chat-app"
    shutil.copytree(CHAT_APP, tree, ignore=shutil.ignore_patterns("__pycache__"))
    changed = apply_edits(fault.spec.edits, EditContext(tree, Roles(ManifestIndex.scan(tree)), fault.folder, apply_patch))
    assert changed
    result = subprocess.run(workflow_test_command(), cwd=tree, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, f"{fault_id} fails the backend's tests:\n{result.stdout[-3000:]}"
    assert " passed" in result.stdout and "failed" not in result.stdout
    build(tree)
