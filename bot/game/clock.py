"""Time is a parameter: the engine and the injector read "now" from a Clock passed in."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    """Anything that can say what time it is (UTC, aware)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def to_real(self, moment: datetime) -> datetime:
        """The wall-clock time at which this clock will read `moment` (for the scheduler)."""


class SystemClock:
    """The machine's clock. Tests move it with time-machine rather than replacing it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(timezone.utc)

    def to_real(self, moment: datetime) -> datetime:
        """The system clock is the wall clock."""
        return moment


class ScaledClock:
    """Game time that runs `speed` times faster than the wall clock (`faultbot demo --speed`).

    Every duration in the scenario (delays, time limits, hints) plays out `speed` times
    faster, with no change to the rules; the scheduler converts game time back to wall time.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.real_start = datetime.now(timezone.utc)
        self.game_start = start or self.real_start

    def now(self) -> datetime:
        """The current game time."""
        return self.game_start + (datetime.now(timezone.utc) - self.real_start) * self.speed

    def to_real(self, moment: datetime) -> datetime:
        """When the wall clock reaches this game time."""
        return self.real_start + (moment - self.game_start) / self.speed
