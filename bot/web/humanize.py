"""Times, durations and outcomes written for people: `6m55s`, `14:04:12` in the event's zone,
"bot revert (halted)", "faultbot". Shared by the reports, the two web views and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo

from bot.game.clock import as_utc
from bot.game.timeline import FaultInstance, State

DASH = "—"
UTC = timezone.utc


def human_duration(seconds: float | None) -> str:
    """`45s`, `4m12s`, `1h04m12s`; a dash when unknown. Whole seconds: nobody reads millis."""
    if seconds is None:
        return DASH
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def zone_label(zone: tzinfo, moment: datetime) -> str:
    """`Europe/Paris (UTC+01:00)`, or `UTC`."""
    name = str(getattr(zone, "key", None) or moment.astimezone(zone).tzname() or "UTC")
    offset = moment.astimezone(zone).strftime("%z")
    if name in ("UTC", "Etc/UTC") or not offset:
        return "UTC"
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


@dataclass(frozen=True)
class LocalClock:
    """How to print instants in the event's zone: time of day only when the event fits in one local day."""

    zone: tzinfo
    day: date | None
    label: str

    @classmethod
    def for_instances(cls, instances: Sequence[FaultInstance], zone: tzinfo = UTC) -> LocalClock:
        """The clock for these instances' instants."""
        moments = [m for i in instances for m in _instants(i)]
        days = {m.astimezone(zone).date() for m in moments}
        reference = moments[0] if moments else datetime.now(UTC)
        return cls(zone, next(iter(days)) if len(days) == 1 else None, zone_label(zone, reference))

    def show(self, moment: datetime | None) -> str:
        """The instant as local time (a dash when unknown)."""
        if moment is None:
            return DASH
        local = as_utc(moment).astimezone(self.zone)
        return local.strftime("%H:%M:%S" if self.day else "%Y-%m-%d %H:%M:%S")

    @property
    def note(self) -> str:
        """The line that says which zone (and day) the times are in."""
        return f"All times {self.label}, {self.day.isoformat()}." if self.day else f"All times {self.label}."


def _instants(instance: FaultInstance) -> list[datetime]:
    response = instance.first_response.at if instance.first_response else None
    return [m for m in (instance.injected_at, instance.fixed_at, response, instance.closed_at) if m is not None]


def who_fixed(instance: FaultInstance) -> str:
    """Who fixed it, for people: `Ana Lima (@ana)`; a bot revert is always "faultbot"."""
    if instance.fix_kind == "bot-revert":
        return "faultbot"
    by = instance.fixed_by
    if by is None:
        return DASH
    if by.name and by.login and by.name != by.login:
        return f"{by.name} (@{by.login})"
    if by.login:
        return f"@{by.login}"
    return by.name or DASH


def how_it_ended(instance: FaultInstance) -> str:
    """`revert`, `forward fix`, `bot revert (time limit)`, `bot revert (halted)`, `timed out`, `halted`."""
    reverted = instance.fix_kind == "bot-revert"
    if instance.state is State.halted:
        return "bot revert (halted)" if reverted else "halted"
    if instance.state is State.timed_out:
        return "bot revert (time limit)" if reverted else "timed out (left broken)"
    if instance.fix_kind == "forward-fix":
        return "forward fix"
    if instance.fix_kind == "revert":
        return "revert"
    if instance.state is State.fixed:
        return "fixed"
    return DASH
