"""The timeline PNG shows what the data says: each incident a bar of its colour, where and
as long as its times put it, on its team's row; times in the event's zone; and the public
picture's labels never name an open fault."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from matplotlib import image

from bot.web.spectator import spectator_label
from bot.web.timeline_png import COLOURS, chart_for_event, chart_for_team, outcome_key, render
from tests.instances import GENERATED, at, game

PARIS = ZoneInfo("Europe/Paris")
FAMILIES = {"web-unreachable/service-selector": "web-unreachable", "db-unreachable/db-host-typo": "db-unreachable"}


def rgb(hex_colour: str) -> tuple[float, float, float]:
    return tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def pixels(png: bytes):  # type: ignore[no-untyped-def]
    return image.imread(io.BytesIO(png), format="png")


def test_every_incident_is_a_bar_of_its_outcomes_colour_on_its_teams_row() -> None:
    instances = game()
    chart = chart_for_event(instances, "PD Cup", GENERATED, PARIS, lambda i, n: str(n))
    drawn = render(chart)
    picture = pixels(drawn.png)
    assert picture.shape[:2] == (drawn.size[1], drawn.size[0])
    assert [b.outcome for b in chart.bars] == [outcome_key(i) for i in sorted(instances, key=lambda i: (i.team, i.injected_at))]
    assert {b.outcome for b in chart.bars} == {"revert", "forward-fix", "timed-out", "open", "halted"}
    for bar, (x0, y0, _x1, y1) in drawn.boxes:
        x, y = int(x0 + 3), int((y0 + y1) / 2)  # left of the centred label
        assert tuple(picture[y, x, :3]) == pytest.approx(rgb(COLOURS[bar.outcome]), abs=0.02), bar
    rows = {bar.row: (y0 + y1) / 2 for bar, (x0, y0, x1, y1) in drawn.boxes}
    assert sorted(rows, key=rows.__getitem__) == ["team-a", "team-b", "team-c", "team-d"]  # top to bottom


def test_bar_lengths_are_the_incidents_durations() -> None:
    instances = game()
    drawn = render(chart_for_event(instances, "PD Cup", GENERATED, PARIS, lambda i, n: str(n)))
    width = {bar.row + bar.label: x1 - x0 for bar, (x0, y0, x1, y1) in drawn.boxes}
    # team-a fixed after 4m12s, team-b after 12m30s, team-d halted at 20m, team-c timed out at 30m.
    assert width["team-b1"] / width["team-a1"] == pytest.approx(750 / 252, rel=0.03)
    assert width["team-c1"] / width["team-d1"] == pytest.approx(30 / 20, rel=0.03)
    starts = {bar.row + bar.label: x0 for bar, (x0, y0, x1, y1) in drawn.boxes}
    assert starts["team-c2"] - starts["team-c1"] == pytest.approx(width["team-a1"] * 33 * 60 / 252, rel=0.03)


def test_a_teams_picture_has_a_row_per_incident_and_markers_for_hints_acks_and_halts() -> None:
    instances = game()
    chart = chart_for_team(instances, "team-c", "team-c", GENERATED, PARIS, lambda i, n: f"{n} · {i.fault}")
    assert chart.rows == ("1 · web-unreachable/service-selector", "2 · db-unreachable/db-host-typo")
    assert [(m.kind, m.at) for m in chart.markers] == [("hint", at(minutes=10))]
    event = chart_for_event(instances, "PD Cup", GENERATED, PARIS, lambda i, n: str(n))
    assert sorted((m.row, m.kind) for m in event.markers) == [
        ("team-a", "ack"), ("team-c", "hint"), ("team-d", "halt")]
    assert event.zone_name == "Europe/Paris"
    assert render(chart).png.startswith(b"\x89PNG")


def test_the_public_pictures_labels_name_no_open_fault() -> None:
    label = spectator_label(FAMILIES)
    chart = chart_for_event(game(), "PD Cup", GENERATED, PARIS, label)
    labels = {bar.label for bar in chart.bars}
    assert labels == {"1 · web-unreachable", "2"}  # team-c's open incident 2: its number only
    assert not any("/" in text for text in labels | set(chart.rows))
