"""What each CLI command does, as plain functions the CLI (and tests) call.

Adapters come from the composition root (`bot.app.compose`); nothing here builds one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app.paths import open_store
from bot.config import Config, load_config
from bot.game.timeline import FaultInstance, fold

if TYPE_CHECKING:
    from bot.app.faults import RepoPlan
    from bot.app.validation import ValidationReport
    from bot.repo.injector import Injection
    from bot.store.eventlog import Store

# Each command imports what it uses when it runs: git, GitHub, ArgoCD and the fault catalog
# cost a second or more of start-up, which `status --cached` (read the log, print) never needs.


def run_validate(config_path: Path, *, offline: bool) -> ValidationReport:
    """Load and validate the config; problems are returned, not raised."""
    from bot.app.compose import behaviour_runner
    from bot.app.faults import catalog_for, catalog_problems
    from bot.app.validation import validate_config

    config, source = load_config(config_path)
    with tempfile.TemporaryDirectory(prefix="faultbot-validate-") as workdir:
        return validate_config(  # the catalog is loaded with its checks, beside the reachability checks
            config,
            source,
            offline=offline,
            catalog_checks=lambda c, s, o: catalog_problems(c, s, catalog_for(config, config_path), offline=o,
                                                            workdir=Path(workdir), runner=behaviour_runner(config, config_path)),
        )


def run_plan(config_path: Path, team_names: list[str]) -> dict[str, RepoPlan]:
    """Every team's applicable faults and the exact diff each would push; nothing is pushed."""
    from bot.app.compose import behaviour_runner
    from bot.app.faults import catalog_for, fetched_plans

    config, _ = load_config(config_path)
    catalog = catalog_for(config, config_path)
    teams = [config.team(n) for n in team_names] if team_names else config.all_team_settings()
    plans: dict[str, RepoPlan] = {}
    with tempfile.TemporaryDirectory(prefix="faultbot-plan-") as workdir:
        found = fetched_plans(config, catalog, teams, Path(workdir), behaviour_runner(config, config_path))
        for team, plan in zip(teams, found, strict=True):
            assert plan is not None  # an unreadable repo raised
            plans[team.name] = plan
    return plans


def run_status(config_path: Path, *, cached: bool) -> list[FaultInstance]:
    """Every fault instance of every team, refreshed from the repos unless `cached`."""
    config, _ = load_config(config_path)
    store = open_store(config, config_path)
    try:
        if not cached:
            _refresh_everything(config, config_path, store)
        return fold(store.events())
    finally:
        store.close()


def _refresh_everything(config: Config, config_path: Path, store: Store) -> None:
    """What the daemon's poll reads, read once for every team: the repo, ArgoCD and PagerDuty."""
    from bot.app.compose import make_deploy_watcher, make_pager, make_pager_source, make_watcher
    from bot.app.faults import catalog_for
    from bot.game.clock import SystemClock

    catalog = catalog_for(config, config_path)
    pager_source = make_pager_source(config)
    try:
        for team in config.all_team_settings():
            make_watcher(config, config_path, team, store, catalog).refresh(source="status", force=True)
            deploy = make_deploy_watcher(config, config_path, team, store)
            try:
                deploy.refresh()
            finally:
                deploy.close()
            pager = make_pager(team, pager_source, store, SystemClock())
            if pager is not None:
                pager.refresh()  # never raises: an outage marks the team's PagerDuty data stale
    finally:
        if pager_source is not None:
            pager_source.close()


def run_inject(config_path: Path, team_name: str, fault_id: str, *, dry_run: bool, force: bool = False) -> Injection:
    """`faultbot inject`: one fault into one team's repository (or its diff, on a dry run);
    refused while the team has another open fault, unless `force`."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.app.compose import make_injector, team_adapters
    from bot.app.faults import catalog_for

    config, _ = load_config(config_path)
    team = config.team(team_name)
    fault = catalog_for(config, config_path, lazy=True).get(fault_id)  # parses that one fault.yaml only; a typo is told at once
    adapters = team_adapters(config, config_path, team)
    # git clones while this thread loads the store (SQLAlchemy's import alone is longer than a
    # clone); the injection starts from the head it fetched, without a second fetch.
    with ThreadPoolExecutor(1, thread_name_prefix="faultbot-warm") as pool:
        warming = pool.submit(adapters.cache.warm, team.branch)
        store = open_store(config, config_path)
    try:
        injector = make_injector(config, config_path, team, store, adapters=adapters)
        return injector.inject(fault, dry_run=dry_run, force=force, seen_head=warming.result())
    finally:
        store.close()
