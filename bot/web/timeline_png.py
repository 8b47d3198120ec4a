"""Timelines as pictures: one PNG per event (a row per team) and one per team (a row per fault).

Each incident is a bar from when it reached the team (injected) to when it ended (fixed,
or recovered where deploys are tracked; closed by the bot; or "now" while open), coloured
by how it ended; markers show hints given, PagerDuty acknowledgements and halts. Times are
drawn in the event's time zone. Labels come from the caller, so the live spectator board
can draw the same picture without a single fault id.

`chart_for_*` turn fault instances into a `Chart` (plain data: rows, bars, markers);
`render` draws a Chart with matplotlib's headless Agg backend and returns the PNG with the
pixel box of every bar, so a test can check the picture against the data that drew it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from types import ModuleType
from typing import TYPE_CHECKING

from bot.game.timeline import FaultInstance, State, numbered

if TYPE_CHECKING:  # matplotlib is imported on the first picture drawn: it is a third of
    # `faultbot run`'s start-up (measured with -X importtime), and most runs draw none for minutes.
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

COLOURS = {
    "revert": "#2b6cb0",
    "forward-fix": "#2f855a",
    "fixed": "#38a169",
    "timed-out": "#dd8a20",
    "halted": "#8a94a6",
    "open": "#d64545",
}
LEGEND = {"revert": "fixed by revert", "forward-fix": "fixed by forward fix", "fixed": "fixed",
          "timed-out": "timed out", "halted": "halted by organizer", "open": "open"}
MARKERS = {"hint": ("v", "#6b46c1", "hint given"), "ack": ("o", "#d69e2e", "acknowledged (PagerDuty)"),
           "halt": ("X", "#1a202c", "halted")}


@dataclass(frozen=True)
class Bar:
    """One incident on the picture."""

    row: str
    label: str
    start: datetime
    end: datetime
    outcome: str
    """A key of COLOURS."""


@dataclass(frozen=True)
class Marker:
    """A moment on an incident's row: a hint, an acknowledgement or a halt."""

    row: str
    at: datetime
    kind: str


@dataclass(frozen=True)
class Chart:
    """Everything one picture shows, before drawing."""

    title: str
    rows: tuple[str, ...]
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    timezone: tzinfo
    zone_name: str


@dataclass(frozen=True)
class Rendered:
    """The PNG and, for each bar, its pixel box (x0, y0, x1, y1), origin top-left."""

    png: bytes
    boxes: tuple[tuple[Bar, tuple[float, float, float, float]], ...]
    size: tuple[int, int]


def outcome_key(instance: FaultInstance) -> str:
    """The colour key of how an instance ended (halted is never a time-out)."""
    if instance.state is State.halted:
        return "halted"
    if instance.state is State.timed_out:
        return "timed-out"
    if instance.state is State.fixed:
        return instance.fix_kind if instance.fix_kind in ("revert", "forward-fix") else "fixed"
    return "open"


def _end(instance: FaultInstance, now: datetime) -> datetime:
    if instance.state is State.fixed:
        return instance.recovered_at or instance.fixed_at or now
    if instance.is_open:
        return now
    return instance.closed_at or now


def _markers(row: str, instance: FaultInstance) -> list[Marker]:
    found = [Marker(row, at, "hint") for at, _ in instance.hints]
    if instance.pager is not None and instance.pager.acknowledged_at is not None:
        found.append(Marker(row, instance.pager.acknowledged_at, "ack"))
    if instance.halted_at is not None:
        found.append(Marker(row, instance.halted_at, "halt"))
    return found


Label = Callable[[FaultInstance, int], str]


def chart_for_event(instances: Sequence[FaultInstance], title: str, now: datetime, zone: tzinfo,
                    label: Label, teams: Sequence[str] = ()) -> Chart:
    """One row per team, its incidents one after another."""
    incidents = numbered(instances)
    rows = tuple(dict.fromkeys([*teams, *(i.team for i, _ in incidents)]))
    bars = tuple(Bar(i.team, label(i, n), i.injected_at, _end(i, now), outcome_key(i))  # type: ignore[arg-type]
                 for i, n in incidents)
    markers = tuple(m for i, _ in incidents for m in _markers(i.team, i))
    return Chart(title, rows, bars, markers, zone, _zone_name(zone, now))


def chart_for_team(instances: Sequence[FaultInstance], team: str, title: str, now: datetime, zone: tzinfo,
                   label: Label) -> Chart:
    """One row per incident of one team."""
    incidents = [(i, n) for i, n in numbered(instances) if i.team == team]
    rows = tuple(label(i, n) for i, n in incidents)
    bars = tuple(Bar(label(i, n), label(i, n), i.injected_at, _end(i, now), outcome_key(i))  # type: ignore[arg-type]
                 for i, n in incidents)
    markers = tuple(m for i, n in incidents for m in _markers(label(i, n), i))
    return Chart(title, rows, bars, markers, zone, _zone_name(zone, now))


def _zone_name(zone: tzinfo, now: datetime) -> str:
    return str(getattr(zone, "key", None) or now.astimezone(zone).tzname() or "UTC")


def _dates() -> ModuleType:
    """matplotlib's dates module, with the headless Agg backend chosen before anything draws."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display, no GUI toolkit, before pyplot is imported
    import matplotlib.dates as mdates

    return mdates


def render(chart: Chart, width_in: float = 10.0) -> Rendered:
    """Draw the chart (Agg, 100 dpi) and return the PNG and every bar's pixel box."""
    mdates = _dates()
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = list(chart.rows) or ["(no incidents yet)"]
    height_in = 1.6 + 0.55 * len(rows)
    figure = Figure(figsize=(width_in, height_in), dpi=100)
    axes = figure.add_subplot()
    index = {row: position for position, row in enumerate(rows)}
    patches = []
    for bar in chart.bars:
        start = mdates.date2num(bar.start)
        width = max(mdates.date2num(bar.end) - start, 1e-6)
        drawn = axes.barh(index[bar.row], width, left=start, height=0.5, color=COLOURS[bar.outcome],
                          edgecolor="white", linewidth=0.5)
        patches.append((bar, drawn.patches[0]))
        if bar.label != bar.row:
            axes.text(start + width / 2, index[bar.row], bar.label, ha="center", va="center", fontsize=8,
                      color="white", clip_on=True)
    for marker in chart.markers:
        shape, colour, _ = MARKERS[marker.kind]
        axes.plot([mdates.date2num(marker.at)], [index[marker.row] + 0.36], marker=shape, color=colour,
                  markersize=7, linestyle="none", markeredgecolor="white", markeredgewidth=0.6)
    axes.set_yticks(range(len(rows)), rows, fontsize=9)
    axes.set_ylim(len(rows) - 0.4, -0.7)
    _time_axis(axes, chart)
    axes.set_title(chart.title, fontsize=11, loc="left")
    axes.grid(axis="x", color="#e3e6ee", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    used = list(dict.fromkeys(bar.outcome for bar in chart.bars))
    handles: list[Patch | Line2D] = [Patch(color=COLOURS[k], label=LEGEND[k]) for k in used]
    handles += [Line2D([], [], marker=MARKERS[k][0], color=MARKERS[k][1], linestyle="none", label=MARKERS[k][2])
                for k in dict.fromkeys(m.kind for m in chart.markers)]
    if handles:
        axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=min(4, len(handles)),
                    fontsize=8, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    width_px, height_px = figure.canvas.get_width_height()
    boxes = []
    for bar, patch in patches:
        extent = patch.get_window_extent()
        boxes.append((bar, (extent.x0, height_px - extent.y1, extent.x1, height_px - extent.y0)))
    return Rendered(buffer.getvalue(), tuple(boxes), (width_px, height_px))


def _time_axis(axes: Axes, chart: Chart) -> None:
    mdates = _dates()
    moments = [b.start for b in chart.bars] + [b.end for b in chart.bars] + [m.at for m in chart.markers]
    if moments:
        low, high = min(moments), max(moments)
        pad = max((high - low) * 0.03, timedelta(minutes=1))
        axes.set_xlim(mdates.date2num(low - pad), mdates.date2num(high + pad))
    locator = mdates.AutoDateLocator(tz=chart.timezone, minticks=4, maxticks=10)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=chart.timezone))
    axes.set_xlabel(f"time ({chart.zone_name})", fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
