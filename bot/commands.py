"""What each CLI command does, as plain functions the CLI (and tests) call."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Config, TeamSettings
from bot.errors import FaultbotError
from bot.forge.github import GitHubForge, make_client
from bot.injector import Injection, Injector, cache_path
from bot.redact import Redactor
from bot.store import Store
from bot.validation import token_for
from bot.workspace import Credentials, TeamCache
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


def open_store(config: Config, config_path: Path) -> Store:
    """The event's store, at the URL repos.yaml names (relative SQLite paths: beside it)."""
    return Store(config.paths(config_path).state_url)


def github_token(config: Config) -> str:
    """The GitHub token from the env var the config names; a one-line error if unset."""
    token = os.environ.get(config.github.token_env)
    if not token:
        raise FaultbotError(
            f"environment variable {config.github.token_env} is not set (github.token_env); export it"
        )
    return token


def make_injector(config: Config, config_path: Path, team: TeamSettings, store: Store, clock: Clock | None = None) -> Injector:
    """Everything one team's injections need, built from repos.yaml."""
    token = token_for(config, team)
    redactor = Redactor([token] if token else [])
    forge = None
    if team.uses_github:
        api_token = github_token(config)
        redactor.add(api_token)
        forge = GitHubForge(make_client(config.github, api_token), team.repo or "", redactor)
    cache = TeamCache(cache_path(config.paths(config_path).workdir, team.name), team.git_url,
                      Credentials(token, redactor))
    return Injector(team, cache, store, clock or SystemClock(), forge, config.github.merge_method)


def run_inject(config_path: Path, team_name: str, fault_id: str, *, dry_run: bool) -> Injection:
    """`faultbot inject`: one fault into one team's repository (or its diff, on a dry run)."""
    missing = config_path_problem(config_path)
    if missing:
        raise missing
    config, _ = load_config(config_path)
    team = config.team(team_name)
    fault = catalog_for(config, config_path).get(fault_id)
    store = open_store(config, config_path)
    try:
        return make_injector(config, config_path, team, store).inject(fault, dry_run=dry_run)
    finally:
        store.close()
