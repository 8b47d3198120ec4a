"""`faultbot validate`: everything an organizer should know is wrong before the event starts.

Problems are collected, not raised one by one, so the organizer sees them all at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.app.parallel import in_parallel
from bot.base.yamlsource import SourceMap
from bot.config import Config, TeamSettings
from bot.errors import FaultbotError, GitError
from bot.repo.gitprocess import GitLimits
from bot.repo.workspace import Credentials, describe_url, remote_head


def git_limits(config: Config) -> GitLimits:
    """repos.yaml's `timeouts:` as the bounds of one git command."""
    return GitLimits(wall_seconds=config.timeouts.git.total_seconds(),
                     stall_seconds=int(config.timeouts.stall.total_seconds()))


@dataclass
class ValidationReport:
    """What `validate` found: problems (each one line) and a summary for people."""

    problems: list[str] = field(default_factory=list)
    teams: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # worth knowing, not wrong (files not read, targets to choose)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def team_index(config: Config, name: str) -> int:
    """Position of a team in the file, for error locations."""
    return next(i for i, team in enumerate(config.teams) if team.name == name)


def token_for(config: Config, team: TeamSettings) -> str | None:
    """The HTTPS token for a team's git remote: the env var the config names, or, with a
    GitHub App (`github.app`), a freshly minted installation token."""
    if not team.git_url.startswith(("https://", "http://")):
        return None
    if config.github.app is not None:
        from bot.forge.github import github_auth

        return github_auth(config.github, os.environ)[1]()
    return os.environ.get(config.github.token_env) or None


def check_tokens(config: Config, source: SourceMap) -> list[str]:
    """A token env var that is needed but unset is a problem (tokens never live in the file)."""
    needs_github = any(
        t.uses_github or t.git_url.startswith(("https://", "http://"))
        for t in config.all_team_settings()
    )
    problems = []
    if needs_github and config.github.app is not None:
        if not os.environ.get(config.github.app.private_key_env):
            problems.append(
                f"{source.where(('github', 'app', 'private_key_env'))}: environment variable "
                f"{config.github.app.private_key_env} is not set; export the GitHub App's private key (PEM)"
            )
    elif needs_github and not os.environ.get(config.github.token_env):
        problems.append(
            f"{source.where(('github', 'token_env'))}: environment variable "
            f"{config.github.token_env} is not set; export it before running faultbot"
        )
    if config.argocd and not os.environ.get(config.argocd.token_env):
        problems.append(
            f"{source.where(('argocd', 'token_env'))}: environment variable "
            f"{config.argocd.token_env} is not set; export it or remove the argocd: section"
        )
    return problems + check_service_tokens(config, source)


def check_service_tokens(config: Config, source: SourceMap) -> list[str]:
    """PagerDuty, Slack, webhook and organizer secrets the config names but the environment lacks.

    Each would otherwise surface mid-event: MTTA never read, hints never delivered, every webhook
    refused, or no organizer view (and so no web kill switch).
    """
    teams = config.all_team_settings()
    needed: list[tuple[tuple[str, ...], str, str]] = []
    if config.pagerduty and any(t.pagerduty_service for t in teams):
        needed.append((("pagerduty", "token_env"), config.pagerduty.token_env,
                       "PagerDuty cannot be read, so no MTTA"))
    notify = config.notify
    routes = [t.notify for t in teams] + [notify.organizer if notify else None]
    if any(r is not None and r.slack_channel for r in routes):
        env = notify.slack_token_env if notify else "SLACK_BOT_TOKEN"
        needed.append((("notify", "slack_token_env"), env, "Slack notifications cannot be sent"))
    if notify and notify.webhook_token_env:
        needed.append((("notify", "webhook_token_env"), notify.webhook_token_env,
                       "webhook notifications would go out without their token"))
    if config.web.webhook_secret_env:
        needed.append((("web", "webhook_secret_env"), config.web.webhook_secret_env,
                       "GitHub's webhook deliveries cannot be verified and are refused"))
    if config.web.organizer_token_env:
        needed.append((("web", "organizer_token_env"), config.web.organizer_token_env,
                       "the organizer view (/admin) and its kill switch are not served"))
    return [f"{source.where(path)}: environment variable {env} is not set; {effect}"
            for path, env, effect in needed if not os.environ.get(env)]


def check_state(config: Config, source: SourceMap) -> list[str]:
    """The variable `event.state_env` names is set (the URL itself is only opened by the commands that need it)."""
    name = config.event.state_env
    if name is None or os.environ.get(name, "").strip():
        return []
    return [f"{source.where(('event', 'state_env'))}: environment variable {name} is not set; export the "
            "state URL there (e.g. postgresql+psycopg://USER:PASSWORD@HOST:5432/faultbot)"]


def check_reachable(config: Config, source: SourceMap, team: TeamSettings) -> list[str]:
    """The team's repository answers and has its branch (one `git ls-remote`)."""
    index = team_index(config, team.name)
    where_repo = source.where(("teams", index, "url" if config.teams[index].url else "repo"))
    try:
        sha = remote_head(team.git_url, team.branch, Credentials(token_for(config, team)), git_limits(config))
    except GitError as exc:
        return [f"{where_repo}: cannot reach {describe_url(team.git_url)}: {exc.output.splitlines()[0] if exc.output else exc.message}"]
    except FaultbotError as exc:  # no credentials to try with (already reported by check_tokens)
        return [f"{where_repo}: cannot reach {describe_url(team.git_url)}: {exc.message}"]
    if sha is None:
        where_branch = source.where(("teams", index, "branch")) if config.teams[index].branch else source.where(("defaults", "branch"))
        return [
            f"{where_branch}: branch {team.branch!r} does not exist in "
            f"{describe_url(team.git_url)}; create it or set the team's branch:"
        ]
    return []


def check_argocd_apps(config: Config, source: SourceMap) -> list[str]:
    """Every team's `argocd_app` exists and answers (only where `argocd:` and its token are set)."""
    if config.argocd is None or not os.environ.get(config.argocd.token_env):
        return []
    from bot.deploy import DeployError
    from bot.deploy.argocd import ArgoCD

    problems = []
    with ArgoCD.from_settings(config.argocd, os.environ[config.argocd.token_env], attempts=2, base_delay=0.2,
                              timeout=config.timeouts.http.total_seconds()) as argocd:
        for index, team in enumerate(config.all_team_settings()):
            if not team.argocd_app:
                continue
            try:
                argocd.application(team.argocd_app)
            except DeployError as exc:
                problems.append(f"{source.where(('teams', index, 'argocd_app'))}: {exc.message}")
                if exc.status != 404:
                    break  # ArgoCD itself is unreachable: one line, not one per team
    return problems


def validate_config(
    config: Config,
    source: SourceMap,
    *,
    offline: bool,
    catalog_checks: Callable[[Config, SourceMap, bool], Any] | None = None,
) -> ValidationReport:
    """Run every check on an already-parsed config and collect the problems."""
    report = ValidationReport()
    report.problems += check_state(config, source)
    if not offline:
        report.problems += check_tokens(config, source)
        report.problems += check_argocd_apps(config, source)
    teams = config.all_team_settings()
    # The catalog's checks (load the catalog, fetch and rehearse every tree) start now, beside the
    # reachability checks: they need no answer from them (an unreachable repo cannot be fetched
    # and is reported here), and the first tree's rehearsal is the longest part of `validate`.
    with ThreadPoolExecutor(1, thread_name_prefix="faultbot-catalog") as background:
        catalog_findings = background.submit(catalog_checks, config, source, offline) if catalog_checks else None
        reachability = in_parallel(lambda t: [] if offline else check_reachable(config, source, t), teams)
        findings = catalog_findings.result() if catalog_findings is not None else None
    for team, team_problems in zip(teams, reachability, strict=True):
        report.problems += team_problems
        report.teams.append(
            {
                "name": team.name,
                "repository": describe_url(team.git_url),
                "branch": team.branch,
                "delivery": team.delivery,
                "reachable": None if offline else not team_problems,
            }
        )
    if findings is not None:  # bot.app.faults.CatalogFindings
        report.problems += findings.problems
        report.warnings += findings.warnings
    return report

