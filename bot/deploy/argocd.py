"""ArgoCD's REST API: read an Application's sync, health and deploy history.

Only reads: faultbot never syncs a team's app, the team's own ArgoCD does (that is the
point of the exercise). Auth is a Bearer token (an ArgoCD account's API token), as
ArgoCD documents in docs/developer-guide/api-docs.md. The httpx client is passed in so
tests, proxies and custom CAs are the caller's choice; `make_http_client` builds the
usual one from `ArgoCDSettings`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import quote

import httpx

from bot.base.redact import Redactor
from bot.config import ArgoCDSettings
from bot.deploy import AppStatus, DeployError, HistoryEntry
from bot.deploy.backoff import fetch_with_backoff
from bot.game.clock import Clock, SystemClock, as_utc

USER_AGENT = "faultbot (+deploy tracking)"


def token_from_env(settings: ArgoCDSettings, environ: Mapping[str, str]) -> str:
    """The API token from the env var named in repos.yaml; a one-line error says which."""
    token = environ.get(settings.token_env, "").strip()
    if not token:
        raise DeployError(
            f"ArgoCD token missing: set the environment variable {settings.token_env} "
            f"(an ArgoCD API token; `argocd account generate-token`)"
        )
    return token


def make_http_client(
    settings: ArgoCDSettings,
    token: str,
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for the ArgoCD API server at `settings.url`, with Bearer auth."""
    return httpx.Client(
        base_url=settings.url,
        headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=timeout,
        transport=transport,
    )


class ArgoCD:
    """Reads Applications; retryable failures are retried with backoff, then raised."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        redactor: Redactor | None = None,
        clock: Clock | None = None,
        attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        token_hint: str = "check the ArgoCD API token",
    ) -> None:
        self._client = client
        self._redact = redactor or Redactor()
        # Whatever the caller passed, the token on the client itself is never printed.
        self._redact.add(client.headers.get("authorization", "").partition(" ")[2] or None)
        self._clock = clock or SystemClock()
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._token_hint = token_hint
        self._owns_client = False

    @classmethod
    def from_settings(cls, settings: ArgoCDSettings, token: str, *, redactor: Redactor | None = None,
                      timeout: float = 10.0, **options: Any) -> ArgoCD:
        """A client for repos.yaml's `argocd:` section with the token read by the caller.

        `timeout` bounds each request (seconds); `options` are the constructor's (clock, attempts,
        base_delay, max_delay, sleep, rng).
        The returned object owns its HTTP client: close it (or use it as a context manager).
        """
        redactor = redactor or Redactor()
        redactor.add(token)
        argocd = cls(make_http_client(settings, token, timeout=timeout), redactor=redactor,
                     token_hint=f"check the token in ${settings.token_env}", **options)
        argocd._owns_client = True
        return argocd

    def close(self) -> None:
        """Close the HTTP client if this object built it; a passed-in one is the caller's."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------
    def application(self, name: str, *, refresh: bool = False) -> AppStatus:
        """`GET /api/v1/applications/{name}`; `ns/name` addresses an app in another namespace.

        `refresh=True` asks ArgoCD to re-read git first (a normal, not hard, refresh).
        """
        namespace, _, app = name.rpartition("/")
        params = {"appNamespace": namespace} if namespace else {}
        if refresh:
            params["refresh"] = "normal"
        body = self._get(f"/api/v1/applications/{quote(app, safe='')}", params, what=f"application {name!r}")
        return parse_application(body, self._clock.now())

    def application_names(self) -> tuple[str, ...]:
        """Names of the applications the token may read (`validate` checks teams against it)."""
        body = self._get("/api/v1/applications", {}, what="applications")
        items = (body.get("items") or []) if isinstance(body, dict) else []
        return tuple(str(item.get("metadata", {}).get("name", "")) for item in items)

    def version(self) -> str:
        """The API server's version string (also a cheap reachability check)."""
        body = self._get("/api/version", {}, what="version")
        return str(body.get("Version", "")) if isinstance(body, dict) else ""

    # -- HTTP ------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str], *, what: str) -> Any:
        return fetch_with_backoff(
            lambda: self._get_once(path, params, what),
            self._attempts,
            self._base_delay,
            self._sleep,
            rng=self._rng,
            max_delay=self._max_delay,
        )

    def _get_once(self, path: str, params: Mapping[str, str], what: str) -> Any:
        where = f"ArgoCD {self._client.base_url}{path}"
        try:
            response = self._client.get(path, params=dict(params))
        except httpx.TimeoutException as exc:
            raise self._error(f"{where}: timed out reading {what} ({type(exc).__name__})", True) from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise self._error(f"{where}: cannot reach the API server: {reason}", True) from exc
        if response.status_code != 200:
            raise self._status_error(response, where, what)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind = response.headers.get("content-type", "no content type")
            raise self._error(
                f"{where}: the answer is not JSON ({kind}); "
                "is argocd.url the API server's base URL (https://HOST, without /api or /applications)?",
                False,
            ) from exc

    def _status_error(self, response: httpx.Response, where: str, what: str) -> DeployError:
        status = response.status_code
        detail = _error_detail(response)
        retry_after = _retry_after(response.headers.get("retry-after"), self._clock.now())
        head = f"{where}: {status} {response.reason_phrase}" + (f": {detail}" if detail else "")
        if status == 401:
            return self._error(f"{head}; {self._token_hint}", False, status)
        rate_limited = status == 429 or (
            status == 403 and (retry_after is not None or "rate limit" in detail.lower())
        )
        if rate_limited:
            return self._error(f"{head} (rate limited)", True, status, retry_after)
        if status == 403:
            why = f"the account cannot read {what}, or it does not exist"
            return self._error(f"{head}; {why}", False, status)
        if status == 404:
            why = f"no {what} on this ArgoCD (check the team's argocd_app)"
            return self._error(f"{head}; {why}", False, status)
        return self._error(head, status >= 500, status, retry_after)

    def _error(
        self, message: str, retryable: bool, status: int | None = None, retry_after: float | None = None
    ) -> DeployError:
        one_line = " ".join(self._redact(message).split())
        return DeployError(one_line, retryable=retryable, status=status, retry_after=retry_after)


# -- parsing (pure) ------------------------------------------------------------------
def parse_application(body: Any, observed_at: datetime) -> AppStatus:
    """An AppStatus from a `v1alpha1Application` JSON body; tolerant of absent fields."""
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise DeployError("ArgoCD answered with something that is not an Application (no metadata)")
    status = _mapping(body.get("status"))
    sync = _mapping(status.get("sync"))
    health = _mapping(status.get("health"))
    operation = _mapping(status.get("operationState"))
    revisions = sync.get("revisions") or []
    history = tuple(
        entry for entry in (_history_entry(item) for item in status.get("history") or []) if entry is not None
    )
    spec = _mapping(body.get("spec"))
    sources = spec.get("sources") or []
    source = _mapping(spec.get("source") or (sources[0] if sources else None))
    return AppStatus(
        name=str(body["metadata"].get("name", "")),
        sync_status=str(sync.get("status") or "Unknown"),
        sync_revision=sync.get("revision") or (str(revisions[0]) if revisions else None),
        health_status=str(health.get("status") or "Unknown"),
        history=tuple(sorted(history, key=lambda e: e.id)),
        operation_phase=operation.get("phase") or None,
        operation_finished_at=parse_time(operation.get("finishedAt")),
        observed_at=observed_at,
        health_changed_at=parse_time(health.get("lastTransitionTime")),
        source_path=source.get("path") if isinstance(source.get("path"), str) else None,
        source_recurse=bool(_mapping(source.get("directory")).get("recurse", False)),
        destination_namespace=_mapping(spec.get("destination")).get("namespace") or None,
    )


def _history_entry(item: Any) -> HistoryEntry | None:
    """One `v1alpha1RevisionHistory`; None for an entry without deployedAt (unscorable)."""
    item = _mapping(item)
    deployed_at = parse_time(item.get("deployedAt"))
    if deployed_at is None:
        return None
    return HistoryEntry(
        # int64 may arrive as a JSON string from protojson-style marshalers.
        id=int(item.get("id") or 0),
        revision=item.get("revision") or None,
        revisions=tuple(str(r) for r in item.get("revisions") or ()),
        deployed_at=deployed_at,
        deploy_started_at=parse_time(item.get("deployStartedAt")),
    )


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time (`2024-05-01T10:00:00Z`, fractions and offsets too) as aware UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise DeployError(f"ArgoCD sent a time that is not RFC 3339: {value!r}") from exc
    return as_utc(moment)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error_detail(response: httpx.Response) -> str:
    """The `runtimeError` message, or a short plain-text body; never a whole HTML page."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    if response.headers.get("content-type", "").startswith("text/plain"):
        return response.text.strip()[:200]
    return ""


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (as_utc(when) - now).total_seconds())
