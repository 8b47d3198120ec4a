"""JSON bodies the local ArgoCD serves, shaped like argo-cd v3.5.1's swagger definitions.

Kept apart from the server so the shapes can be read (and checked) in one place.
Fields are omitted rather than sent as null: ArgoCD's Go types marshal absent optional
fields that way, and swagger 2.0 has no `nullable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

Json = dict[str, Any]

VERSION = "v3.5.1+109ca7c"
IN_CLUSTER = "https://kubernetes.default.svc"
DEFAULT_HISTORY_LIMIT = 10  # pkg/apis/application/v1alpha1/application_defaults.go


def rfc3339(moment: datetime) -> str:
    """metav1.Time's wire form: UTC, whole seconds, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AppRecord:
    """One Application's state inside the fake server (mutated only under its lock)."""

    name: str
    namespace: str
    project: str
    uid: str
    created_at: datetime
    sources: list[Json]
    multi_source: bool
    history_limit: int | None
    health: str = "Missing"
    health_changed_at: datetime | None = None
    sync_status: str = "OutOfSync"
    sync_revisions: list[str] = field(default_factory=list)
    history: list[Json] = field(default_factory=list)
    operation_state: Json | None = None
    reconciled_at: datetime | None = None
    generation: int = 1
    resource_version: int = 1

    @property
    def effective_history_limit(self) -> int:
        """spec.revisionHistoryLimit, or ArgoCD's default when unset."""
        return DEFAULT_HISTORY_LIMIT if self.history_limit is None else self.history_limit

    def source_fields(self) -> Json:
        """`source` or `sources`, as spec, comparedTo and history spell them."""
        return {"sources": self.sources} if self.multi_source else {"source": self.sources[0]}

    def revision_fields(self, revisions: list[str]) -> Json:
        """`revision` or `revisions`, matching the app's source layout."""
        if self.multi_source:
            return {"revisions": list(revisions)}
        return {"revision": revisions[0]} if revisions else {}


def destination(app: AppRecord) -> Json:
    return {"server": IN_CLUSTER, "namespace": app.name}


def application(app: AppRecord) -> Json:
    """A `v1alpha1Application`."""
    spec: Json = {
        **app.source_fields(),
        "destination": destination(app),
        "project": app.project,
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
    if app.history_limit is not None:
        spec["revisionHistoryLimit"] = app.history_limit
    status: Json = {
        "sync": {
            "status": app.sync_status,
            "comparedTo": {**app.source_fields(), "destination": destination(app)},
            **app.revision_fields(app.sync_revisions),
        },
        "health": {"status": app.health},
        "controllerNamespace": "argocd",
        "summary": {},
    }
    if app.health_changed_at is not None:
        status["health"]["lastTransitionTime"] = rfc3339(app.health_changed_at)
    if app.multi_source:
        status["sourceTypes"] = ["Directory"] * len(app.sources)
    else:
        status["sourceType"] = "Directory"
    if app.history:
        status["history"] = [dict(entry) for entry in app.history]
    if app.operation_state is not None:
        status["operationState"] = app.operation_state
    if app.reconciled_at is not None:
        status["reconciledAt"] = rfc3339(app.reconciled_at)
    return {
        "metadata": {
            "name": app.name,
            "namespace": app.namespace,
            "uid": app.uid,
            "resourceVersion": str(app.resource_version),
            "generation": app.generation,
            "creationTimestamp": rfc3339(app.created_at),
        },
        "spec": spec,
        "status": status,
    }


def history_entry(app: AppRecord, entry_id: int, revisions: list[str], started: datetime, deployed: datetime) -> Json:
    """A `v1alpha1RevisionHistory`, as persistRevisionHistory writes it."""
    return {
        **app.revision_fields(revisions),
        **app.source_fields(),
        "deployedAt": rfc3339(deployed),
        "deployStartedAt": rfc3339(started),
        "id": entry_id,
        "initiatedBy": {"automated": True},
    }


def operation_state(
    app: AppRecord, revisions: list[str], phase: str, message: str, started: datetime, finished: datetime
) -> Json:
    """A `v1alpha1OperationState` for an automated sync."""
    sync: Json = {**app.revision_fields(revisions), "syncStrategy": {"hook": {}}}
    return {
        "operation": {"sync": sync, "initiatedBy": {"automated": True}, "retry": {"limit": 5}},
        "phase": phase,
        "message": message,
        "syncResult": {"resources": [], **app.revision_fields(revisions), **app.source_fields()},
        "startedAt": rfc3339(started),
        "finishedAt": rfc3339(finished),
    }


def runtime_error(code: int, message: str) -> Json:
    """A `runtimeError`, grpc-gateway's error body (code is the gRPC status code)."""
    return {"error": message, "code": code, "message": message}


def version_message(full: bool) -> Json:
    """A `versionVersionMessage`; anonymous callers get the version only, as in ArgoCD."""
    if not full:
        return {"Version": VERSION}
    return {
        "Version": VERSION,
        "BuildDate": "2026-05-01T00:00:00Z",
        "GitCommit": "109ca7ca71139e514114499d294a492e7910a965",
        "GitTag": "v3.5.1",
        "GitTreeState": "clean",
        "GoVersion": "go1.25.0",
        "Compiler": "gc",
        "Platform": "linux/amd64",
        "KustomizeVersion": "v5.7.0",
        "HelmVersion": "v3.18.4",
        "KubectlVersion": "v0.33.1",
        "JsonnetVersion": "v0.21.0",
    }
