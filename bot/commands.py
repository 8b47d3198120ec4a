"""What each CLI command does, as plain functions the CLI (and tests) call."""

from __future__ import annotations

from pathlib import Path

from bot.config import load_config
from bot.validation import ValidationReport, config_path_problem, validate_config


def run_validate(config_path: Path, *, offline: bool) -> ValidationReport:
    """Load and validate the config; problems are returned, not raised."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, source = load_config(config_path)
    return validate_config(config, source, offline=offline)
