"""The architecture is kept by a test: import-linter's contracts in pyproject.toml hold, and
they are not a check that cannot fail (a deliberate violation in a copy of bot/ breaks them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts against the `bot` package under `package_root`."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=package_root, env=env, capture_output=True, text=True, check=False)


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("bot/game/engine.py", "from bot.repo import workspace as _violation  # noqa", "Layers point one way"),
    ("bot/catalog/checks.py", "import sqlalchemy as _violation  # noqa", "touch no git, SQL"),
    ("bot/repo/watcher.py", "from bot.app import compose as _violation  # noqa", "Only the entry points"),
])
def test_a_violation_breaks_the_contracts(tmp_path: Path, module: str, line: str, broken: str) -> None:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert broken in result.stdout and "BROKEN" in result.stdout


def test_the_engine_imports_no_database() -> None:
    code = "import bot.game.engine, sys; assert 'sqlalchemy' not in sys.modules and 'git' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
