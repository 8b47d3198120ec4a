"""The report formats from FaultInstance values: Markdown, CSV, JSON, HTML and the pictures;
times in the event's zone, halted never called timed out, a bot revert always by faultbot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.game import events as ev
from bot.game.timeline import fold
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
from tests.instances import GENERATED, T0, XSS, at, game, instance

PARIS = ZoneInfo("Europe/Paris")


def test_human_durations() -> None:
    assert [human_duration(s) for s in (None, 0, 45, 252, 415, 750.4, 3600, 3723)] == [
        "—", "0s", "45s", "4m12s", "6m55s", "12m30s", "1h00m00s", "1h02m03s"]


def test_markdown_scoreboard_and_timeline_in_the_events_time_zone() -> None:
    text = render_markdown(game(), "PD Cup 2026", GENERATED, zone=PARIS)
    lines = text.splitlines()
    assert lines[0] == "# PD Cup 2026 — game-day report"
    assert "Generated 2026-12-05 17:00:00 Europe/Paris. All times Europe/Paris (UTC+01:00), 2026-12-05." in text
    header = lines.index("| Rank | Team | Score | Fixed | Timed out | Halted | Open | Regressions "
                         "| Median time to fix | Median first response | Median MTTA |")
    assert lines[header + 2:header + 6] == [
        "| 1 | team-a | 96 | 1 | 0 | 0 | 0 | 0 | 4m12s | 1m30s | 2m00s |",
        "| 2 | team-b | 88 | 1 | 0 | 0 | 0 | 1 | 12m30s | 5m00s | — |",
        "| 3 | team-c | 0 | 0 | 1 | 0 | 1 | 0 | — | — | — |",
        "| 3 | team-d | 0 | 0 | 0 | 1 | 0 | 0 | — | — | — |",
    ]
    assert ("| web-unreachable/service-selector | fixed | 15:00:00 | 15:04:12 | revert | Ana Lima (@ana) "
            "| [#7](<https://github.com/pd-cup/team-a/pull/7>) | 4m12s | 1m30s (ana) | 2m00s (Alice Ng) "
            "| 1 update, 1 note, first after 3m00s | 96 |") in lines
    assert ("| web-unreachable/service-selector | fixed (1 regression) | 15:00:00 | 15:12:30 | forward fix "
            "| \\<script\\>alert('x')\\</script\\> | — | 12m30s | 5m00s (\\<script\\>alert('x')\\</script\\>) "
            "| — | — | 88 |") in lines
    assert ("| web-unreachable/service-selector | timed-out | 15:00:00 | — | bot revert (time limit) | faultbot "
            "| — | — | — | — | — | 0 |") in lines
    assert ("| web-unreachable/service-selector | halted | 15:00:00 | — | bot revert (halted) | faultbot "
            "| — | — | — | — | — | 0 |") in lines
    assert "| db-unreachable/db-host-typo | injected | 15:33:00 | — | — | — | — | — | — | — | — | 0 |" in lines
    assert text.index("### team-a") < text.index("### team-b") < text.index("### team-c")
    assert "![Timeline of every team](timeline.png)" in lines
    assert "![Timeline of team-a](timeline-team-a.png)" in lines
    assert "<script>" not in text and "UTC." not in text


def test_markdown_cells_cannot_break_the_table() -> None:
    assert md_escape("a|b\nc [x](y) `z`") == "a\\|b c \\[x\\](y) \\`z\\`"


def test_csv_has_one_row_per_instance_in_the_documented_columns() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(game()))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [(r["team"], r["outcome"], r["points"], r["fixed_by"]) for r in rows] == [
        ("team-a", "fixed", "96", "Ana Lima"), ("team-b", "fixed", "88", XSS), ("team-c", "timed-out", "0", "faultbot"),
        ("team-c", "open", "0", ""), ("team-d", "halted", "0", "faultbot")]
    a = rows[0]
    assert a["injected_at"] == "2026-12-05T14:00:00+00:00" and a["fixed_at"] == "2026-12-05T14:04:12+00:00"
    assert (a["fix_kind"], a["fixed_by_login"], a["pr_number"]) == ("revert", "ana", "7")
    assert (a["time_to_fix_s"], a["first_response_s"], a["first_response_kind"]) == ("252.0", "90.0", "pull_request")
    assert (a["mtta_s"], a["acknowledged_by"], a["first_update_s"]) == ("120.0", "Alice Ng", "180.0")
    assert "ana@example.com" not in render_csv(game())  # e-mails stay out of shared reports


def test_csv_defuses_spreadsheet_formulas() -> None:
    hostile = instance("t", "f", "fixed", fix_kind="revert", ttf=60.0, fixed_by=ev.Who('=HYPERLINK("http://evil","x")'))
    [row] = list(csv.DictReader(io.StringIO(render_csv([hostile]))))
    assert row["fixed_by"] == '\'=HYPERLINK("http://evil","x")'


def test_json_keeps_the_status_json_shape() -> None:
    instances = game()
    document = render_json(instances, "PD Cup 2026", GENERATED, zone=PARIS)
    assert list(document) == ["event", "generated_at", "timezone", "rules", "scoreboard", "instances"]
    assert document["generated_at"] == "2026-12-05T16:00:00+00:00" and document["timezone"] == "Europe/Paris"
    assert document["instances"] == [i.as_json() for i in instances]
    first = document["scoreboard"][0]
    assert {k: first[k] for k in ("rank", "team", "score", "fixed", "timed_out", "halted", "median_mtta_s")} == {
        "rank": 1, "team": "team-a", "score": 96, "fixed": 1, "timed_out": 0, "halted": 0, "median_mtta_s": 120.0}
    assert document["scoreboard"][3]["halted"] == 1 and document["scoreboard"][3]["timed_out"] == 0
    assert document["instances"][2]["fixed_by"] == {"name": "faultbot"}
    json.dumps(document)  # plain JSON types only


def test_a_bot_revert_is_by_faultbot_in_the_folded_log_too() -> None:
    landed = ev.Event(1, T0, "t", "f", "bot", ev.Landed(sha="a" * 40, persona="Kenji Sato"))
    halted = ev.Event(2, at(minutes=3), "t", "f", "bot",
                      ev.Halted(reason="halt", revert_sha="b" * 40, fixed_by=ev.Who("Kenji Sato", "k@example.com")))
    [folded] = fold([landed, halted])
    assert (folded.state.value, folded.fix_kind, folded.as_json()["fixed_by"]) == ("halted", "bot-revert",
                                                                                 {"name": "faultbot"})
    assert folded.halted_at == at(minutes=3) and folded.closed_reason == "halt"


def test_html_is_self_contained_escaped_and_shows_the_pictures() -> None:
    instances = game() + [instance(XSS, "f", "fixed", fix_kind="revert", ttf=60.0,
                                   pr=ev.PullInfo(9, url="javascript:alert(1)"))]
    page = render_html(instances, "Cup <b>&</b>", GENERATED)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Cup &lt;b&gt;&amp;&lt;/b&gt;" in page
    assert "javascript:" not in page and ">#9<" in page  # shown, not linked
    assert '<a href="https://github.com/pd-cup/team-a/pull/7">#7</a>' in page
    sources = [chunk.split('"', 1)[0] for chunk in page.split(' src="')[1:]]
    assert len(sources) == 1 + 5 and all(s.startswith("data:image/png;base64,") for s in sources)
    for external in ("<link", "@import", "url("):
        assert external not in page
    assert page.index("<td>team-a</td>") < page.index("<td>team-b</td>") < page.index("<td>team-c</td>")
    assert "bot revert (halted)" in page and "bot revert (time limit)" in page


def test_write_reports_writes_every_format_and_the_pictures(tmp_path: Path) -> None:
    paths = write_reports(game(), tmp_path / "out", "PD Cup 2026", GENERATED, zone=PARIS)
    assert [p.name for p in (paths.markdown, paths.json, paths.csv, paths.html, paths.timeline)] == [
        "report.md", "report.json", "report.csv", "report.html", "timeline.png"]
    assert sorted(p.name for p in paths.team_timelines) == [f"timeline-team-{t}.png" for t in "abcd"]
    for picture in (paths.timeline, *paths.team_timelines):
        assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(paths.json.read_text(encoding="utf-8"))["scoreboard"][0]["team"] == "team-a"
    assert paths.csv.read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_COLUMNS)


def test_an_event_across_days_and_an_empty_one() -> None:
    spread = [instance("t1", "f1", "injected", injected_at=at(hours=20))] + game()[:1]
    markdown = render_markdown(spread, "odd", GENERATED)
    assert "All times UTC." in markdown and "2026-12-06 10:00:00" in markdown  # spans days: full dates
    assert render_markdown([], "empty", GENERATED).count("No faults were recorded") == 1
    assert "No faults were recorded." in render_html([], "empty", GENERATED)
