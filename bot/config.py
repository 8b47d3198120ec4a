"""repos.yaml, the organizer's one file: a strict pydantic model at the boundary.

Every problem is reported as one line `repos.yaml:LINE: field.path: what is wrong`, all
problems at once, so an organizer fixes the file in one pass at 7 a.m.
Tokens are never read from the file: only the *name* of an environment variable is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.base.durations import Duration, DurationRange, Range
from bot.base.redact import redact_url
from bot.base.refnames import branch_name_problem
from bot.base.yamlsource import SourceMap, plain_data
from bot.catalog.roles import DERIVED_ROLES, Role
from bot.errors import ConfigError, ConfigErrors, FaultbotError

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_SCP_URL = re.compile(r"^[\w.-]+@[\w.-]+:[^/].*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_STATE = "sqlite:///faultbot.db"


@functools.cache
def _http_url_adapter() -> TypeAdapter[Any]:
    # pydantic.networks costs every command start-up a twentieth of a second or more; only a
    # config with `probe:` needs it, so it is imported at the first probe URL checked.
    from pydantic import HttpUrl

    return TypeAdapter(HttpUrl)


def _valid_branch(value: str) -> str:
    problem = branch_name_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a valid branch name: it {problem}")
    return value


def _has_credentials(url: str) -> bool:
    """A password or token in the URL (`https://user:tok@`, `https://tok@`); `git@host:` is a user, not a secret."""
    if url.startswith(("https://", "http://")):
        return "@" in urlsplit(url).netloc
    if "://" in url:
        return ":" in urlsplit(url).netloc.rpartition("@")[0]
    return False


def is_git_url(url: str) -> bool:
    """True for the URL forms git can clone: file://, ssh://, git://, http(s)://, user@host:path."""
    return url.startswith(("file://", "ssh://", "git://", "https://", "http://")) or bool(
        _SCP_URL.match(url)
    )


class Strict(BaseModel):
    """Unknown keys are errors: a typo in repos.yaml must never be silently ignored."""

    # Built at first validation, not at import: only the models a command meets cost start-up time.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (e.g. GITHUB_TOKEN)")
    return value


EnvName = Annotated[str, BeforeValidator(lambda v: _env_name(str(v)))]


class EventSettings(Strict):
    name: str = Field(min_length=1)
    timezone: str = "UTC"
    state: str | None = None  # None: DEFAULT_STATE, unless state_env names the URL
    # The name of an environment variable holding the state URL instead (a PostgreSQL URL carries
    # a password, and repos.yaml never holds secrets).
    state_env: EnvName | None = None
    workdir: str = ".faultbot"
    ends_at: AwareDatetime | None = None
    # The Kubernetes version whose API schemas judge a fix ("a fix Kubernetes refuses is no fix").
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.\d{1,2}$")

    @field_validator("state_env")
    @classmethod
    def _one_state(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("state") is not None:
            raise ValueError("`state` and `state_env` are exclusive: keep `state_env` (the URL from the "
                             "environment) or `state` (the URL written here), not both")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from None
        return value


class GitHubApp(Strict):
    """A GitHub App installation, for organisations that forbid personal tokens.

    The private key (PEM) is read from the env var `private_key_env`, never from a file.
    """

    app_id: int = Field(gt=0)
    installation_id: int = Field(gt=0)
    private_key_env: EnvName = "GITHUB_APP_PRIVATE_KEY"


class GitHubSettings(Strict):
    api_url: str = "https://api.github.com"
    token_env: EnvName = "GITHUB_TOKEN"
    app: GitHubApp | None = None
    merge_method: Literal["merge", "squash", "rebase"] = "merge"
    request_interval: Duration = timedelta(milliseconds=250)

    @field_validator("api_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL; GHE uses https://HOST/api/v3")
        return value.rstrip("/")

    def clone_url(self, repo: str) -> str:
        """The HTTPS clone URL of `owner/name` on this GitHub (or GitHub Enterprise)."""
        web = self.api_url.replace("://api.github.com", "://github.com")
        web = web.removesuffix("/api/v3")
        return f"{web}/{repo}.git"


class WebSettings(Strict):
    """The daemon's HTTP side: the spectator board at /, the organizer view, /healthz, webhooks."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    webhook_secret_env: EnvName | None = None
    # The organizer view (/admin) is served only when this env var holds a token.
    organizer_token_env: EnvName | None = None


class PagerDutySettings(Strict):
    """PagerDuty's REST API, read for each team's service (`pagerduty_service:`)."""

    api_url: str = "https://api.pagerduty.com"
    token_env: EnvName = "PAGERDUTY_TOKEN"
    # A PEM bundle of the CA that signed the API's certificate, for a private endpoint.
    ca_bundle: str | None = None

    @field_validator("api_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"{value!r}: PagerDuty's client only speaks https:// (EU: https://api.eu.pagerduty.com)")
        return value.rstrip("/")


class ScoringSettings(Strict):
    """Optional points for communication, on top of the fix rules (see `faultbot report`)."""

    acknowledge_within: Duration | None = None
    acknowledge_points: int = Field(default=0, ge=0, le=1000)
    status_update_within: Duration | None = None
    status_update_points: int = Field(default=0, ge=0, le=1000)


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class Route(Strict):
    """Where one audience's notifications go: a Slack channel or a webhook URL (one of them)."""

    slack_channel: str | None = None
    webhook_url: str | None = None

    _url = field_validator("webhook_url")(classmethod(lambda cls, v: _http_url(v)))

    @model_validator(mode="after")
    def _one(self) -> Route:
        if (self.slack_channel is None) == (self.webhook_url is None):
            raise ValueError("give exactly one of slack_channel or webhook_url")
        return self


class NotifySettings(Strict):
    """Notifications: hints to teams, a feed of everything to the organizers."""

    slack_token_env: EnvName = "SLACK_BOT_TOKEN"
    slack_api_url: str = "https://slack.com/api/"
    # Sent as `Authorization: Bearer <value>` on webhook deliveries, when set.
    webhook_token_env: EnvName | None = None
    organizer: Route | None = None

    _url = field_validator("slack_api_url")(classmethod(lambda cls, v: _http_url(v)))


class ArgoCDSettings(Strict):
    url: str
    token_env: EnvName = "ARGOCD_AUTH_TOKEN"
    # A fault not deployed this long after it landed is flagged for the organizer, and then
    # either timed from its injection after all (start-clock) or reverted by the bot (revert):
    # a red build or a paused app must not stall a team's game forever.
    ship_timeout: Duration = timedelta(minutes=10)
    on_ship_timeout: Literal["start-clock", "revert"] = "start-clock"
    # A fixed fault whose fix has not deployed Healthy this long after the fix stops holding
    # back the team's next fault (flagged for the organizer).
    recover_timeout: Duration = timedelta(minutes=20)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


class Timeouts(Strict):
    """How long faultbot waits on a forge before giving up on one call (the next poll tries again):
    one team's hung forge must never hold up the others."""

    git: Duration = timedelta(minutes=5)  # one git command, wall clock; then its process group is killed
    stall: Duration = timedelta(seconds=60)  # a git transfer below 1 KB/s for this long is abandoned
    http: Duration = timedelta(seconds=15)  # one GitHub or ArgoCD API request

    @field_validator("git", "stall", "http")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return value


class Persona(Strict):
    name: str = Field(min_length=1)
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class Scenario(Strict):
    families: list[str] = Field(
        default_factory=lambda: ["web-unreachable", "db-unreachable", "app-bug"], min_length=1
    )
    faults: list[str] | None = None
    order: Literal["random", "fixed"] = "random"
    seed: int = 0
    first_delay: Range = DurationRange.parse("5m..15m")
    next_delay: Range = DurationRange.parse("2m..6m")
    time_limit: Duration = timedelta(minutes=45)
    on_time_limit: Literal["revert", "leave"] = "revert"


class ScenarioOverride(Strict):
    """A team's `scenario:` overrides any field of `defaults.scenario`."""

    families: list[str] | None = Field(default=None, min_length=1)
    faults: list[str] | None = None
    order: Literal["random", "fixed"] | None = None
    seed: int | None = None
    first_delay: Range | None = None
    next_delay: Range | None = None
    time_limit: Duration | None = None
    on_time_limit: Literal["revert", "leave"] | None = None


class Defaults(Strict):
    branch: Annotated[str, AfterValidator(lambda v: _valid_branch(v))] = "main"
    delivery: Literal["push", "pr"] = "push"
    personas: list[Persona] = Field(
        default_factory=lambda: [Persona(name="Kenji Sato", email="k.sato@example.com")],
        min_length=1,
    )
    scenario: Scenario = Field(default_factory=Scenario)
    # Commits by these authors (name or email) are CI, never a team's fix or response.
    automation: list[str] = Field(
        default_factory=lambda: ["github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com"]
    )


class Probe(Strict):
    url: str
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_text: str | None = None
    timeout: Duration = timedelta(seconds=5)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            _http_url_adapter().validate_python(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://team-a.example.com/)") from None
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://team-a.example.com/)")
        return value


class Team(Strict):
    name: str
    repo: str | None = None
    url: str | None = None
    branch: str | None = None
    delivery: Literal["push", "pr"] | None = None
    personas: list[Persona] | None = Field(default=None, min_length=1)
    argocd_app: str | None = None
    probe: Probe | None = None
    # The folder ArgoCD deploys (its Application's source.path); default: ArgoCD's answer for
    # argocd_app, else discovered from the tree. Only what that root reaches counts.
    path: str | None = None
    directory_recurse: bool = False  # ArgoCD's source.directory.recurse for a plain folder
    targets: dict[Role, str] = Field(default_factory=dict)
    scenario: ScenarioOverride = Field(default_factory=ScenarioOverride)
    pagerduty_service: str | None = Field(default=None, min_length=1)
    notify: Route | None = None

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError(f"{value!r}: give a folder inside the repository (e.g. deploy/overlays/prod)")
        return value

    @field_validator("targets")
    @classmethod
    def _no_derived_roles(cls, value: dict[Role, str]) -> dict[Role, str]:
        derived = sorted(str(r) for r in value if r in DERIVED_ROLES)
        if derived:
            raise ValueError(f"{', '.join(derived)} is derived from backend_workload and db_service; map those instead")
        return value

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits, - and _ (e.g. team-a)")
        return value

    @field_validator("repo")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None and not _GITHUB_REPO.match(value):
            raise ValueError(f"{value!r} is not a GitHub owner/name (e.g. pd-cup/team-a)")
        return value

    @field_validator("url")
    @classmethod
    def _git_url(cls, value: str | None) -> str | None:
        if value is not None and not is_git_url(value):
            raise ValueError(
                f"{value!r} is not a git URL; use file://, ssh://, https:// or user@host:path"
            )
        if value is not None and _has_credentials(value):
            # git would keep them in the cached clone's .git/config, in plain text.
            raise ValueError(
                f"{redact_url(value)} has credentials in it; remove them and put the token in the "
                "environment variable that github.token_env names (default GITHUB_TOKEN)"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        return _valid_branch(value) if value is not None else None

    @field_validator("targets")
    @classmethod
    def _targets_inside(cls, value: dict[Role, str]) -> dict[Role, str]:
        for role, spec in value.items():
            path = spec if role.is_directory or "#" not in spec else spec.rpartition("#")[0]
            pure = PurePosixPath(path.replace("\\", "/"))
            if pure.is_absolute() or ".." in pure.parts:
                raise ValueError(f"{role}: {spec!r} points outside the repository; use a path inside it (e.g. k8s/)")
        return value

    @model_validator(mode="after")
    def _has_a_repository(self) -> Team:
        if self.repo is None and self.url is None:
            raise ValueError("needs `repo: owner/name` (GitHub) or `url:` (any git URL)")
        return self


class EventPaths(BaseModel):
    """Resolved locations of the event's state database and git caches."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    workdir: Path
    resolved_state: str | None
    missing_state: str = ""  # why there is no URL: the variable `event.state_env` names is unset

    @property
    def state_url(self) -> str:
        """The state's SQLAlchemy URL; a ConfigError when `event.state_env` names an unset variable."""
        if self.resolved_state is None:
            raise ConfigError(self.missing_state)
        return self.resolved_state


class TeamSettings(BaseModel):
    """A team with the defaults folded in: what the rest of faultbot works from."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    repo: str | None
    git_url: str
    branch: str
    delivery: Literal["push", "pr"]
    personas: list[Persona]
    argocd_app: str | None
    probe: Probe | None
    targets: dict[Role, str]
    scenario: Scenario
    path: str | None = None
    directory_recurse: bool = False
    pagerduty_service: str | None = None
    notify: Route | None = None

    def persona(self, name: str | None) -> Persona:
        """The persona of that name (the one who made a commit), or the team's first."""
        return next((p for p in self.personas if p.name == name), self.personas[0])

    @property
    def uses_github(self) -> bool:
        """PR data and PR delivery need the GitHub API, i.e. a `repo:`."""
        return self.repo is not None


class Config(Strict):
    """The whole file. `base_dir` (not a field) is the folder relative paths are read from."""

    event: EventSettings
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    argocd: ArgoCDSettings | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    poll_interval: Duration = timedelta(seconds=30)
    # How long a standby daemon waits, at most, before it takes over from a leader that went silent.
    leader_timeout: Duration = timedelta(seconds=15)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    web: WebSettings = Field(default_factory=WebSettings)
    pagerduty: PagerDutySettings | None = None
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    notify: NotifySettings | None = None
    catalog: str | None = None
    teams: list[Team] = Field(min_length=1)

    @field_validator("leader_timeout")
    @classmethod
    def _long_enough(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=3):
            raise ValueError(f"{value.total_seconds():g}s is too short for a leader to prove it is alive; use 3s or more")
        return value

    def paths(self, config_path: Path, state_dir: Path | None = None,
              environ: Mapping[str, str] | None = None) -> EventPaths:
        """Where this event keeps its state and caches: relative paths under `state_dir` when
        given (a container's writable volume), else beside the config file; with `event.state_env`,
        the URL is that variable's in `environ` (bot.app.paths passes the process's)."""
        base = state_dir.resolve() if state_dir is not None else config_path.resolve().parent
        workdir = (base / self.event.workdir).resolve()
        if self.event.state_env is None:
            return EventPaths(workdir=workdir, resolved_state=resolve_url(self.event.state or DEFAULT_STATE, base))
        url = (environ or {}).get(self.event.state_env, "").strip()
        if url:
            return EventPaths(workdir=workdir, resolved_state=resolve_url(url, base))
        return EventPaths(workdir=workdir, resolved_state=None, missing_state=(
            f"{config_path.name}: event.state_env: environment variable {self.event.state_env} is not set; "
            "export the state URL there (e.g. postgresql+psycopg://USER:PASSWORD@HOST:5432/faultbot)"))

    def team_settings(self, team: Team) -> TeamSettings:
        """Fold `defaults` into one team's settings."""
        overrides = team.scenario.model_dump(exclude_none=True)
        scenario = self.defaults.scenario.model_copy(update=overrides)
        git_url = team.url or self.github.clone_url(team.repo or "")
        return TeamSettings(
            name=team.name,
            repo=team.repo,
            git_url=git_url,
            branch=team.branch or self.defaults.branch,
            delivery=team.delivery or self.defaults.delivery,
            personas=team.personas or self.defaults.personas,
            argocd_app=team.argocd_app,
            probe=team.probe,
            targets=team.targets,
            scenario=scenario,
            path=team.path,
            directory_recurse=team.directory_recurse,
            pagerduty_service=team.pagerduty_service,
            notify=team.notify,
        )

    def all_team_settings(self) -> list[TeamSettings]:
        """Every team, defaults folded in, in file order."""
        return [self.team_settings(team) for team in self.teams]

    def team(self, name: str) -> TeamSettings:
        """One team by name, or a ConfigError listing the names that exist."""
        for team in self.teams:
            if team.name == name:
                return self.team_settings(team)
        known = ", ".join(t.name for t in self.teams)
        raise ConfigErrors([f"no team named {name!r} in the config (teams: {known})"])


def sqlite_url_for(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve().as_posix()}"


def resolve_url(url: str, base: Path) -> str:
    """A relative SQLite path in repos.yaml is relative to the config file, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return sqlite_url_for(base / url[len(prefix):])
    return url


_MESSAGES = {
    "missing": "missing (required)",
    "extra_forbidden": "unknown field",
}


def _describe(error: dict[str, Any], source: SourceMap) -> str:
    """One line for one pydantic error, with the file, line and field path."""
    loc = [
        part
        for part in error["loc"]
        if not (isinstance(part, str) and (part.startswith("function-") or part == "[key]"))
    ]
    kind = error["type"]
    message = _MESSAGES.get(kind, error["msg"])
    if kind == "value_error":
        message = str(error["ctx"]["error"]) if "ctx" in error else message.removeprefix("Value error, ")
    elif kind == "extra_forbidden":
        message = "unknown field; check the spelling (see the documented fields in repos.yaml)"
    elif kind in ("literal_error", "enum"):
        message = f"{error['input']!r} is not allowed; {error['msg'].lower()}"
    elif "input" in error and kind not in ("missing", "too_short"):
        message = f"{error['msg']} (got {error['input']!r})"
    return f"{source.where(loc)}: {message}"


def _semantic_problems(config: Config, source: SourceMap) -> list[str]:
    """Problems a field-by-field schema cannot see: duplicates across teams."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, team in enumerate(config.teams):
        if team.name in seen:
            first = source.line_of(("teams", seen[team.name], "name"))
            problems.append(
                f"{source.where(('teams', index, 'name'))}: duplicate team name {team.name!r} "
                f"(first at line {first}); every team needs its own name"
            )
        else:
            seen[team.name] = index
        if team.pagerduty_service and config.pagerduty is None:
            problems.append(f"{source.where(('teams', index, 'pagerduty_service'))}: needs a top-level `pagerduty:` "
                            "section (api_url, token_env) to read the service")
    return problems


def load_config(path: Path) -> tuple[Config, SourceMap]:
    """Parse and validate repos.yaml; raise ConfigErrors listing every problem found."""
    if not path.exists():
        raise FaultbotError(f"{path}: no such file; pass --config PATH to your repos.yaml")
    source = SourceMap.load(path, error=ConfigError)
    if not isinstance(source.root, dict):
        raise ConfigErrors([f"{path.name}:1: the file must be a mapping with event: and teams:"])
    try:
        config = Config.model_validate(plain_data(source.root))
    except ValidationError as exc:
        raise ConfigErrors([_describe(e, source) for e in exc.errors()]) from None  # type: ignore[arg-type]
    problems = _semantic_problems(config, source)
    if problems:
        raise ConfigErrors(problems)
    return config, source
