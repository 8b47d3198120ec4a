"""Adapters to deploy systems (ArgoCD today): what got deployed, when, and is it healthy.

The values here are what the rest of faultbot works from; `bot.deploy.argocd` fills
them from ArgoCD's REST API and `bot.deploy.tracking` answers "shipped?" / "recovered?"
from them. A second deploy system (Flux, a CI deploy job) would fill the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.errors import FaultbotError


class DeployError(FaultbotError):
    """The deploy system could not be read; says whether trying again can help.

    `retry_after` is the wait in seconds the server asked for (a Retry-After header),
    so a caller can schedule its next attempt instead of guessing.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status
        self.retry_after = retry_after


class Health(StrEnum):
    """ArgoCD's health codes (gitops-engine pkg/health). Fields stay `str` so an unknown
    future code is carried through instead of failing the parse; compare with these."""

    UNKNOWN = "Unknown"
    PROGRESSING = "Progressing"
    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    DEGRADED = "Degraded"
    MISSING = "Missing"


class SyncCode(StrEnum):
    """ArgoCD's sync codes (`status.sync.status`)."""

    UNKNOWN = "Unknown"
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"


class OperationPhase(StrEnum):
    """Phases of ArgoCD's last operation (`status.operationState.phase`)."""

    RUNNING = "Running"
    TERMINATING = "Terminating"
    FAILED = "Failed"
    ERROR = "Error"
    SUCCEEDED = "Succeeded"


@dataclass(frozen=True)
class HistoryEntry:
    """One successful sync in `status.history[]`: a revision that reached the cluster."""

    id: int
    """ArgoCD's auto-incrementing id; survives truncation, so it orders entries."""
    revision: str | None
    """The git sha deployed, for a single-source app (None for multi-source)."""
    revisions: tuple[str, ...]
    """One revision per source, for a multi-source app (empty for single-source)."""
    deployed_at: datetime
    """When the sync finished: ArgoCD's clock, the time faultbot scores by."""
    deploy_started_at: datetime | None
    """When the sync started (absent before ArgoCD v2.x wrote it)."""

    @property
    def all_revisions(self) -> tuple[str, ...]:
        """Every revision this entry deployed, whatever the app's source layout."""
        return (self.revision,) if self.revision else self.revisions


@dataclass(frozen=True)
class AppStatus:
    """An application as observed at `observed_at` (the bot's clock)."""

    name: str
    sync_status: str
    """A `SyncCode` value (kept as str: see `Health`)."""
    sync_revision: str | None
    """The revision ArgoCD compared against; the first source's for multi-source apps."""
    health_status: str
    """A `Health` value."""
    history: tuple[HistoryEntry, ...]
    """Only the last `revisionHistoryLimit` (default 10) syncs: record them as you see them."""
    operation_phase: str | None
    operation_finished_at: datetime | None
    observed_at: datetime
    health_changed_at: datetime | None = None
    """`status.health.lastTransitionTime` (ArgoCD v2.14+), when the server sends it."""
    source_path: str | None = None
    """`spec.source.path` (the first source's): the folder of the repo the app deploys."""
    source_recurse: bool = False
    """`spec.source.directory.recurse`: a plain folder is read with its subfolders."""
    destination_namespace: str | None = None
    """`spec.destination.namespace`: where objects without a namespace land."""

    @property
    def healthy(self) -> bool:
        """Whether ArgoCD currently reports the app Healthy."""
        return self.health_status == Health.HEALTHY

    @property
    def current(self) -> HistoryEntry | None:
        """The latest sync (what is deployed now), or None before the first sync."""
        return max(self.history, key=lambda e: e.id, default=None)


class DeploySource(Protocol):
    """What deploy tracking needs from a deploy system; a test double implements it too."""

    def application(self, name: str) -> AppStatus:
        """The named application's sync, health and deploy history, read now."""
