"""The event log's vocabulary: one frozen dataclass of facts per kind of event.

Every state change faultbot records is one `Event`: when, which team and fault, who said so
(`source`), and its facts — a typed value (`Landed`, `Fixed`, ...) whose class names its
`Kind`. Writers build facts, readers match on their class; nobody reads `facts["sha"]`.

The stored form is unchanged from the untyped log (a kind string and a JSON object), so a
state file written by an earlier release opens with this one: decoding ignores keys it does
not know and fills keys an older writer did not write with their defaults, and a kind it
does not know at all comes back as `Unrecognised` rather than failing the whole log.
Conversion uses pydantic's TypeAdapter over these plain dataclasses: the dataclasses stay
the domain values, pydantic only parses and dumps them at the storage boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import TypeAdapter

ALL_TEAMS = "*"  # the `team` of an event about the whole event (its start, a halt of everyone)


class Kind(StrEnum):
    """Every kind of event, as stored in the log's `kind` column."""

    STARTED = "event.started"
    PLAN = "plan.made"
    SCHEDULED = "fault.scheduled"
    INTENT = "inject.intent"
    LANDED = "inject.landed"
    PR_OPENED = "inject.pr_opened"
    PR_BLOCKED = "inject.pr_blocked"
    REFUSED = "inject.refused"
    SKIPPED = "fault.skipped"
    HEAD = "repo.head"
    BRANCHES = "repo.branches"
    FIXED = "fix.detected"
    FIX_PR = "fix.pull_request"
    REGRESSED = "fix.regressed"
    PROGRESS = "fault.progress"
    RESPONSE = "response.first"
    HINT = "hint.given"
    REVERT_INTENT = "bot.revert_intent"
    REVERT_FAILED = "bot.revert_failed"
    TIMED_OUT = "fault.timed_out"
    HALTED = "fault.halted"
    TRACKED = "deploy.tracked"
    SHIPPED = "deploy.shipped"
    RECOVERED = "deploy.recovered"
    CLOCK_STARTED = "fault.clock_started"
    RECOVER_TIMED_OUT = "deploy.recover_timed_out"
    CI = "ci.run"
    PROBE = "probe.changed"
    ANOMALY = "anomaly"
    STALE = "data.stale"
    FRESH = "data.fresh"
    HALT = "control.halt"
    RESUME = "control.resume"
    LEADER = "daemon.leader"
    PAGER = "pager.incident"
    OUTBOX = "notice.outbox_opened"
    DELIVERED = "notice.delivered"


class Facts:
    """Base of every event's facts; `KIND` says which kind of event they make."""

    KIND: ClassVar[Kind]


# --- the people and pull requests facts refer to ------------------------------------------

@dataclass(frozen=True)
class Who:
    """Who did something: a git identity and, where GitHub said so, a login."""

    name: str | None = None
    email: str | None = None
    login: str | None = None


@dataclass(frozen=True)
class PullInfo:
    """The pull request that merged a fix, as GitHub reported it."""

    number: int
    author: str | None = None
    opened_at: datetime | None = None
    merged_at: datetime | None = None
    url: str | None = None


# --- the event's life ---------------------------------------------------------------------

@dataclass(frozen=True)
class Started(Facts):
    """The event started (recorded once; every team's first delay counts from it)."""

    KIND: ClassVar[Kind] = Kind.STARTED


@dataclass(frozen=True)
class PlanMade(Facts):
    """A team's plan, drawn once; a restarted daemon reuses it."""

    KIND: ClassVar[Kind] = Kind.PLAN
    faults: tuple[str, ...] = ()
    first_delay_s: float = 0.0
    next_delays_s: tuple[float, ...] = ()
    time_limit_s: float = 0.0
    on_time_limit: str = "revert"
    skipped_families: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scheduled(Facts):
    """When the next fault is due."""

    KIND: ClassVar[Kind] = Kind.SCHEDULED
    at: datetime | None = None


@dataclass(frozen=True)
class Halt(Facts):
    """The organizer pulled the kill switch (for one team, or ALL_TEAMS)."""

    KIND: ClassVar[Kind] = Kind.HALT
    by: str = "organizer"


@dataclass(frozen=True)
class Resume(Facts):
    """The organizer lifted a halt."""

    KIND: ClassVar[Kind] = Kind.RESUME
    by: str = "organizer"


@dataclass(frozen=True)
class Leader(Facts):
    """A daemon took the event's leadership lease and acts from now on (a start or a take-over)."""

    KIND: ClassVar[Kind] = Kind.LEADER
    term: int = 0
    holder: str = ""


# --- injection ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Intent(Facts):
    """A fault commit made locally and about to be pushed (crash safety: recorded first)."""

    KIND: ClassVar[Kind] = Kind.INTENT
    sha: str = ""
    parent: str = ""
    branch: str = ""
    delivery: str = "push"
    persona: str = ""
    message: str = ""
    binding: Mapping[str, Any] = field(default_factory=dict)
    """The role binding on the healthy tree (`RoleBinding.to_json()`): fix search needs it."""
    variant: str = ""
    """Which of the fault's variants was applied (the one that fits this repository)."""


@dataclass(frozen=True)
class Landed(Facts):
    """The fault reached the team's branch (pushed, or merged through a PR)."""

    KIND: ClassVar[Kind] = Kind.LANDED
    sha: str = ""
    parent: str = ""
    branch: str = ""
    pushed_at: datetime | None = None
    delivery: str = "push"
    persona: str = ""
    message: str = ""
    landed_sha: str | None = None
    """The commit on the branch that carries the fault: `sha`, or a PR's merge/squash commit."""
    binding: Mapping[str, Any] = field(default_factory=dict)
    pr: int | None = None
    pr_url: str | None = None
    recovered: bool = False
    variant: str = ""
    """Found on the remote after an interrupted run, not pushed again."""


@dataclass(frozen=True)
class PrOpened(Facts):
    """The bot opened a PR to deliver a fault."""

    KIND: ClassVar[Kind] = Kind.PR_OPENED
    sha: str = ""
    number: int = 0
    url: str = ""
    branch: str = ""


@dataclass(frozen=True)
class PrBlocked(Facts):
    """GitHub refused to merge the bot's PR (protection, conflict)."""

    KIND: ClassVar[Kind] = Kind.PR_BLOCKED
    sha: str = ""
    number: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Refused(Facts):
    """An injection was refused (does not apply, already broken, kept moving)."""

    KIND: ClassVar[Kind] = Kind.REFUSED
    reason: str = ""


@dataclass(frozen=True)
class Skipped(Facts):
    """A fault refused too often is skipped so the team's game goes on."""

    KIND: ClassVar[Kind] = Kind.SKIPPED
    reason: str = ""
    refusals: int = 0


@dataclass(frozen=True)
class Hint(Facts):
    """A hint fell due for an open fault."""

    KIND: ClassVar[Kind] = Kind.HINT
    index: int = -1
    text: str = ""


# --- the team's repository ----------------------------------------------------------------

@dataclass(frozen=True)
class Head(Facts):
    """The team's branch head as the bot last saw it."""

    KIND: ClassVar[Kind] = Kind.HEAD
    head: str | None = None
    previous: str | None = None
    previous_check_at: datetime | None = None


@dataclass(frozen=True)
class Branches(Facts):
    """Every branch of the team's repo (a new one is a sign of response)."""

    KIND: ClassVar[Kind] = Kind.BRANCHES
    branches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fixed(Facts):
    """The commit that made every check pass, how, by whom and when."""

    KIND: ClassVar[Kind] = Kind.FIXED
    sha: str = ""
    kind: str = "forward-fix"
    """revert | forward-fix."""
    fixed_by: Who = field(default_factory=Who)
    fixed_at: datetime | None = None
    fixed_at_source: str | None = None
    uncertainty_s: float | None = None
    pr: PullInfo | None = None
    pr_lookup: str | None = None
    """"pending" when written from git alone: a `FixPull` follows with GitHub's PR data.
    ("failed": an earlier release's mark that a later `Fixed` with `amends` would follow.)"""
    amends: str | None = None


@dataclass(frozen=True)
class FixPull(Facts):
    """What GitHub says about how a fix recorded from git alone got in: the PR that merged
    it (its merged_at is then the fix time), or none (a direct push: the observation stands)."""

    KIND: ClassVar[Kind] = Kind.FIX_PR
    sha: str = ""
    """The fix commit this is about (ignored if the fault's fix has changed since)."""
    pr: PullInfo | None = None
    source: str = "rest"
    """Where the PR data came from: `rest` (asked GitHub) or `webhook` (a pull_request delivery carried it)."""


@dataclass(frozen=True)
class Regressed(Facts):
    """A team commit broke a fixed fault's checks again."""

    KIND: ClassVar[Kind] = Kind.REGRESSED
    sha: str = ""
    after_fix: str = ""


@dataclass(frozen=True)
class Progress(Facts):
    """How many of a fault's checks pass at the branch head."""

    KIND: ClassVar[Kind] = Kind.PROGRESS
    passing: int = 0
    total: int = 0
    failing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Response(Facts):
    """The team's first sign of response: a commit, a branch or a PR."""

    KIND: ClassVar[Kind] = Kind.RESPONSE
    kind: str = "commit"
    """commit | branch | pull_request."""
    at: datetime | None = None
    at_source: str | None = None
    sha: str | None = None
    branch: str | None = None
    author: str | None = None
    number: int | None = None


# --- the bot closing a fault ----------------------------------------------------------------

@dataclass(frozen=True)
class RevertIntent(Facts):
    """A bot revert made locally and about to be pushed (or, for `delivery: pr`, proposed)."""

    KIND: ClassVar[Kind] = Kind.REVERT_INTENT
    sha: str = ""
    parent: str = ""
    persona: str = ""
    reason: str = ""
    target: str = ""
    """The commit it undoes: the one that landed the fault, or the team's regressing commit."""
    delivery: str = "push"
    branch: str = ""
    """The branch pushed for the revert's PR (`delivery: pr`)."""


@dataclass(frozen=True)
class RevertFailed(Facts):
    """A bot revert could not be made (a conflict, a protected branch, a refused merge):
    recorded once and left for the organizer; the bot does not try again by itself."""

    KIND: ClassVar[Kind] = Kind.REVERT_FAILED
    reason: str = ""
    error: str = ""
    target: str = ""


@dataclass(frozen=True)
class Closed(Facts):
    """The bot closed an open fault, reverting it (revert_sha) or leaving it."""

    KIND: ClassVar[Kind]
    reason: str = ""
    revert_sha: str | None = None
    fixed_by: Who | None = None
    recovered: bool = False
    note: str | None = None
    pr: int | None = None
    """The PR the revert was merged through (`delivery: pr`)."""


@dataclass(frozen=True)
class TimedOut(Closed):
    """The time limit passed."""

    KIND: ClassVar[Kind] = Kind.TIMED_OUT


@dataclass(frozen=True)
class Halted(Closed):
    """The organizer's kill switch closed it."""

    KIND: ClassVar[Kind] = Kind.HALTED


# --- deploys, CI, probes --------------------------------------------------------------------

@dataclass(frozen=True)
class Tracked(Facts):
    """The fault's deploys are tracked on this ArgoCD app (its time starts when it ships)."""

    KIND: ClassVar[Kind] = Kind.TRACKED
    app: str | None = None


@dataclass(frozen=True)
class Shipped(Facts):
    """ArgoCD deployed a revision containing the fault (deployedAt: ArgoCD's clock)."""

    KIND: ClassVar[Kind] = Kind.SHIPPED
    at: datetime | None = None
    revision: str | None = None
    history_id: int | None = None


@dataclass(frozen=True)
class Recovered(Facts):
    """The fix shipped on a Healthy app (and the probe passes, where there is one)."""

    KIND: ClassVar[Kind] = Kind.RECOVERED
    at: datetime | None = None
    deployed_at: datetime | None = None
    health: str | None = None
    probe: str | None = None


@dataclass(frozen=True)
class ClockStarted(Facts):
    """The team's clock started without the fault shipping: it was not deployed within
    `argocd.ship_timeout`, so its time counts from `at` (its injection) after all."""

    KIND: ClassVar[Kind] = Kind.CLOCK_STARTED
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class RecoverTimedOut(Facts):
    """A fixed fault did not recover within `argocd.recover_timeout`: the game moves on from `at`."""

    KIND: ClassVar[Kind] = Kind.RECOVER_TIMED_OUT
    at: datetime | None = None


@dataclass(frozen=True)
class CIRun(Facts):
    """A CI run's state changed for the injected commit or the fix."""

    KIND: ClassVar[Kind] = Kind.CI
    role: str = "injected"
    """injected | fix."""
    sha: str = ""
    name: str = ""
    status: str = ""
    conclusion: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ProbeChanged(Facts):
    """The team's live probe turned ok or not ok."""

    KIND: ClassVar[Kind] = Kind.PROBE
    ok: bool = False
    status: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Anomaly(Facts):
    """Something the organizer should look at (not shipped, CI failed, ...)."""

    KIND: ClassVar[Kind] = Kind.ANOMALY
    kind: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Stale(Facts):
    """A data source (argocd, github) could not be read for a team."""

    KIND: ClassVar[Kind] = Kind.STALE
    source: str = ""
    error: str = ""


@dataclass(frozen=True)
class Fresh(Facts):
    """A data source answers again."""

    KIND: ClassVar[Kind] = Kind.FRESH
    source: str = ""


# --- PagerDuty: how the team responded and communicated ---------------------------------------

@dataclass(frozen=True)
class Message:
    """One piece of communication on an incident: a note or a status update."""

    kind: str = "note"
    """note | status_update."""
    at: datetime | None = None
    by: str | None = None
    text: str = ""


@dataclass(frozen=True)
class PagerIncident(Facts):
    """What PagerDuty says about the incident opened for a fault on the team's service.

    Recorded again whenever PagerDuty's answer changes (acknowledged, a note, resolved);
    the latest one is the truth. Times are PagerDuty's, never the team's.
    """

    KIND: ClassVar[Kind] = Kind.PAGER
    incident_id: str = ""
    number: int | None = None
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_by_person: bool = True
    """False when a monitoring integration (a service, not a person) acknowledged it."""
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    messages: tuple[Message, ...] = ()
    incidents: int = 1
    """How many incidents opened on the service in the fault's window (the first is timed)."""


# --- notifications: the outbox is the event log ---------------------------------------------

@dataclass(frozen=True)
class OutboxOpened(Facts):
    """Notifications start here: events after `after_event` are delivered (once, event-wide)."""

    KIND: ClassVar[Kind] = Kind.OUTBOX
    after_event: int = 0


@dataclass(frozen=True)
class Delivered(Facts):
    """A receiver acknowledged a notice (its id is the source event's id and the audience)."""

    KIND: ClassVar[Kind] = Kind.DELIVERED
    notice: str = ""
    route: str = ""
    receipt: str | None = None


@dataclass(frozen=True)
class Unrecognised(Facts):
    """An event of a kind this release does not know (written by a newer one): kept, not read."""

    kind: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


FACT_TYPES: dict[Kind, type[Facts]] = {
    cls.KIND: cls
    for cls in (
        Started, PlanMade, Scheduled, Halt, Resume, Leader, Intent, Landed, PrOpened, PrBlocked, Refused, Skipped,
        Hint, Head, Branches, Fixed, FixPull, Regressed, Progress, Response, RevertIntent, RevertFailed, TimedOut,
        Halted, Tracked, Shipped, Recovered, ClockStarted, RecoverTimedOut, CIRun, ProbeChanged, Anomaly, Stale,
        Fresh, PagerIncident, OutboxOpened, Delivered,
    )
}


@dataclass(frozen=True)
class Event:
    """One recorded fact: when, whose, from which source, and what."""

    id: int
    at: datetime
    team: str
    fault: str | None
    source: str
    facts: Facts
    term: int | None = None
    """The leadership term of the daemon that wrote it; None for a command run by hand (or 0.1's log)."""

    @property
    def kind(self) -> Kind | str:
        """The event's kind (a plain string for an unrecognised one)."""
        return self.facts.kind if isinstance(self.facts, Unrecognised) else self.facts.KIND


_ADAPTERS: dict[type[Facts], TypeAdapter[Any]] = {}


def _adapter(cls: type[Facts]) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:  # built once per type: a TypeAdapter is costly to make, cheap to use
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def to_json(value: Any) -> Any:
    """A fact (or any value inside one) as plain JSON data; times in ISO 8601 as `isoformat()` writes them."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode(facts: Facts) -> tuple[str, dict[str, Any]]:
    """(kind, JSON object) for storage."""
    if isinstance(facts, Unrecognised):
        return facts.kind, dict(facts.raw)
    return facts.KIND.value, to_json(facts)


def decode(kind: str, raw: Mapping[str, Any]) -> Facts:
    """Facts from storage; unknown keys are ignored, missing ones take their defaults."""
    try:
        cls = FACT_TYPES[Kind(kind)]
    except ValueError:
        return Unrecognised(kind, dict(raw))
    return _adapter(cls).validate_python(dict(raw))  # type: ignore[no-any-return]
