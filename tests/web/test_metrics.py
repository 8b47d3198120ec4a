"""/metrics numbers come from the spectator board: public labels, never a fault id."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.web.metrics import render_metrics
from bot.web.spectator import spectator_board
from tests.instances import GENERATED, game

FAMILIES = {"web-unreachable/service-selector": "web-unreachable", "db-unreachable/db-host-typo": "db-unreachable"}


def scrape() -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    board = spectator_board(game(), "PD Cup", GENERATED, planned={"team-c": 3}, families=FAMILIES)
    text = render_metrics(lambda: board, lambda: {"status": "ok", "errors": {"team-b": "boom"}}).decode()
    return text, {(s.name, tuple(sorted(s.labels.items()))): s.value
                  for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_reflect_the_board_and_health() -> None:
    _, found = scrape()
    assert found[("faultbot_incidents", (("state", "fixed"), ("team", "team-a")))] == 1
    assert found[("faultbot_incidents", (("state", "timed out"), ("team", "team-c")))] == 1
    assert found[("faultbot_incidents", (("state", "halted"), ("team", "team-d")))] == 1
    assert found[("faultbot_time_to_fix_seconds", (("how", "revert"), ("incident", "1"), ("team", "team-a")))] == 252
    assert found[("faultbot_time_to_acknowledge_seconds", (("incident", "1"), ("team", "team-a")))] == 120
    assert found[("faultbot_score", (("team", "team-a"),))] == 96
    assert found[("faultbot_up", ())] == 1
    assert found[("faultbot_team_errors", (("team", "team-b"),))] == 1


def test_no_label_names_a_fault() -> None:
    text, _ = scrape()
    for fault in FAMILIES:
        assert fault not in text
