"""The house rules that tools can check: ruff (lint, imports) and mypy on bot/."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-m", "ruff", "check", "bot"], [sys.executable, "-m", "mypy", "bot"]],
    ids=["ruff", "mypy"],
)
def test_static_checks_pass(command: list[str]) -> None:
    """Both tools come with the dev extra (pip install -e '.[dev]')."""
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
