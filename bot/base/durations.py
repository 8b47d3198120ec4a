"""Durations (`90s`, `5m`, `1h30m`) and jitter ranges (`5m..15m`) as organizers write them."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)(h|m|s)")
_UNITS = {"h": 3600, "m": 60, "s": 1}
_HOW = "write it like 90s, 5m or 1h30m"
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str | int | float) -> timedelta:
    """Parse `1h30m` / `90s` / `5m` (a bare number is seconds) into a timedelta."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; {_HOW}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text!r} is not a duration; {_HOW}")
        return _bounded(float(text), text)
    compact = str(text).strip().lower().replace(" ", "")
    if not compact:
        raise ValueError(f"empty duration; {_HOW}")
    seconds, pos = 0, 0
    seen: list[str] = []
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        unit = match.group(2)
        if seen and "hms".index(unit) <= "hms".index(seen[-1]):
            raise ValueError(f"{text!r} repeats or misorders its units; {_HOW}")
        seen.append(unit)
        seconds += int(match.group(1)) * _UNITS[unit]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"{text!r} is not a duration; {_HOW}")
    return _bounded(seconds, text)


def _bounded(seconds: float, text: object) -> timedelta:
    # A year is far beyond any game day; past it, timedelta itself overflows soon after.
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than {MAX_DURATION.days} days; {_HOW}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way it is written in repos.yaml (`1h30m`, `45s`, `0s`)."""
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n)
    return text or "0s"


@dataclass(frozen=True)
class DurationRange:
    """A jitter range `low..high`; a single duration is a range of one value."""

    low: timedelta
    high: timedelta

    @classmethod
    def parse(cls, text: str | int | float) -> DurationRange:
        """Parse `5m..15m` or a single duration."""
        if isinstance(text, str) and ".." in text:
            low_text, _, high_text = text.partition("..")
            low, high = parse_duration(low_text), parse_duration(high_text)
            if low > high:
                raise ValueError(f"{text!r} runs backwards; write the shorter duration first")
            return cls(low, high)
        single = parse_duration(text)
        return cls(single, single)

    def pick(self, rng: random.Random) -> timedelta:
        """A whole number of seconds drawn uniformly from the range."""
        low, high = int(self.low.total_seconds()), int(self.high.total_seconds())
        return timedelta(seconds=rng.randint(low, high))

    def __str__(self) -> str:
        if self.low == self.high:
            return format_duration(self.low)
        return f"{format_duration(self.low)}..{format_duration(self.high)}"


# As pydantic field types: organizers write `90s`, `5m..15m`; dumps write them back the same way.
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
Range = Annotated[
    DurationRange,
    BeforeValidator(lambda v: v if isinstance(v, DurationRange) else DurationRange.parse(v)),
    PlainSerializer(str, return_type=str),
]
