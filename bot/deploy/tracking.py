"""When did a commit ship, and when did the app recover? Pure functions over AppStatus.

A deployed revision "contains" a commit when the commit is that revision or one of its
ancestors; the caller answers that with git (`contains(sha) -> bool`), because only the
caller has the repository. For a multi-source app an entry contains the commit when any
of its revisions does; non-git revisions (a Helm chart version) should answer False.

ArgoCD keeps only the last `spec.revisionHistoryLimit` syncs (default 10; older entries
are dropped on every sync, controller/state.go `persistRevisionHistory`). A busy team
can push an entry out of the window between two polls of ours, so callers must record
`shipped_at` / `recovered_at` the first time they see them, not recompute them later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from bot.deploy import AppStatus, HistoryEntry

Contains = Callable[[str], bool]


def _chronological(history: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    # deployed_at comes from one server's clock; the id breaks ties within a second.
    return sorted(history, key=lambda entry: (entry.deployed_at, entry.id))


def entry_contains(entry: HistoryEntry, contains: Contains) -> bool:
    """Whether any revision this entry deployed contains the commit in question."""
    return any(contains(revision) for revision in entry.all_revisions)


def first_deploy_containing(history: Iterable[HistoryEntry], contains: Contains) -> HistoryEntry | None:
    """The earliest sync (by deployedAt) whose revision contains the commit, or None.

    This is `shipped_at` for an injected commit: the moment the breakage reached the cluster.
    """
    for entry in _chronological(history):
        if entry_contains(entry, contains):
            return entry
    return None


def recovered_at(status: AppStatus, contains_fix: Contains) -> datetime | None:
    """When the fix reached the cluster, if the app is Healthy now; otherwise None.

    The answer is the deployedAt of the first sync containing the fix, with one
    refinement: the fix must still be deployed. If a later sync rolled back to a revision
    without it, the app is not recovered (None); if the fix was then deployed again, the
    recovery dates from that redeploy (the start of the current run of syncs that
    contain the fix), since the app was broken in between.
    """
    if not status.healthy:
        return None
    since: HistoryEntry | None = None
    for entry in _chronological(status.history):
        if entry_contains(entry, contains_fix):
            since = since or entry
        else:
            since = None
    return since.deployed_at if since is not None else None
