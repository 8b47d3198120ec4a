"""What each CLI command does, as plain functions the CLI (and tests) call."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.faultcmds import PlanEntry, catalog_for, catalog_problems, plan_team, team_tree

from bot.config import load_config
from bot.validation import ValidationReport, config_path_problem, validate_config


def run_validate(config_path: Path, *, offline: bool) -> ValidationReport:
    """Load and validate the config; problems are returned, not raised."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, source = load_config(config_path)
    catalog = catalog_for(config, config_path)
    with tempfile.TemporaryDirectory(prefix="faultbot-validate-") as workdir:
        return validate_config(
            config,
            source,
            offline=offline,
            catalog_checks=lambda c, s, o: catalog_problems(c, s, catalog, offline=o, workdir=Path(workdir)),
        )


def run_plan(config_path: Path, team_names: list[str]) -> dict[str, list[PlanEntry]]:
    """Every team's applicable faults and the exact diff each would push; nothing is pushed."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, _ = load_config(config_path)
    catalog = catalog_for(config, config_path)
    teams = [config.team(n) for n in team_names] if team_names else config.all_team_settings()
    plans: dict[str, list[PlanEntry]] = {}
    with tempfile.TemporaryDirectory(prefix="faultbot-plan-") as workdir:
        for team in teams:
            tree = team_tree(config, team, Path(workdir) / team.name)
            plans[team.name] = plan_team(catalog, team, tree)
    return plans
