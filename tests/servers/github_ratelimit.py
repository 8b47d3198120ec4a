"""GitHub's REST rate limits, per caller, as the test forge enforces them.

What GitHub documents and answers (docs.github.com, "Rate limits for the REST API" and
"Troubleshooting the REST API"; real bodies from zerocracy/judges-action#589 and
KnpLabs/php-github-api#1070):

* every response carries `X-RateLimit-Limit/Remaining/Reset/Used/Resource`; the window is
  an hour from the caller's first counted request; 5,000 for a token, 60 anonymous;
* primary limit exhausted: 403 (or 429), `X-RateLimit-Remaining: 0`, reset in epoch seconds,
  "API rate limit exceeded for user ID N. If you reach out to GitHub Support for help,
  please include the request ID ... and timestamp ... UTC.";
* secondary limit: 403 (or 429) with `Retry-After` and "You have exceeded a secondary rate
  limit. Please wait a few minutes before you try again. ...";
* `GET /rate_limit` and 304 answers to conditional requests are not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.servers.github_payloads import stable_id

TOKEN_LIMIT = 5000
ANONYMOUS_LIMIT = 60
WINDOW = timedelta(hours=1)
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)
_SUPPORT = "If you reach out to GitHub Support for help, please include the request ID {rid} and timestamp {ts} UTC."


@dataclass(frozen=True)
class Refusal:
    """A rate-limit answer: status, message, documentation URL and extra headers."""

    status: int
    message: str
    documentation_url: str
    headers: dict[str, str]


@dataclass
class _Window:
    used: int
    reset_at: datetime


class RateLimiter:
    """Counts requests per login (None: anonymous) and refuses them as GitHub does when spent."""

    def __init__(self, clock: Callable[[], datetime], limit: int = TOKEN_LIMIT) -> None:
        self.clock = clock
        self.limit = limit
        self._lock = threading.Lock()
        self._windows: dict[str | None, _Window] = {}
        self._forced: tuple[datetime, int] | None = None  # every caller spent until then (status)
        self._secondary: tuple[int, int | None, int] | None = None  # (retry_after, times left, status)

    # -- switched by tests ----------------------------------------------------------------
    def exhaust(self, reset_in: timedelta, status: int = 403) -> None:
        """Every caller's primary limit is spent until `reset_in` from now."""
        with self._lock:
            self._forced = (self.clock() + reset_in, status)

    def secondary(self, retry_after: int, times: int | None = 1, status: int = 403) -> None:
        """The next `times` requests (None: until `restore`) hit a secondary limit."""
        with self._lock:
            self._secondary = (retry_after, times, status)

    def restore(self) -> None:
        """Lift `exhaust` and `secondary` (the windows keep their counts)."""
        with self._lock:
            self._forced = self._secondary = None

    # -- consulted per request ----------------------------------------------------------
    def numbers(self, login: str | None) -> dict[str, int]:
        """limit / remaining / reset / used for the caller, as the headers and /rate_limit show them."""
        limit = self.limit if login is not None else ANONYMOUS_LIMIT
        with self._lock:
            window = self._window(login)
            forced = self._forced
            if forced is not None and self.clock() < forced[0]:
                return {"limit": limit, "remaining": 0, "reset": int(forced[0].timestamp()), "used": limit}
            used = min(window.used, limit)
            return {"limit": limit, "remaining": limit - used, "reset": int(window.reset_at.timestamp()), "used": used}

    def refusal(self, login: str | None, request_id: str) -> Refusal | None:
        """GitHub's rate-limit answer for this request, or None to serve it."""
        now = self.clock()
        support = _SUPPORT.format(rid=request_id, ts=now.strftime("%Y-%m-%d %H:%M:%S"))
        with self._lock:
            if self._secondary is not None:
                retry_after, times, status = self._secondary
                if times is not None:
                    self._secondary = (retry_after, times - 1, status) if times > 1 else None
                message = f"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. {support}"
                return Refusal(status, message, SECONDARY_DOCS, {"Retry-After": str(retry_after)})
            forced = self._forced
            status = forced[1] if forced is not None and now < forced[0] else 403
            spent = (forced is not None and now < forced[0]) or self._window(login).used >= self._limit_of(login)
        if not spent:
            return None
        who = f"user ID {stable_id(login)}" if login is not None else "127.0.0.1"
        return Refusal(status, f"API rate limit exceeded for {who}. {support}", PRIMARY_DOCS, {})

    def charge(self, login: str | None) -> None:
        """Count one request against the caller's window."""
        with self._lock:
            self._window(login).used += 1

    def _limit_of(self, login: str | None) -> int:
        return self.limit if login is not None else ANONYMOUS_LIMIT

    def _window(self, login: str | None) -> _Window:
        now = self.clock()
        window = self._windows.get(login)
        if window is None or now >= window.reset_at:
            window = self._windows[login] = _Window(0, now + WINDOW)
        return window


__all__ = ["ANONYMOUS_LIMIT", "TOKEN_LIMIT", "RateLimiter", "Refusal"]
