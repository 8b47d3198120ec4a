"""What the test forge keeps in memory: pull requests, CI runs, statuses and the request log.

Git data is never stored here; it is read from the bare repos on each request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.servers.branch_protection import BranchProtection


@dataclass
class PullRecord:
    """A pull request; mutable because merging and closing change it."""

    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: str
    created_at: datetime
    updated_at: datetime
    head_sha: str
    base_sha: str
    state: str = "open"
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    landed_shas: tuple[str, ...] = ()  # the commits the merge put on the base (rebase: one per commit)


@dataclass
class WorkflowRun:
    """A GitHub Actions run that a test declares; also served as a check run."""

    id: int
    owner: str
    repo: str
    head_sha: str
    head_branch: str | None
    status: str
    conclusion: str | None
    name: str
    path: str
    event: str
    run_number: int
    created_at: datetime
    updated_at: datetime
    display_title: str | None = None


@dataclass(frozen=True)
class CommitStatus:
    """A commit status (the older CI API) that a test declares."""

    id: int
    owner: str
    repo: str
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    created_at: datetime


@dataclass(frozen=True)
class APIRequest:
    """One answered API request, for tests that count or inspect calls."""

    method: str
    path: str
    query: str
    status: int
    login: str | None


@dataclass(frozen=True)
class RecordedResponse:
    """A JSON body the server sent, keyed by the OpenAPI operation it answers."""

    method: str
    operation_path: str
    status: int
    body: Any


@dataclass(frozen=True)
class MergeSettings:
    """Which merge buttons a repo allows (GitHub's allow_*_merge settings; all on by default)."""

    merge: bool = True
    squash: bool = True
    rebase: bool = True

    def allows(self, method: str) -> bool:
        """Whether `merge_method` (merge, squash or rebase) is enabled."""
        return bool(getattr(self, method))


@dataclass
class ForgeState:
    """All mutable state, guarded by one lock shared by the server and test threads."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    pulls: dict[tuple[str, str], list[PullRecord]] = field(default_factory=dict)
    runs: list[WorkflowRun] = field(default_factory=list)
    statuses: list[CommitStatus] = field(default_factory=list)
    protection: dict[tuple[str, str, str], BranchProtection] = field(default_factory=dict)
    merge_settings: dict[tuple[str, str], MergeSettings] = field(default_factory=dict)
    created: dict[tuple[str, str], datetime] = field(default_factory=dict)
    requests: list[APIRequest] = field(default_factory=list)
    responses: list[RecordedResponse] = field(default_factory=list)
    next_id: int = 1000

    def new_id(self) -> int:
        """A fresh id for a PR, run or status."""
        with self.lock:
            self.next_id += 1
            return self.next_id

    def pulls_of(self, owner: str, repo: str) -> list[PullRecord]:
        """The PR list of one repo, created empty on first use."""
        with self.lock:
            return self.pulls.setdefault((owner, repo), [])
