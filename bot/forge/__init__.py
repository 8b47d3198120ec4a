"""Adapters to code forges (GitHub today; GitLab or Gitea could implement the same protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.game.clock import as_utc


@dataclass(frozen=True)
class PullRequest:
    """What faultbot needs to know about a pull request."""

    number: int
    url: str
    head_branch: str
    head_sha: str
    author: str
    opened_at: datetime | None
    """GitHub's created_at (None only if GitHub did not say: never filled in with our clock)."""
    merged: bool
    merged_at: datetime | None
    merge_sha: str | None
    state: str


@dataclass(frozen=True)
class CIRun:
    """One CI run (a GitHub Actions workflow run) for a commit."""

    name: str
    status: str  # queued | in_progress | completed
    conclusion: str | None  # success | failure | cancelled | ... once completed
    created_at: datetime | None
    updated_at: datetime | None


def github_time(text: Any) -> datetime | None:
    """A GitHub JSON timestamp (`2026-05-01T12:00:00Z`) as an aware UTC datetime; None if absent."""
    if not isinstance(text, str) or not text:
        return None
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def ci_run(run: Mapping[str, Any]) -> CIRun:
    """A CIRun from GitHub's workflow-run JSON (the REST answer's, and the `workflow_run` webhook's)."""
    return CIRun(str(run.get("name") or ""), str(run.get("status") or ""), run.get("conclusion"),
                 github_time(run.get("created_at")), github_time(run.get("updated_at")))


@dataclass(frozen=True)
class MergeOutcome:
    """The forge's answer to a merge request: merged (with the new sha and time) or refused."""

    merged: bool
    sha: str | None
    merged_at: datetime | None
    message: str


class Forge(Protocol):
    """The operations injection needs from a forge."""

    def open_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from branch `head` into `base`."""

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The newest PR from branch `head`, if any."""

    def merge_pull_request(self, number: int, method: str, sha: str, title: str) -> MergeOutcome:
        """Merge a PR whose head is `sha`; a refusal is an outcome, not an exception."""

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        """PRs associated with a commit."""

    def pulls_opened_since(self, since: datetime) -> list[PullRequest]:
        """PRs opened at or after a time."""
