"""The after-action report: one scoring (`bot.game.scoring`), five formats for five readers.

* Markdown — to paste into the debrief issue or chat: scoreboard, the rules, then every
  team's timeline, with times written for people (`4m12s`, `14:04:12`) in the event's
  time zone, and links to the timeline pictures.
* JSON — for tools: the instances exactly as `status --json` gives them, the scoreboard and
  the rules that produced it.
* CSV — one row per fault instance, for a spreadsheet; ISO times, seconds as numbers.
* HTML — one self-contained page (inline CSS and pictures, no scripts, no external assets)
  to put on a projector or a static host.
* PNG — the timeline of the whole event and of each team (`bot.web.timeline_png`).

Everything a team controls (author names, PR titles and URLs come from git and GitHub,
names from PagerDuty) is treated as hostile text: HTML is autoescaped by Jinja2, Markdown
table cells have their syntax characters escaped, CSV cells that a spreadsheet would run
as a formula are defused, and only http(s) links are ever linked. Author e-mail addresses
are left out: a report is often shared with every participant.

The renderers are pure (`render_*` take `FaultInstance` values and return text);
`write_reports` is the only function that touches the disk.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from bot.base.redact import redact_url
from bot.game.clock import as_utc
from bot.game.scoring import (
    DEFAULT_RULES,
    FaultScore,
    ScoringRules,
    TeamScore,
    rules_text,
    score_instance,
    scoreboard,
)
from bot.game.timeline import FaultInstance
from bot.web import timeline_png
from bot.web.humanize import DASH, UTC, LocalClock, how_it_ended, human_duration, who_fixed, zone_label

__all__ = ["human_duration", "md_escape", "render_csv", "render_html", "render_json", "render_markdown",
           "write_reports"]

CSV_COLUMNS = (
    "team", "fault", "state", "outcome", "points",
    "injected_sha", "injected_at", "shipped_at",
    "fix_sha", "fix_kind", "fixed_by", "fixed_by_login", "pr_number", "pr_url",
    "fixed_at", "fixed_at_source", "fixed_at_uncertainty_s", "time_to_fix_s",
    "recovered_at", "time_to_recover_s", "regressions",
    "first_response_kind", "first_response_by", "first_response_at", "first_response_s",
    "incident_opened_at", "mtta_s", "acknowledged_by", "first_update_s", "communication_points",
)

SCOREBOARD_HEADERS = (
    "Rank", "Team", "Score", "Fixed", "Timed out", "Halted", "Open", "Regressions",
    "Median time to fix", "Median first response", "Median MTTA",
)

TIMELINE_HEADERS = (
    "Fault", "State", "Injected", "Fixed", "How", "By", "PR", "Time to fix", "First response", "MTTA",
    "Updates", "Points",
)


@dataclass(frozen=True)
class ReportPaths:
    """Where `write_reports` put each format (and the pictures)."""

    markdown: Path
    json: Path
    csv: Path
    html: Path
    timeline: Path
    team_timelines: tuple[Path, ...] = ()


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def _safe_url(value: Any) -> str | None:
    """Only http(s) URLs become links (no `javascript:`), without any credentials in them."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return redact_url(value)
    return None


def _state(instance: FaultInstance) -> str:
    state = instance.state.value
    if instance.regressions:
        state += f" ({instance.regressions} regression{'s' if instance.regressions != 1 else ''})"
    return state


def _pr(instance: FaultInstance) -> tuple[str | None, str | None]:
    pr = instance.pr
    return (f"#{pr.number}", _safe_url(pr.url)) if pr is not None else (None, None)


def _first_response(instance: FaultInstance, scored: FaultScore) -> str:
    if scored.first_response_s is None:
        return DASH
    author = instance.first_response.author if instance.first_response else None
    return human_duration(scored.first_response_s) + (f" ({author})" if author else "")


def _mtta(instance: FaultInstance) -> str:
    pager = instance.pager
    if instance.mtta_s is None or pager is None:
        return "not acknowledged" if pager is not None else DASH
    return human_duration(instance.mtta_s) + (f" ({pager.acknowledged_by})" if pager.acknowledged_by else "")


def _updates(instance: FaultInstance) -> str:
    pager = instance.pager
    if pager is None:
        return DASH
    updates = sum(1 for m in pager.messages if m.kind == "status_update")
    notes = len(pager.messages) - updates
    first = f", first after {human_duration(instance.first_update_s)}" if instance.first_update_s is not None else ""
    return f"{updates} update{'s' if updates != 1 else ''}, {notes} note{'s' if notes != 1 else ''}{first}"


@dataclass(frozen=True)
class _Row:
    """One timeline row as plain strings (escaping is each format's job)."""

    fault: str
    state: str
    injected: str
    fixed: str
    how: str
    by: str
    pr: str | None
    pr_url: str | None
    time_to_fix: str
    first_response: str
    mtta: str
    updates: str
    points: int

    def cells(self, pr_cell: str, escape: Callable[[str], str]) -> list[str]:
        """The cells in `TIMELINE_HEADERS` order, escaped, beside an already-formatted PR cell."""
        texts = [self.fault, self.state, self.injected, self.fixed, self.how, self.by]
        after = [self.time_to_fix, self.first_response, self.mtta, self.updates, str(self.points)]
        return [escape(t) for t in texts] + [pr_cell] + [escape(t) for t in after]


@dataclass(frozen=True)
class _Section:
    team: TeamScore
    rows: list[_Row]
    picture: str


def _sections(instances: Sequence[FaultInstance], board: list[TeamScore], clock: LocalClock,
              rules: ScoringRules) -> list[_Section]:
    """Per-team timelines in scoreboard order; instances keep the order they came in."""
    rows: dict[str, list[_Row]] = {}
    for instance in instances:
        scored = score_instance(instance, rules)
        pr, pr_url = _pr(instance)
        rows.setdefault(scored.team, []).append(_Row(
            fault=scored.fault,
            state=_state(instance),
            injected=clock.show(instance.injected_at),
            fixed=clock.show(instance.fixed_at),
            how=how_it_ended(instance),
            by=who_fixed(instance) if instance.fix_kind else DASH,
            pr=pr,
            pr_url=pr_url,
            time_to_fix=human_duration(scored.time_to_fix_s),
            first_response=_first_response(instance, scored),
            mtta=_mtta(instance),
            updates=_updates(instance),
            points=scored.points,
        ))
    return [_Section(team, rows.get(team.team, []), team_picture_name(team.team)) for team in board]


def team_picture_name(team: str) -> str:
    """The file name of a team's timeline picture (team names are slugs: safe in a path)."""
    return f"timeline-{team}.png"


def _scoreboard_cells(team: TeamScore) -> list[str]:
    return [str(team.rank), team.team, str(team.score), str(team.fixed), str(team.timed_out), str(team.halted),
            str(team.open), str(team.regressions), human_duration(team.median_time_to_fix_s),
            human_duration(team.median_first_response_s), human_duration(team.median_mtta_s)]


# --- Markdown ------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|<>[]`*"} | {"\n": " ", "\r": " "})


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: no column breaks, links, code or raw HTML."""
    return text.translate(_MD_SPECIAL)


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(instances: Sequence[FaultInstance], event_name: str, generated_at: datetime,
                    rules: ScoringRules = DEFAULT_RULES, zone: tzinfo = UTC) -> str:
    """The report as Markdown: scoreboard, rules, the event's picture, then each team's timeline."""
    board = scoreboard(instances, rules)
    clock = LocalClock.for_instances(instances, zone)
    lines = [
        f"# {md_escape(event_name)} — game-day report",
        "",
        f"Generated {_human_instant(generated_at, zone)}. {clock.note}",
        "",
        "## Scoreboard",
        "",
        _md_row(SCOREBOARD_HEADERS),
        _md_row(["---:", "---"] + ["---:"] * (len(SCOREBOARD_HEADERS) - 2)),
    ]
    lines += [_md_row(md_escape(c) for c in _scoreboard_cells(team)) for team in board]
    if not board:
        lines += ["", "_No faults were recorded._"]
    lines += ["", "### How the score works", ""]
    lines += [f"- {line}" for line in rules_text(rules)]
    lines += ["", "## Timeline", "", f"![Timeline of every team]({EVENT_PICTURE})"]
    for section in _sections(instances, board, clock, rules):
        lines += ["", f"### {md_escape(section.team.team)}", "",
                  f"![Timeline of {md_escape(section.team.team)}]({section.picture})", ""]
        lines += [_md_row(TIMELINE_HEADERS), _md_row(["---"] * (len(TIMELINE_HEADERS) - 1) + ["---:"])]
        for row in section.rows:
            pr = md_escape(row.pr) if row.pr else DASH
            if row.pr and row.pr_url:
                pr = f"[{pr}](<{row.pr_url.replace('>', '%3E').replace(' ', '%20')}>)"
            lines.append(_md_row(row.cells(pr, escape=md_escape)))
    return "\n".join(lines) + "\n"


def _human_instant(moment: datetime, zone: tzinfo = UTC) -> str:
    local = as_utc(moment).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + zone_label(zone, moment).split(" (")[0]


# --- JSON ----------------------------------------------------------------------------


def render_json(instances: Sequence[FaultInstance], event_name: str, generated_at: datetime,
                rules: ScoringRules = DEFAULT_RULES, zone: tzinfo = UTC) -> dict[str, Any]:
    """`{"event", "generated_at", "timezone", "rules", "scoreboard", "instances"}`; instances as `status --json`."""
    return {
        "event": event_name,
        "generated_at": as_utc(generated_at).isoformat(),
        "timezone": str(getattr(zone, "key", "UTC")),
        "rules": rules.as_json(),
        "scoreboard": [team.as_json() for team in scoreboard(instances, rules)],
        "instances": [instance.as_json() for instance in instances],
    }


# --- CSV -----------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """Numbers stay numbers; text a spreadsheet would evaluate (`=HYPERLINK(...)`) gets a `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(instance: FaultInstance, rules: ScoringRules = DEFAULT_RULES) -> dict[str, Any]:
    """One instance as a CSV row keyed by `CSV_COLUMNS` (raw values, before defusing)."""
    scored = score_instance(instance, rules)
    by, pr, response, pager = instance.fixed_by, instance.pr, instance.first_response, instance.pager
    return {
        "team": scored.team,
        "fault": scored.fault,
        "state": instance.state.value,
        "outcome": scored.outcome.value,
        "points": scored.points,
        "injected_sha": instance.injected_sha,
        "injected_at": _iso(instance.injected_at),
        "shipped_at": _iso(instance.shipped_at),
        "fix_sha": instance.fix_sha,
        "fix_kind": instance.fix_kind,
        "fixed_by": by.name if by else None,
        "fixed_by_login": by.login if by else None,
        "pr_number": pr.number if pr else None,
        "pr_url": _safe_url(pr.url) if pr else None,
        "fixed_at": _iso(instance.fixed_at),
        "fixed_at_source": instance.fixed_at_source,
        "fixed_at_uncertainty_s": instance.fixed_at_uncertainty_s,
        "time_to_fix_s": scored.time_to_fix_s,
        "recovered_at": _iso(instance.recovered_at),
        "time_to_recover_s": instance.time_to_recover_s,
        "regressions": scored.regressions,
        "first_response_kind": response.kind if response else None,
        "first_response_by": response.author if response else None,
        "first_response_at": _iso(response.at) if response else None,
        "first_response_s": scored.first_response_s,
        "incident_opened_at": _iso(pager.opened_at) if pager else None,
        "mtta_s": scored.mtta_s,
        "acknowledged_by": pager.acknowledged_by if pager else None,
        "first_update_s": scored.first_update_s,
        "communication_points": scored.communication_points,
    }


def render_csv(instances: Sequence[FaultInstance], rules: ScoringRules = DEFAULT_RULES) -> str:
    """One row per instance, header first, in `CSV_COLUMNS` order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for instance in instances:
        writer.writerow({k: _csv_cell(v) for k, v in csv_row(instance, rules).items()})
    return buffer.getvalue()


# --- pictures ------------------------------------------------------------------------

EVENT_PICTURE = "timeline.png"


def report_label(instance: FaultInstance, number: int) -> str:
    """How an incident is named on the report's pictures (after the event: the fault id)."""
    return f"{number} · {instance.fault}"


def render_pictures(instances: Sequence[FaultInstance], event_name: str, now: datetime,
                    zone: tzinfo = UTC) -> dict[str, bytes]:
    """{file name: PNG} for the event's timeline and each team's."""
    teams = sorted({i.team for i in instances})
    event = timeline_png.chart_for_event(instances, f"{event_name} — every team", now, zone,
                                         lambda i, n: str(n), teams)
    pictures = {EVENT_PICTURE: timeline_png.render(event).png}
    for team in teams:
        chart = timeline_png.chart_for_team(instances, team, f"{team} — incidents", now, zone, report_label)
        pictures[team_picture_name(team)] = timeline_png.render(chart).png
    return pictures


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --- HTML ----------------------------------------------------------------------------

_ENV = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=True, keep_trailing_newline=True)


def render_html(instances: Sequence[FaultInstance], event_name: str, generated_at: datetime,
                rules: ScoringRules = DEFAULT_RULES, zone: tzinfo = UTC,
                pictures: dict[str, bytes] | None = None) -> str:
    """A self-contained page: inline CSS and pictures (data: URIs), no scripts, every value autoescaped."""
    board = scoreboard(instances, rules)
    clock = LocalClock.for_instances(instances, zone)
    pictures = pictures if pictures is not None else render_pictures(instances, event_name, generated_at, zone)
    return _ENV.get_template("report.html").render(
        event=event_name,
        generated=_human_instant(generated_at, zone),
        note=clock.note,
        headers=SCOREBOARD_HEADERS,
        board=[_scoreboard_cells(team) for team in board],
        rules=rules_text(rules),
        timeline_headers=TIMELINE_HEADERS,
        sections=_sections(instances, board, clock, rules),
        pictures={name: _data_uri(png) for name, png in pictures.items()},
        event_picture=EVENT_PICTURE,
        dash=DASH,
    )


# --- files ---------------------------------------------------------------------------


def write_reports(instances: Sequence[FaultInstance], out_dir: Path, event_name: str, generated_at: datetime,
                  rules: ScoringRules = DEFAULT_RULES, zone: tzinfo = UTC) -> ReportPaths:
    """Write report.md/.json/.csv/.html and the timeline PNGs into `out_dir` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures = render_pictures(instances, event_name, generated_at, zone)
    for name, png in pictures.items():
        (out_dir / name).write_bytes(png)
    paths = ReportPaths(out_dir / "report.md", out_dir / "report.json", out_dir / "report.csv",
                        out_dir / "report.html", out_dir / EVENT_PICTURE,
                        tuple(out_dir / name for name in pictures if name != EVENT_PICTURE))
    paths.markdown.write_text(render_markdown(instances, event_name, generated_at, rules, zone), encoding="utf-8")
    document = render_json(instances, event_name, generated_at, rules, zone)
    paths.json.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    paths.csv.write_text(render_csv(instances, rules), encoding="utf-8", newline="")
    paths.html.write_text(render_html(instances, event_name, generated_at, rules, zone, pictures), encoding="utf-8")
    return paths
