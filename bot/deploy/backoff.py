"""Retry a read that failed for a reason that can pass (a blip, a 503, a rate limit).

Written here rather than taken from tenacity to avoid a dependency for twenty lines.
Sleep and randomness are parameters so tests neither wait nor flake.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from bot.errors import FaultbotError

T = TypeVar("T")


def backoff_delay(attempt: int, base_delay: float, max_delay: float, rng: random.Random) -> float:
    """Wait before retry number `attempt` (0-based): exponential, with "equal jitter".

    Half the exponential step is fixed and half random, so many team pollers that failed
    together do not retry together, yet never retry instantly.
    """
    step = min(max_delay, base_delay * (2.0**attempt))
    return step / 2 + rng.uniform(0, step / 2)


def fetch_with_backoff(
    fn: Callable[[], T],
    attempts: int,
    base_delay: float,
    sleep: Callable[[float], None] = time.sleep,
    *,
    rng: random.Random | None = None,
    max_delay: float = 30.0,
) -> T:
    """Call `fn` up to `attempts` times, sleeping between retryable FaultbotErrors.

    A non-retryable error is raised at once. A server-requested wait (`retry_after` on
    the error) is honoured; if it is longer than `max_delay` the error is raised instead,
    because blocking a daemon tick for minutes is worse than trying again next tick,
    and the error still carries `retry_after` for the caller's scheduler.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    rng = rng or random.Random()
    for attempt in range(attempts):
        try:
            return fn()
        except FaultbotError as error:
            if not error.retryable or attempt == attempts - 1:
                raise
            asked: float | None = getattr(error, "retry_after", None)
            if asked is not None and asked > max_delay:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay, rng)
            sleep(max(delay, asked or 0.0))
    raise AssertionError("unreachable")  # pragma: no cover
