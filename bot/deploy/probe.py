"""Is the team's service answering like a healthy one? One HTTP GET, judged by the spec.

A probe's failure is data ("the site is down"), not an error: `probe` never raises for
network trouble and returns a one-line reason the scoreboard and timeline can show.
The httpx client is passed in so redirects, proxies and CAs are the caller's choice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from bot.base.redact import redact_url
from bot.config import Probe
from bot.game.clock import Clock, SystemClock

MAX_BODY_BYTES = 1024 * 1024
"""Expected text is looked for in the first MiB: a probe must not download a video."""


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe."""

    ok: bool
    status: int | None
    """The HTTP status, or None when no answer arrived."""
    reason: str
    """One line: why it passed or failed, fit for a scoreboard."""
    elapsed_s: float
    observed_at: datetime
    """When the probe finished, by the bot's clock."""


def probe(client: httpx.Client, spec: Probe, clock: Clock | None = None) -> ProbeResult:
    """GET `spec.url` within `spec.timeout`; ok when status (and text, if set) match."""
    clock = clock or SystemClock()
    limit = spec.timeout.total_seconds()
    started = time.monotonic()

    def result(ok: bool, status: int | None, reason: str) -> ProbeResult:
        elapsed = round(time.monotonic() - started, 3)
        return ProbeResult(ok, status, " ".join(reason.split()), elapsed, clock.now())

    status: int | None = None
    try:
        with client.stream("GET", spec.url, timeout=limit) as response:
            status = response.status_code
            if status != spec.expect_status:
                got = f"{status} {response.reason_phrase}"
                return result(False, status, f"expected status {spec.expect_status}, got {got}")
            if spec.expect_text is None:
                return result(True, status, f"{status} {response.reason_phrase}")
            body = _read_head(response, started + limit)
    except httpx.TimeoutException as exc:
        where = redact_url(spec.url)
        return result(False, status, f"timed out after {limit:g}s ({_kind(exc)}) at {where}")
    except TimeoutError:
        where = redact_url(spec.url)
        return result(False, status, f"timed out after {limit:g}s reading the body at {where}")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        # With a status in hand the server answered, then the connection broke mid-body.
        doing = "lost the connection to" if status is not None else "cannot reach"
        return result(False, status, f"{doing} {redact_url(spec.url)}: {_describe(exc)}")
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if spec.expect_text in text:
        return result(True, status, f"{status} {response.reason_phrase}, found {spec.expect_text!r}")
    return result(False, status, f"{status} but {spec.expect_text!r} is not in the first {len(body)} bytes")


def _read_head(response: httpx.Response, deadline: float) -> bytes:
    """Up to MAX_BODY_BYTES of the body, within the overall deadline.

    httpx's timeout is per read, so a server dripping a byte a second would never trip
    it; the deadline bounds the whole probe.
    """
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
        if time.monotonic() > deadline:
            raise TimeoutError
    return b"".join(chunks)[:MAX_BODY_BYTES]


def _kind(exc: Exception) -> str:
    return {"ConnectTimeout": "connect", "ReadTimeout": "read", "WriteTimeout": "write",
            "PoolTimeout": "pool"}.get(type(exc).__name__, type(exc).__name__)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {redact_url(text)}" if text else type(exc).__name__
