"""Scoring and the four report formats, from hand-built `status --json` instance dicts."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.game.scoring import DEFAULT_RULES, Outcome, score_instance, scoreboard
from bot.web.report import (
    CSV_COLUMNS,
    human_duration,
    md_escape,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    write_reports,
)

T0 = datetime(2026, 12, 5, 14, 0, tzinfo=timezone.utc)
GENERATED = datetime(2026, 12, 5, 16, 0, tzinfo=timezone.utc)
XSS = "<script>alert('x')</script>"


def at(**delta: float) -> str:
    return (T0 + timedelta(**delta)).isoformat()


def instance(team: str, fault: str, **fields: Any) -> dict[str, Any]:
    """A full `status --json` instance with the defaults of a fault that was injected at T0."""
    base: dict[str, Any] = {
        "team": team, "fault": fault, "state": "injected", "injected_sha": "a" * 40,
        "injected_at": T0.isoformat(), "fix_sha": None, "fix_kind": None, "fixed_by": None, "pr": None,
        "fixed_at": None, "fixed_at_source": None, "fixed_at_uncertainty_s": None, "time_to_fix_s": None,
        "regressions": 0, "checks_failing": [], "checks_passing": None, "first_response": None,
    }
    return base | fields


def game() -> list[dict[str, Any]]:
    """team-a reverts fast, team-b forward-fixes slower and regresses once, team-c times out."""
    return [
        instance(
            "team-a", "web-unreachable/service-selector", state="fixed", fix_sha="b" * 40, fix_kind="revert",
            fixed_by={"name": "Ana Lima", "email": "ana@example.com", "login": "ana"},
            pr={"number": 7, "author": "ana", "opened_at": at(minutes=1, seconds=30), "merged_at": at(minutes=4, seconds=12),
                "url": "https://github.com/pd-cup/team-a/pull/7"},
            fixed_at=at(minutes=4, seconds=12), fixed_at_source="github:merged_at", fixed_at_uncertainty_s=0,
            time_to_fix_s=252.0,
            first_response={"kind": "pull_request", "number": 7, "author": "ana", "at": at(minutes=1, seconds=30),
                            "at_source": "github:created_at"},
        ),
        instance(
            "team-b", "web-unreachable/service-selector", state="fixed", fix_sha="c" * 40, fix_kind="forward-fix",
            fixed_by={"name": XSS, "email": "evil@example.com"},
            fixed_at=at(minutes=12, seconds=30), fixed_at_source="observed", fixed_at_uncertainty_s=30.0,
            time_to_fix_s=750.0, regressions=1,
            first_response={"kind": "commit", "sha": "d" * 40, "author": XSS, "at": at(minutes=5),
                            "at_source": "observed"},
        ),
        instance(
            "team-c", "web-unreachable/service-selector", state="fixed", fix_sha="e" * 40, fix_kind="bot-revert",
            fixed_by={"name": "faultbot", "email": "faultbot@example.com"},
            fixed_at=at(minutes=30), fixed_at_source="observed", time_to_fix_s=1800.0,
        ),
        {"team": "team-c", "fault": "db-unreachable/db-host-typo", "state": "injected"},
    ]


# --- scoring -------------------------------------------------------------------------


def test_ranking_and_scores() -> None:
    board = scoreboard(game())
    assert [(t.rank, t.team, t.score) for t in board] == [(1, "team-a", 96), (2, "team-b", 88), (3, "team-c", 0)]
    a, b, c = board
    assert (a.fixed, a.reverts, a.forward_fixes, a.timed_out, a.open) == (1, 1, 0, 0, 0)
    assert (b.fixed, b.forward_fixes, b.regressions) == (1, 1, 1)
    assert (c.fixed, c.timed_out, c.open) == (0, 1, 1)
    assert a.median_time_to_fix_s == 252.0 and a.median_first_response_s == 90.0
    assert b.total_time_to_fix_s == 750.0 and b.median_first_response_s == 300.0
    # A bot-revert's 30 minutes are not a team's time to fix.
    assert c.total_time_to_fix_s is None and c.median_time_to_fix_s is None
    assert [f.outcome for f in c.faults] == [Outcome.timed_out, Outcome.open]


@pytest.mark.parametrize(("fields", "points"), [
    ({"fix_kind": "revert", "time_to_fix_s": 299.0}, 96),           # 4m59s: whole minutes only
    ({"fix_kind": "revert", "time_to_fix_s": 0.0}, 100),
    ({"fix_kind": "forward-fix", "time_to_fix_s": 60.0}, 109),      # 99 + forward-fix bonus
    ({"fix_kind": "revert", "time_to_fix_s": 3 * 3600.0}, 10),      # floor
    ({"fix_kind": "forward-fix", "time_to_fix_s": 3 * 3600.0}, 20),  # floor + bonus
    ({"fix_kind": "revert", "time_to_fix_s": 120.0, "regressions": 2}, 78),
    ({"fix_kind": "revert", "time_to_fix_s": -5.0}, 100),           # clock skew counts as zero
    ({"fix_kind": None, "time_to_fix_s": 600.0}, 90),               # unknown kind: a fix, no bonus
])
def test_points_for_a_team_fix(fields: dict[str, Any], points: int) -> None:
    scored = score_instance(instance("t", "f", state="fixed", **fields))
    assert scored.outcome is Outcome.fixed and scored.points == points


def test_time_to_fix_is_derived_when_not_recorded_and_floored_when_unknown() -> None:
    derived = score_instance(instance("t", "f", state="fixed", fix_kind="revert", fixed_at=at(minutes=7)))
    assert derived.time_to_fix_s == 420.0 and derived.points == 93
    unknown = score_instance({"team": "t", "fault": "f", "state": "fixed", "fix_kind": "revert"})
    assert unknown.time_to_fix_s is None and unknown.points == DEFAULT_RULES.floor


@pytest.mark.parametrize(("fields", "outcome", "points"), [
    ({"state": "timed-out"}, Outcome.timed_out, 0),
    ({"state": "halted"}, Outcome.timed_out, 0),
    ({"state": "fixed", "fix_kind": "bot-revert", "time_to_fix_s": 60.0}, Outcome.timed_out, 0),
    # Fixed once, then broken again and still broken: open, and the regression costs.
    ({"state": "regressed", "fix_kind": "revert", "fixed_at": at(minutes=2), "regressions": 1}, Outcome.open, -10),
    ({"state": "scheduled", "injected_at": None}, Outcome.scheduled, 0),
])
def test_outcomes_that_are_not_team_fixes(fields: dict[str, Any], outcome: Outcome, points: int) -> None:
    scored = score_instance(instance("t", "f", **fields))
    assert (scored.outcome, scored.points, scored.time_to_fix_s) == (outcome, points, None)


def test_ties_break_on_total_time_then_share_a_rank() -> None:
    instances = [
        instance("slow", "f1", state="fixed", fix_kind="forward-fix", time_to_fix_s=1200.0),  # 80 + 10
        instance("fast", "f1", state="fixed", fix_kind="revert", time_to_fix_s=600.0),        # 90
        instance("twin-b", "f1", state="fixed", fix_kind="revert", time_to_fix_s=3000.0),     # 50
        instance("twin-a", "f1", state="fixed", fix_kind="revert", time_to_fix_s=3000.0),     # 50
    ]
    board = scoreboard(instances)
    assert [(t.rank, t.team, t.score) for t in board] == [
        (1, "fast", 90), (2, "slow", 90), (3, "twin-a", 50), (3, "twin-b", 50),
    ]


def test_median_and_total_over_several_fixes() -> None:
    instances = [
        instance("t", "f1", state="fixed", fix_kind="revert", time_to_fix_s=60.0),
        instance("t", "f2", state="fixed", fix_kind="revert", time_to_fix_s=180.0),
        instance("t", "f3", state="fixed", fix_kind="forward-fix", time_to_fix_s=600.0),
        instance("t", "f4", state="timed-out"),
    ]
    [team] = scoreboard(instances)
    assert team.score == 99 + 97 + 90 + 10
    assert (team.total_time_to_fix_s, team.median_time_to_fix_s) == (840.0, 180.0)
    assert (team.fixed, team.timed_out) == (3, 1)


# --- formats -------------------------------------------------------------------------


def test_human_durations() -> None:
    assert [human_duration(s) for s in (None, 0, 45, 252, 750.4, 3600, 3723)] == [
        "—", "0s", "45s", "4m12s", "12m30s", "1h00m00s", "1h02m03s",
    ]


def test_markdown_scoreboard_and_timeline() -> None:
    text = render_markdown(game(), "PD Cup 2026", GENERATED)
    lines = text.splitlines()
    assert lines[0] == "# PD Cup 2026 — game-day report"
    assert "Generated 2026-12-05 16:00:00 UTC. All times UTC, 2026-12-05." in text
    header = lines.index("| Rank | Team | Score | Fixed | Timed out | Open | Regressions "
                         "| Median time to fix | Median first response |")
    assert lines[header + 2:header + 5] == [
        "| 1 | team-a | 96 | 1 | 0 | 0 | 0 | 4m12s | 1m30s |",
        "| 2 | team-b | 88 | 1 | 0 | 0 | 1 | 12m30s | 5m00s |",
        "| 3 | team-c | 0 | 0 | 1 | 1 | 0 | — | — |",
    ]
    assert ("| web-unreachable/service-selector | fixed | 14:00:00 | 14:04:12 | revert | Ana Lima (@ana) "
            "| [#7](<https://github.com/pd-cup/team-a/pull/7>) | 4m12s | 1m30s (ana) | 96 |") in lines
    assert ("| web-unreachable/service-selector | fixed (1 regression) | 14:00:00 | 14:12:30 | forward fix "
            "| \\<script\\>alert('x')\\</script\\> | — | 12m30s | 5m00s (\\<script\\>alert('x')\\</script\\>) | 88 |") in lines
    assert ("| web-unreachable/service-selector | fixed | 14:00:00 | 14:30:00 | bot revert (timed out) | faultbot "
            "| — | — | — | 0 |") in lines
    assert "| db-unreachable/db-host-typo | injected | — | — | — | — | — | — | — | 0 |" in lines
    # Sections follow the scoreboard order.
    assert text.index("### team-a") < text.index("### team-b") < text.index("### team-c")
    assert "<script>" not in text


def test_markdown_cells_cannot_break_the_table() -> None:
    assert md_escape("a|b\nc [x](y) `z`") == "a\\|b c \\[x\\](y) \\`z\\`"


def test_csv_has_one_row_per_instance_in_the_documented_columns() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(game()))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [(r["team"], r["fault"], r["outcome"], r["points"]) for r in rows] == [
        ("team-a", "web-unreachable/service-selector", "fixed", "96"),
        ("team-b", "web-unreachable/service-selector", "fixed", "88"),
        ("team-c", "web-unreachable/service-selector", "timed-out", "0"),
        ("team-c", "db-unreachable/db-host-typo", "open", "0"),
    ]
    a = rows[0]
    assert a["injected_at"] == "2026-12-05T14:00:00+00:00" and a["fixed_at"] == "2026-12-05T14:04:12+00:00"
    assert (a["fix_kind"], a["fixed_by"], a["fixed_by_login"], a["pr_number"]) == ("revert", "Ana Lima", "ana", "7")
    assert (a["time_to_fix_s"], a["first_response_s"], a["first_response_kind"]) == ("252.0", "90.0", "pull_request")
    assert "ana@example.com" not in render_csv(game())  # e-mails stay out of shared reports
    assert rows[3]["injected_at"] == "" and rows[3]["time_to_fix_s"] == ""


def test_csv_defuses_spreadsheet_formulas() -> None:
    hostile = instance("t", "f", state="fixed", fix_kind="revert", time_to_fix_s=60.0,
                       fixed_by={"name": '=HYPERLINK("http://evil","x")'})
    [row] = list(csv.DictReader(io.StringIO(render_csv([hostile]))))
    assert row["fixed_by"] == '\'=HYPERLINK("http://evil","x")'


def test_json_structure() -> None:
    instances = game()
    document = render_json(instances, "PD Cup 2026", GENERATED)
    assert list(document) == ["event", "generated_at", "rules", "scoreboard", "instances"]
    assert document["event"] == "PD Cup 2026" and document["generated_at"] == "2026-12-05T16:00:00+00:00"
    assert document["rules"]["version"] == "faultbot-score/1" and document["rules"]["forward_fix_bonus"] == 10
    assert document["instances"] == instances
    first = document["scoreboard"][0]
    assert {k: first[k] for k in ("rank", "team", "score", "fixed", "timed_out", "median_time_to_fix_s")} == {
        "rank": 1, "team": "team-a", "score": 96, "fixed": 1, "timed_out": 0, "median_time_to_fix_s": 252.0,
    }
    assert first["faults"][0] == {
        "team": "team-a", "fault": "web-unreachable/service-selector", "outcome": "fixed", "fix_kind": "revert",
        "time_to_fix_s": 252.0, "first_response_s": 90.0, "regressions": 0, "points": 96,
    }
    json.dumps(document)  # plain JSON types only


def test_html_is_self_contained_and_escaped() -> None:
    instances = game() + [instance(XSS, "f", state="fixed", fix_kind="revert", time_to_fix_s=60.0,
                                   pr={"number": 9, "url": "javascript:alert(1)"})]
    page = render_html(instances, "Cup <b>&</b>", GENERATED)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Cup &lt;b&gt;&amp;&lt;/b&gt;" in page
    assert "javascript:" not in page and ">#9<" in page  # shown, not linked
    assert '<a href="https://github.com/pd-cup/team-a/pull/7">#7</a>' in page
    for external in ("<link", "src=", "@import", "url("):
        assert external not in page
    # The scoreboard: team-a first.
    assert page.index("<td>team-a</td>") < page.index("<td>team-b</td>") < page.index("<td>team-c</td>")


def test_write_reports_writes_all_four(tmp_path: Path) -> None:
    paths = write_reports(game(), tmp_path / "out", "PD Cup 2026", GENERATED)
    assert [p.name for p in (paths.markdown, paths.json, paths.csv, paths.html)] == [
        "report.md", "report.json", "report.csv", "report.html",
    ]
    assert json.loads(paths.json.read_text(encoding="utf-8"))["scoreboard"][0]["team"] == "team-a"
    assert paths.markdown.read_text(encoding="utf-8").startswith("# PD Cup 2026")
    assert paths.csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_COLUMNS)
    assert paths.html.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_missing_extra_and_odd_fields_do_not_crash(tmp_path: Path) -> None:
    instances: list[dict[str, Any]] = [
        {"team": "t1", "fault": "f1"},
        {"team": "t1", "fault": "f2", "state": "fixed"},
        {"team": "t2", "fault": "f1", "state": "fixed", "fix_kind": "revert", "injected_at": "not a time",
         "fixed_at": "2026-12-05T14:03:00", "fixed_by": None, "pr": "oops", "first_response": {"at": None},
         "regressions": None, "shipped_at": "2026-12-05T14:00:40Z", "recovered_at": at(minutes=4),
         "time_to_recover_s": 240.0, "hints": [{"at": at(minutes=2), "text": "look at the Service"}]},
        {"team": "t3", "fault": "f1", "state": "injected", "injected_at": "2026-12-06T09:00:00+01:00"},
    ]
    paths = write_reports(instances, tmp_path, "odd", datetime(2026, 12, 6, 12, 0))  # naive: taken as UTC
    board = scoreboard(instances)
    assert [(t.team, t.score) for t in board] == [("t1", 10), ("t2", 10), ("t3", 0)]
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "All times UTC." in markdown and "2026-12-06 08:00:00" in markdown  # spans days: full dates
    rows = list(csv.DictReader(io.StringIO(paths.csv.read_text(encoding="utf-8"))))
    t2 = rows[2]
    assert (t2["injected_at"], t2["shipped_at"], t2["time_to_recover_s"]) == (
        "not a time", "2026-12-05T14:00:40+00:00", "240.0")
    assert json.loads(paths.json.read_text(encoding="utf-8"))["instances"][2]["hints"][0]["text"] == "look at the Service"
    assert render_markdown([], "empty", GENERATED).count("No faults were recorded") == 1
    assert "No faults were recorded." in render_html([], "empty", GENERATED)
