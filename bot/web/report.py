"""The after-action report: one scoring (`bot.game.scoring`), four formats for four readers.

* Markdown — to paste into the debrief issue or chat: scoreboard, the rules, then every
  team's timeline, with times written for people (`4m12s`, `14:04:12`).
* JSON — for tools and for re-scoring later: the instances exactly as `status --json`
  gives them, the scoreboard and the rules that produced it.
* CSV — one row per fault instance, for a spreadsheet; ISO times, seconds as numbers.
* HTML — one self-contained page (inline CSS, no scripts, no external assets) to put on
  a projector or a static host.

Everything a team controls (team names come from config, but author names, PR titles and
URLs come from git and GitHub) is treated as hostile text: HTML is autoescaped by Jinja2,
Markdown table cells have their syntax characters escaped, CSV cells that a spreadsheet
would run as a formula are defused, and only http(s) links are ever linked. Author
e-mail addresses are left out: a report is often shared with every participant.

The renderers are pure (`render_*` take instance dicts and return text) so the web server
can serve the same pages; `write_reports` is the only function that touches the disk.
Instance dicts may carry extra keys or lack optional ones; neither breaks a report.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from bot.base.redact import redact_url
from bot.game.scoring import (
    DEFAULT_RULES,
    FaultScore,
    ScoringRules,
    TeamScore,
    parse_time,
    rules_text,
    score_instance,
    scoreboard,
)

DASH = "—"

CSV_COLUMNS = (
    "team", "fault", "state", "outcome", "points",
    "injected_sha", "injected_at", "shipped_at",
    "fix_sha", "fix_kind", "fixed_by", "fixed_by_login", "pr_number", "pr_url",
    "fixed_at", "fixed_at_source", "fixed_at_uncertainty_s", "time_to_fix_s",
    "recovered_at", "time_to_recover_s", "regressions",
    "first_response_kind", "first_response_by", "first_response_at", "first_response_s",
)

SCOREBOARD_HEADERS = (
    "Rank", "Team", "Score", "Fixed", "Timed out", "Open", "Regressions",
    "Median time to fix", "Median first response",
)

TIMELINE_HEADERS = (
    "Fault", "State", "Injected", "Fixed", "How", "By", "PR", "Time to fix", "First response", "Points",
)


@dataclass(frozen=True)
class ReportPaths:
    """Where `write_reports` put each format."""

    markdown: Path
    json: Path
    csv: Path
    html: Path


# --- formatting for people ---------------------------------------------------------


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


@dataclass(frozen=True)
class _Clock:
    """How to print instants: time of day only when the whole event fits in one UTC day."""

    day: date | None

    @classmethod
    def for_instances(cls, instances: Sequence[Mapping[str, Any]]) -> _Clock:
        days = {moment.date() for moment in (parse_time(v) for i in instances for v in _instants(i)) if moment}
        return cls(next(iter(days)) if len(days) == 1 else None)

    def show(self, value: Any) -> str:
        moment = parse_time(value)
        if moment is None:
            return DASH
        return moment.strftime("%H:%M:%S" if self.day else "%Y-%m-%d %H:%M:%S")

    @property
    def note(self) -> str:
        return f"All times UTC, {self.day.isoformat()}." if self.day else "All times UTC."


def _instants(instance: Mapping[str, Any]) -> list[Any]:
    response = instance.get("first_response")
    at = response.get("at") if isinstance(response, Mapping) else None
    return [instance.get("injected_at"), instance.get("fixed_at"), at]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _iso(value: Any) -> str | None:
    """ISO 8601 in UTC when the value is a time; an unparseable string is kept as it came."""
    moment = parse_time(value)
    if moment is not None:
        return moment.isoformat()
    return value if isinstance(value, str) and value else None


def _safe_url(value: Any) -> str | None:
    """Only http(s) URLs become links (no `javascript:`), without any credentials in them."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return redact_url(value)
    return None


def _who(instance: Mapping[str, Any]) -> str:
    if instance.get("fix_kind") == "bot-revert":
        return "faultbot"
    by = _mapping(instance.get("fixed_by"))
    name, login = by.get("name"), by.get("login")
    if name and login and name != login:
        return f"{name} (@{login})"
    if login:
        return f"@{login}"
    return str(name) if name else DASH


def _how(instance: Mapping[str, Any]) -> str:
    kind = instance.get("fix_kind")
    state = instance.get("state")
    if kind == "bot-revert":
        return "bot revert (timed out)"
    if state == "timed-out":
        return "timed out"
    if state == "halted":
        return "halted"
    if kind == "forward-fix":
        return "forward fix"
    if kind == "revert":
        return "revert"
    if state == "fixed":
        return "fixed"
    return DASH


def _state(instance: Mapping[str, Any]) -> str:
    state = str(instance.get("state") or "scheduled")
    regressions = int(instance.get("regressions") or 0)
    if regressions:
        state += f" ({regressions} regression{'s' if regressions != 1 else ''})"
    return state


def _pr(instance: Mapping[str, Any]) -> tuple[str | None, str | None]:
    pr = _mapping(instance.get("pr"))
    number = pr.get("number")
    return (f"#{number}" if number is not None else None, _safe_url(pr.get("url")))


def _first_response(instance: Mapping[str, Any], scored: FaultScore) -> str:
    if scored.first_response_s is None:
        return DASH
    author = _mapping(instance.get("first_response")).get("author")
    return human_duration(scored.first_response_s) + (f" ({author})" if author else "")


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
    points: int

    def cells(self, pr_cell: str, escape: Callable[[str], str]) -> list[str]:
        """The cells in `TIMELINE_HEADERS` order, escaped, beside an already-formatted PR cell."""
        texts = [self.fault, self.state, self.injected, self.fixed, self.how, self.by]
        after = [self.time_to_fix, self.first_response, str(self.points)]
        return [escape(t) for t in texts] + [pr_cell] + [escape(t) for t in after]


@dataclass(frozen=True)
class _Section:
    team: TeamScore
    rows: list[_Row]


def _sections(instances: Sequence[Mapping[str, Any]], board: list[TeamScore], clock: _Clock,
              rules: ScoringRules) -> list[_Section]:
    """Per-team timelines in scoreboard order; instances keep the order they came in."""
    rows: dict[str, list[_Row]] = {}
    for instance in instances:
        scored = score_instance(instance, rules)
        pr, pr_url = _pr(instance)
        rows.setdefault(scored.team, []).append(_Row(
            fault=scored.fault,
            state=_state(instance),
            injected=clock.show(instance.get("injected_at")),
            fixed=clock.show(instance.get("fixed_at")),
            how=_how(instance),
            by=_who(instance) if instance.get("fix_kind") else DASH,
            pr=pr,
            pr_url=pr_url,
            time_to_fix=human_duration(scored.time_to_fix_s),
            first_response=_first_response(instance, scored),
            points=scored.points,
        ))
    return [_Section(team, rows.get(team.team, [])) for team in board]


def _scoreboard_cells(team: TeamScore) -> list[str]:
    return [str(team.rank), team.team, str(team.score), str(team.fixed), str(team.timed_out),
            str(team.open), str(team.regressions), human_duration(team.median_time_to_fix_s),
            human_duration(team.median_first_response_s)]


# --- Markdown ------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|<>[]`*"} | {"\n": " ", "\r": " "})


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: no column breaks, links, code or raw HTML."""
    return text.translate(_MD_SPECIAL)


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(instances: Sequence[Mapping[str, Any]], event_name: str, generated_at: datetime,
                    rules: ScoringRules = DEFAULT_RULES) -> str:
    """The report as Markdown: scoreboard, rules, then each team's timeline."""
    board = scoreboard(instances, rules)
    clock = _Clock.for_instances(instances)
    lines = [
        f"# {md_escape(event_name)} — game-day report",
        "",
        f"Generated {_human_instant(generated_at)}. {clock.note}",
        "",
        "## Scoreboard",
        "",
        _md_row(SCOREBOARD_HEADERS),
        _md_row(["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    lines += [_md_row(md_escape(c) for c in _scoreboard_cells(team)) for team in board]
    if not board:
        lines += ["", "_No faults were recorded._"]
    lines += ["", "### How the score works", ""]
    lines += [f"- {line}" for line in rules_text(rules)]
    lines += ["", "## Timeline"]
    for section in _sections(instances, board, clock, rules):
        lines += ["", f"### {md_escape(section.team.team)}", ""]
        lines += [_md_row(TIMELINE_HEADERS), _md_row(["---"] * (len(TIMELINE_HEADERS) - 1) + ["---:"])]
        for row in section.rows:
            pr = md_escape(row.pr) if row.pr else DASH
            if row.pr and row.pr_url:
                pr = f"[{pr}](<{row.pr_url.replace('>', '%3E').replace(' ', '%20')}>)"
            lines.append(_md_row(row.cells(pr, escape=md_escape)))
    return "\n".join(lines) + "\n"


def _human_instant(moment: datetime) -> str:
    utc = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- JSON ----------------------------------------------------------------------------


def render_json(instances: Sequence[Mapping[str, Any]], event_name: str, generated_at: datetime,
                rules: ScoringRules = DEFAULT_RULES) -> dict[str, Any]:
    """`{"event", "generated_at", "rules", "scoreboard", "instances"}`; instances unchanged."""
    utc = generated_at.replace(tzinfo=timezone.utc) if generated_at.tzinfo is None else generated_at
    return {
        "event": event_name,
        "generated_at": utc.isoformat(),
        "rules": rules.as_json(),
        "scoreboard": [team.as_json() for team in scoreboard(instances, rules)],
        "instances": [dict(instance) for instance in instances],
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


def csv_row(instance: Mapping[str, Any], rules: ScoringRules = DEFAULT_RULES) -> dict[str, Any]:
    """One instance as a CSV row keyed by `CSV_COLUMNS` (raw values, before defusing)."""
    scored = score_instance(instance, rules)
    by = _mapping(instance.get("fixed_by"))
    pr = _mapping(instance.get("pr"))
    response = _mapping(instance.get("first_response"))
    return {
        "team": scored.team,
        "fault": scored.fault,
        "state": instance.get("state"),
        "outcome": scored.outcome.value,
        "points": scored.points,
        "injected_sha": instance.get("injected_sha"),
        "injected_at": _iso(instance.get("injected_at")),
        "shipped_at": _iso(instance.get("shipped_at")),
        "fix_sha": instance.get("fix_sha"),
        "fix_kind": instance.get("fix_kind"),
        "fixed_by": by.get("name"),
        "fixed_by_login": by.get("login"),
        "pr_number": pr.get("number"),
        "pr_url": _safe_url(pr.get("url")),
        "fixed_at": _iso(instance.get("fixed_at")),
        "fixed_at_source": instance.get("fixed_at_source"),
        "fixed_at_uncertainty_s": instance.get("fixed_at_uncertainty_s"),
        "time_to_fix_s": scored.time_to_fix_s,
        "recovered_at": _iso(instance.get("recovered_at")),
        "time_to_recover_s": instance.get("time_to_recover_s"),
        "regressions": scored.regressions,
        "first_response_kind": response.get("kind"),
        "first_response_by": response.get("author"),
        "first_response_at": _iso(response.get("at")),
        "first_response_s": scored.first_response_s,
    }


def render_csv(instances: Sequence[Mapping[str, Any]], rules: ScoringRules = DEFAULT_RULES) -> str:
    """One row per instance, header first, in `CSV_COLUMNS` order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for instance in instances:
        writer.writerow({k: _csv_cell(v) for k, v in csv_row(instance, rules).items()})
    return buffer.getvalue()


# --- HTML ----------------------------------------------------------------------------

# The page lives in bot/web/templates/report.html; the daemon serves it live (with a refresh).
_ENV = Environment(loader=PackageLoader("bot.web", "templates"), autoescape=True, keep_trailing_newline=True)


def render_html(instances: Sequence[Mapping[str, Any]], event_name: str, generated_at: datetime,
                rules: ScoringRules = DEFAULT_RULES, refresh_seconds: int | None = None) -> str:
    """A self-contained page: inline CSS, no scripts, every value autoescaped.

    With `refresh_seconds` the browser reloads it: the daemon's live scoreboard at `/`.
    """
    board = scoreboard(instances, rules)
    clock = _Clock.for_instances(instances)
    return _ENV.get_template("report.html").render(
        refresh_seconds=refresh_seconds,
        event=event_name,
        generated=_human_instant(generated_at),
        note=clock.note,
        headers=SCOREBOARD_HEADERS,
        board=[_scoreboard_cells(team) for team in board],
        rules=rules_text(rules),
        timeline_headers=TIMELINE_HEADERS,
        sections=_sections(instances, board, clock, rules),
        dash=DASH,
    )


# --- files ---------------------------------------------------------------------------


def write_reports(instances: list[dict[str, Any]], out_dir: Path, event_name: str, generated_at: datetime,
                  rules: ScoringRules = DEFAULT_RULES) -> ReportPaths:
    """Write report.md, report.json, report.csv and report.html into `out_dir` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out_dir / "report.md", out_dir / "report.json", out_dir / "report.csv",
                        out_dir / "report.html")
    paths.markdown.write_text(render_markdown(instances, event_name, generated_at, rules), encoding="utf-8")
    document = render_json(instances, event_name, generated_at, rules)
    paths.json.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    paths.csv.write_text(render_csv(instances, rules), encoding="utf-8", newline="")
    paths.html.write_text(render_html(instances, event_name, generated_at, rules), encoding="utf-8")
    return paths
